"""Call recordings through the REST API on SQLite and PostgreSQL, with real speech audio (the
demo call, stereo 16 kHz) recorded frame by frame the way the pipeline hands it over:

- opt-in per workspace: nothing is recorded until an admin turns it on, and turning it on
  needs the consent confirmation; only admins change it;
- the finished file is FLAC (lossless, so the test compares it sample for sample with the
  source) or Ogg/Opus (the default: played and measured by length), served with HTTP Range
  requests behind a signed, expiring link;
- access follows the call's visibility (rep: own; manager: their reps'; admin: all; another
  workspace: 404); deletion by an admin or the call's rep; retention and deleting the call
  remove the files.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tests.integration.api_support import acme_team
from tests.integration.store_support import Clock, open_store
from wingman.api import recordings as recordings_api
from wingman.auth import Auth
from wingman.demo import read_wav
from wingman.recordings.codec import Codec
from wingman.recordings.service import RecordingService
from wingman.settings import DATA_DIR, Settings
from wingman.store.records import UserRecord
from wingman.store.repos import Store

SPEECH_SECONDS = 6.0
CHUNK = 1600  # 100 ms at 16 kHz, as the pipeline hands frames over


def speech() -> np.ndarray:
    """The first seconds of the demo call: (frames, 2) int16, rep and customer."""
    frames, rate, channels = read_wav(DATA_DIR / "demo" / "sample_call.wav")
    assert (rate, channels) == (16000, 2)
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, 2)
    return pcm[: int(SPEECH_SECONDS * rate)]


def as_float(pcm: np.ndarray) -> np.ndarray:
    return (pcm.astype(np.float32) / np.float32(32768.0)).astype(np.float32)  # audio/pcm.py's decoding


def decoded(body: bytes) -> tuple[np.ndarray, int]:
    """Every sample of an audio file (int16, interleaved) and its sample rate."""
    with av.open(io.BytesIO(body)) as f:
        stream = f.streams.audio[0]
        frames = [fr.to_ndarray().reshape(-1) for fr in f.decode(stream)]
        return np.concatenate(frames), stream.codec_context.sample_rate


@dataclass
class World:
    http: httpx.AsyncClient
    store: Store
    service: RecordingService
    clock: Clock
    admin: UserRecord
    manager: UserRecord
    rep: UserRecord  # reports to the manager
    other_rep: UserRecord
    outsider: UserRecord  # another workspace's admin

    def auth(self, user: UserRecord) -> dict[str, str]:
        return self._tokens[user.id]

    _tokens: dict[str, dict[str, str]]


async def _world(db_url: str, tmp_path: Path, codec: Codec) -> AsyncIterator[World]:
    clock = Clock()
    async for store in open_store(db_url, clock):
        settings = Settings(data_dir=tmp_path / "data", auth="required")
        auth = Auth(store=store, settings=settings)
        service = RecordingService(store=store, root=tmp_path / "data" / "recordings",
                                   secret="s" * 40, codec=codec, clock=clock)
        app = FastAPI()
        app.include_router(recordings_api.router)
        app.state.container = type("C", (), {"settings": settings, "store": store, "auth": auth,
                                             "recordings": service})()
        t = await acme_team(store, auth)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wingman.test") as http:
            yield World(http, store, service, clock, t.admin, t.manager, t.rep, t.other_rep, t.outsider,
                        t.tokens)


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async for w in _world(db_url, tmp_path, "flac"):
        yield w


async def _enable(w: World, retention_days: int | None = None) -> None:
    r = await w.http.put("/api/recordings/settings", headers=w.auth(w.admin),
                         json={"enabled": True, "consent_confirmed": True, "retention_days": retention_days})
    assert r.status_code == 200 and r.json()["enabled"] is True, r.text


async def _recorded_call(w: World, user: UserRecord, pcm: np.ndarray) -> str:
    """A call of `user` whose audio went through a recorder in 100 ms frames, then ended."""
    call = await w.store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="demo")
    rec = w.service.recorder(call_id=call.id, workspace_id=user.workspace_id, user_id=user.id, channels=2)
    for start in range(0, len(pcm), CHUNK):
        rec.write(as_float(pcm[start: start + CHUNK]), at=start / 16000)
    await w.service.wait_decided()
    rec.close()
    await w.store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                              full_transcript="", summary="")
    return call.id


async def test_recording_is_opt_in_with_consent_and_admins_decide(world: World) -> None:
    w = world
    r = await w.http.get("/api/recordings/settings", headers=w.auth(w.rep))
    assert r.json() | {"updated_at": None} == {
        "enabled": False, "retention_days": None, "codec": "flac", "can_manage": False, "updated_at": None
    }
    call_id = await _recorded_call(w, w.rep, speech())  # before anyone opted in
    r = await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.rep))
    assert r.json()["status"] == "not_recorded" and not list(w.service.root.rglob("*.raw"))
    for who in (w.rep, w.manager):
        r = await w.http.put("/api/recordings/settings", headers=w.auth(who),
                             json={"enabled": True, "consent_confirmed": True})
        assert r.status_code == 403
        assert r.json()["detail"] == "only a workspace admin can change call recording"
    r = await w.http.put("/api/recordings/settings", headers=w.auth(w.admin), json={"enabled": True})
    assert r.status_code == 422 and "told it is recorded" in r.json()["detail"]
    r = await w.http.put("/api/recordings/settings", headers=w.auth(w.admin),
                         json={"enabled": True, "consent_confirmed": True, "retention_days": 0})
    assert r.status_code == 422
    await _enable(w, retention_days=30)
    mine = (await w.http.get("/api/recordings/settings", headers=w.auth(w.admin))).json()
    assert (mine["enabled"], mine["retention_days"], mine["can_manage"]) == (True, 30, True)
    theirs = (await w.http.get("/api/recordings/settings", headers=w.auth(w.outsider))).json()
    assert theirs["enabled"] is False  # another workspace's choice is its own


async def test_a_recorded_call_plays_back_with_range_requests_sample_for_sample(world: World) -> None:
    w = world
    await _enable(w)
    source = speech()
    call_id = await _recorded_call(w, w.rep, source)
    r = await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.rep))
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ready", body
    assert body["media_type"] == "audio/flac" and body["seconds"] == SPEECH_SECONDS and body["can_delete"]
    assert not list(w.service.root.rglob("*.raw")), "the raw audio stays once finished"
    url = body["url"]
    whole = await w.http.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/flac" and len(whole.content) == body["size_bytes"]
    samples, rate = decoded(whole.content)
    assert rate == 16000 and np.array_equal(samples, source.reshape(-1)), "not the audio that was heard"
    size = len(whole.content)
    first = await w.http.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.headers["content-range"] == f"bytes 0-99/{size}"
    assert first.content == whole.content[:100]
    middle = await w.http.get(url, headers={"Range": f"bytes={size // 2}-"})
    assert middle.status_code == 206 and middle.content == whole.content[size // 2:]
    tail = await w.http.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == whole.content[-500:]
    beyond = await w.http.get(url, headers={"Range": f"bytes={size + 10}-{size + 20}"})
    assert beyond.status_code == 416
    # the link is the credential: tampered, for another call, or expired links are refused
    assert (await w.http.get(url[:-4] + "AAAA")).status_code == 403
    other_call = await _recorded_call(w, w.other_rep, source[:16000])
    assert (await w.http.get(url.replace(call_id, other_call))).status_code == 403
    old_link, _ = w.service.link(await w.service.repo.get(workspace_id=w.admin.workspace_id, call_id=call_id)
                                 or pytest.fail("no row"), now=0)
    assert (await w.http.get(old_link)).status_code == 403


async def test_who_may_listen_and_who_may_delete(world: World) -> None:
    w = world
    await _enable(w)
    call_id = await _recorded_call(w, w.rep, speech()[:32000])
    expected_status = ((w.rep, 200), (w.manager, 200), (w.admin, 200), (w.other_rep, 404), (w.outsider, 404))
    for who, expected in expected_status:
        r = await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(who))
        assert r.status_code == expected, (who.name, r.text)
    manager_view = (await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.manager))).json()
    assert manager_view["status"] == "ready" and manager_view["can_delete"] is False
    r = await w.http.delete(f"/api/calls/{call_id}/recording", headers=w.auth(w.manager))
    assert r.status_code == 403 and "the rep whose call it is" in r.json()["detail"]
    route = f"/api/calls/{call_id}/recording"
    assert (await w.http.delete(route, headers=w.auth(w.other_rep))).status_code == 404
    url = manager_view["url"]
    r = await w.http.delete(f"/api/calls/{call_id}/recording", headers=w.auth(w.rep))
    assert r.status_code == 204
    assert not [p for p in w.service.root.rglob("*") if p.suffix in (".flac", ".raw")]
    gone = (await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.admin))).json()
    assert (gone["status"], gone["deleted_reason"], gone["url"]) == ("deleted", "deleted", None)
    assert (await w.http.get(url)).status_code == 404
    assert (await w.http.delete(route, headers=w.auth(w.admin))).status_code == 404


async def test_retention_and_deleting_the_call_remove_the_audio(world: World) -> None:
    w = world
    await _enable(w, retention_days=7)
    old = await _recorded_call(w, w.rep, speech()[:16000])
    w.clock.advance(days=5)
    recent = await _recorded_call(w, w.rep, speech()[:16000])
    for call_id in (old, recent):
        got = await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.rep))
        assert got.json()["status"] == "ready"
    latest = await w.http.get(f"/api/calls/{recent}/recording", headers=w.auth(w.rep))
    deletes_at = latest.json()["deletes_at"]
    assert deletes_at.startswith((w.clock() + timedelta(days=7)).date().isoformat())
    w.clock.advance(days=3)  # the first is 8 days old, the second 3
    assert await w.service.sweep() == 1
    first = (await w.http.get(f"/api/calls/{old}/recording", headers=w.auth(w.rep))).json()
    assert (first["status"], first["deleted_reason"]) == ("deleted", "retention")
    assert [p.stem for p in w.service.root.rglob("*.flac")] == [recent]
    # the call itself deleted (the product's call retention): its recording goes with it
    assert await w.store.purge_calls_before(cutoff=w.clock()) == 2
    assert await w.service.sweep() == 2
    assert not list(w.service.root.rglob("*.flac"))
    assert await w.service.repo.get(workspace_id=w.admin.workspace_id, call_id=recent) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_default_codec_is_ogg_opus(db_url: str, tmp_path: Path) -> None:
    async for w in _world(db_url, tmp_path, "opus"):
        await _enable(w)
        call_id = await _recorded_call(w, w.rep, speech())
        body = (await w.http.get(f"/api/calls/{call_id}/recording", headers=w.auth(w.rep))).json()
        assert body["status"] == "ready" and body["media_type"] == "audio/ogg"
        raw_bytes = SPEECH_SECONDS * 16000 * 2 * 2
        assert body["size_bytes"] < raw_bytes / 8, "Opus should be far smaller than the raw audio"
        audio = await w.http.get(body["url"])
        samples, rate = decoded(audio.content)
        # the decoder gives 48 kHz stereo; Opus's pre-skip is dropped: the length is the call's
        assert rate == 48000 and abs(len(samples) / 2 / rate - SPEECH_SECONDS) < 0.03
        heard = np.sqrt(np.mean(samples.astype(np.float64) ** 2))  # float samples in [-1, 1]
        spoken = np.sqrt(np.mean((speech().astype(np.float64) / 32768) ** 2))
        assert 0.8 < heard / spoken < 1.25, (heard, spoken)
