"""A recorded call survives its gateway being killed with SIGKILL, and the recording loses no
audio: real `wingman serve` processes, the real speech engine, the demo call's real speech
(stereo 16 kHz, 16-bit), recordings in FLAC so the file can be compared sample for sample.

Life 1 records the first seconds, then is killed mid-call (no shutdown, nothing flushed by
hand). Life 2 starts on the same data directory; the client resumes the call and goes on from
where the server says it has the audio (`audio_seconds`), to the end. The finished recording is
exactly the audio the client sent, from 0 to the end: nothing missing at the crash, nothing
doubled where the client resent, and the transcript's times are the recording's times.

Also, a hop test of the recorder alone (milliseconds): a recorder that dies without closing
and a new one (a new process's service) resuming the same call from an earlier point.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest

from tests.integration.store_support import Clock, open_store, sqlite_url
from tests.security.support import Client, connect, eventually, wingman_serve
from wingman.demo import read_wav
from wingman.recordings.service import RecordingService
from wingman.settings import DATA_DIR

RATE = 16000
CHUNK_SECONDS = 0.1
FIRST_LIFE_SECONDS = 24.0  # streamed before the kill
CALL_SECONDS = 40.0


def _source() -> np.ndarray:
    frames, rate, channels = read_wav(DATA_DIR / "demo" / "sample_call.wav")
    assert (rate, channels) == (RATE, 2)
    return np.frombuffer(frames, dtype="<i2").reshape(-1, 2)[: int(CALL_SECONDS * RATE)]


def _flac_samples(body: bytes) -> np.ndarray:
    with av.open(io.BytesIO(body)) as f:
        return np.concatenate([fr.to_ndarray().reshape(-1) for fr in f.decode(audio=0)])


async def _send(client: Client, pcm: np.ndarray, start: float, end: float, *, pace: float) -> None:
    step = int(CHUNK_SECONDS * RATE)
    for i, at in enumerate(range(int(round(start * RATE)), int(round(end * RATE)), step)):
        await client.emit("audio-chunk", pcm[at: min(at + step, int(end * RATE))].tobytes())
        if pace and i % 5 == 4:
            await asyncio.sleep(pace * 5 * CHUNK_SECONDS)


START = {"title": "recorded, then killed", "sample_rate": RATE, "encoding": "s16le", "channels": 2}


@pytest.mark.slow
def test_kill_9_mid_call_loses_no_recorded_audio(tmp_path: Path) -> None:
    source = _source()
    env = {"WINGMAN_AUTH": "local", "WINGMAN_RECORDING_CODEC": "flac", "WINGMAN_AGENTS_IN_PROCESS": "false",
           "WINGMAN_DIARIZE": "false"}
    data = tmp_path / "data"

    async def first_life(url: str) -> str:
        async with httpx.AsyncClient() as http:
            choice = {"enabled": True, "consent_confirmed": True}
            r = await http.put(f"{url}/api/recordings/settings", json=choice)
        assert r.status_code == 200, r.text
        client = await connect(url)
        ack = await client.call("start-call", START)
        # at about twice real time; then wait until some of it is saved as transcript
        await _send(client, source, 0.0, FIRST_LIFE_SECONDS, pace=0.5)
        await eventually(lambda: len(client.finals) >= 2, timeout=120, what="two finals before the kill")
        return str(ack["call_id"])

    with wingman_serve(data, env=env) as proc:
        call_id = asyncio.run(first_life(proc.url))
        proc.kill9()
    raw = list((data / "recordings").rglob(f"{call_id}.raw"))
    assert raw and raw[0].stat().st_size > 0, "nothing was recorded before the kill"

    async def second_life(url: str) -> tuple[float, dict[str, Any]]:
        client = await connect(url)
        ack = await client.call("start-call", {**START, "call_id": call_id})
        assert ack.get("call_id") == call_id, ack
        resumed_at = float(ack["audio_seconds"])
        assert 0 < resumed_at <= FIRST_LIFE_SECONDS
        await _send(client, source, resumed_at, CALL_SECONDS, pace=0.5)
        await client.call("end-call", {"call_id": call_id}, timeout=120)
        await client.disconnect()
        deadline = time.monotonic() + 60
        while True:
            async with httpx.AsyncClient(timeout=30) as http:
                body: dict[str, Any] = (await http.get(f"{url}/api/calls/{call_id}/recording")).json()
            if body["status"] == "ready" or time.monotonic() > deadline:
                return resumed_at, body
            await asyncio.sleep(0.5)

    with wingman_serve(data, env=env) as proc:
        resumed_at, body = asyncio.run(second_life(proc.url))
        assert body["status"] == "ready" and body["media_type"] == "audio/flac", body
        audio = httpx.get(f"{proc.url}{body['url']}", headers={"Range": "bytes=0-"}, timeout=30)
        assert audio.status_code == 206
        detail = httpx.get(f"{proc.url}/api/calls/{call_id}", timeout=30).json()
    samples = _flac_samples(audio.content)
    expected = source.reshape(-1)
    assert len(samples) == len(expected), f"{len(samples) / 2 / RATE:.3f} s recorded of {CALL_SECONDS} s"
    assert np.array_equal(samples, expected), "the recording differs from the audio sent"
    assert body["seconds"] == CALL_SECONDS
    ends = [seg["end"] for seg in detail["transcript"]]
    assert ends and max(ends) <= CALL_SECONDS + 0.5 and any(e > resumed_at for e in ends)
    print(f"kill -9 at {FIRST_LIFE_SECONDS:.0f} s sent, resumed at {resumed_at:.2f} s: "
          f"{CALL_SECONDS:.0f} s recorded, every sample as sent")


async def test_a_recorder_that_died_is_resumed_from_an_earlier_point_without_a_gap(tmp_path: Path) -> None:
    source = _source()[: 8 * RATE]
    step = int(CHUNK_SECONDS * RATE)

    def frames(start: float, end: float) -> list[tuple[float, np.ndarray]]:
        return [(at / RATE, (source[at: at + step].astype(np.float32) / np.float32(32768.0)))
                for at in range(int(start * RATE), int(end * RATE), step)]

    clock = Clock()
    async for store in open_store(sqlite_url(tmp_path), clock):
        root = tmp_path / "recordings"
        user = await store.create_user(email="ria@acme.test", name="Ria", password_hash="x")
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="t")
        first = RecordingService(store=store, root=root, secret="s" * 40, codec="flac", clock=clock)
        await first.save_settings(workspace_id=user.workspace_id, enabled=True, retention_days=None,
                                  updated_by=user.id)
        dying = first.recorder(call_id=call.id, workspace_id=user.workspace_id, user_id=user.id, channels=2)
        for at, pcm in frames(0, 6):  # the first frames wait while the choice is looked up
            dying.write(pcm, at=at)
        await first.wait_decided()
        # the process dies here: no close, no sync; a new process's service resumes the call at
        # its last saved segment (3.2 s) and the client resends from there
        second = RecordingService(store=store, root=root, secret="s" * 40, codec="flac", clock=clock)
        assert second.node == first.node  # the same disk: the new process finishes it
        resumed = second.recorder(call_id=call.id, workspace_id=user.workspace_id, user_id=user.id,
                                  channels=2)
        await second.wait_decided()
        for at, pcm in frames(3.2, 8):
            resumed.write(pcm, at=at)
        resumed.close()
        await store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                                full_transcript="", summary="")
        (ended,) = await second.repo.ended(node=second.node)
        done = await second.finish(ended)
        assert done.status == "ready" and done.seconds == 8.0
        samples = _flac_samples(second.file_of(done).read_bytes())
        assert np.array_equal(samples, source.reshape(-1))
