"""Nothing lost: a kill -9 keeps every final the client saw; a client that drops and comes back
resumes its call with no gap and no duplicate; end-call is idempotent; calls abandoned without
end-call are finalized by a timeout, and calls a crashed node left open by a start-up sweep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.security.support import (
    Client,
    call_detail,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
    wingman_serve,
)
from wingman.demo import read_wav
from wingman.events import TranscriptFragment, utcnow
from wingman.settings import DATA_DIR
from wingman.store.records import Viewer
from wingman.store.repos import Store

DEMO_WAV = DATA_DIR / "demo" / "sample_call.wav"
LINES = [f"line number {n} of the call" for n in range(1, 7)]  # line k: 0.5+1.5k .. 1.5+1.5k s


# -- kill -9 -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_kill_9_mid_call_keeps_every_final_the_client_saw(tmp_path: Path) -> None:
    """`wingman serve` (real speech engine, SQLite) is killed with SIGKILL while audio streams;
    after a restart the database has every segment the client had received as final, and the
    client resumes the call on the new process."""
    frames, rate, channels = read_wav(DEMO_WAV)
    env = {"WINGMAN_AUTH": "local", "WINGMAN_AGENTS_IN_PROCESS": "false"}
    chunk = int(rate * 0.1) * channels * 2
    seen: list[dict[str, Any]] = []

    async def first_life(url: str, kill: Callable[[], None]) -> tuple[str, int]:
        client = await connect(url)
        record = client.sio.handlers["/"]["transcript"]

        async def kill_on_third_final(data: Any = None) -> None:
            await record(data)
            if len(client.finals) == 3:
                kill()  # at once: the third final's write gets no grace period

        client.sio.on("transcript", kill_on_third_final)
        ack = await client.call("start-call", {"title": "crash test", "sample_rate": rate,
                                               "encoding": "s16le", "channels": channels})
        call_id = ack["call_id"]
        sent = 0
        started = time.monotonic()
        for i, offset in enumerate(range(0, len(frames), chunk)):
            if len(client.finals) >= 3:
                break  # killed while audio was still streaming in
            await client.emit("audio-chunk", frames[offset: offset + chunk])
            sent = offset + chunk
            await asyncio.sleep(max(0.0, started + (i + 1) * 0.1 / 1.5 - time.monotonic()))
        seen.extend(client.finals)
        return call_id, sent

    with wingman_serve(tmp_path / "data", env=env) as proc:
        call_id, sent = asyncio.run(first_life(proc.url, proc.kill9))
    assert len(seen) >= 3, "the speech engine produced too few finals to test anything"

    async def second_life(url: str) -> tuple[dict[str, Any], Client]:
        client = await connect(url)
        ack = await client.call("start-call", {"title": "crash test", "call_id": call_id, "sample_rate": rate,
                                               "encoding": "s16le", "channels": channels})
        assert ack["call_id"] == call_id
        for offset in range(sent, min(len(frames), sent + 30 * chunk), chunk):
            await client.emit("audio-chunk", frames[offset: offset + chunk])
            await asyncio.sleep(0.05)
        ended: dict[str, Any] = await client.call("end-call", {}, timeout=120)
        await client.disconnect()
        return ended, client

    with wingman_serve(tmp_path / "data", env=env) as proc:
        saved = call_detail(proc.url, call_id)
        assert saved["end_time"] is None  # still open: the client may come back
        by_id = {seg["id"]: seg for seg in saved["transcript"]}
        for final in seen:
            assert final["id"] in by_id, f"final {final['text']!r} was shown but not saved"
            assert by_id[final["id"]]["text"] == final["text"]
        ended, _ = asyncio.run(second_life(proc.url))
        assert ended["call_id"] == call_id
        after = call_detail(proc.url, call_id)
        ids = [seg["id"] for seg in after["transcript"]]
        assert len(ids) == len(set(ids)) and set(by_id) <= set(ids)
        last_before = max(seg["end"] for seg in saved["transcript"])
        newer = [seg for seg in after["transcript"] if seg["id"] not in by_id]
        assert all(seg["start"] >= last_before - 0.05 for seg in newer), (last_before, newer)
        assert after["end_time"] is not None


# -- reconnect and resume ---------------------------------------------------------------------


async def test_a_client_that_drops_resumes_its_call_with_no_gap_or_duplicate(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        user = register(server.url, "resumer")
        first = await connect(server.url, user.token)
        ack = await first.call("start-call", {"title": "flaky wifi"})
        call_id = ack["call_id"]
        await stream(first, 0.0, 5.3)  # stops in the middle of line 4 (5.0 .. 6.0 s)
        await eventually(lambda: len(first.finals) == 3, what="three finals")
        await first.sio.eio.disconnect(abort=True)  # the network drops: no goodbye
        await asyncio.sleep(0.2)
        second = await connect(server.url, user.token)
        ack = await second.call("start-call", {"title": "flaky wifi", "call_id": call_id})
        assert ack["call_id"] == call_id
        await stream(second, 5.3, 9.6)
        ended = await second.call("end-call", {}, timeout=60)
        await second.disconnect()
        assert ended["call_id"] == call_id
        detail = call_detail(server.url, call_id, user.headers)
        stt = server.container.stt
        errors = [e for s in getattr(stt, "streams", []) for e in s.errors]
    texts = [seg["text"] for seg in detail["transcript"]]
    assert texts == LINES, texts  # every line once, in order: no gap, no duplicate
    shown = [f["text"] for f in first.finals + second.finals]
    assert shown == LINES
    assert not errors, errors  # the speech engine got every audio frame exactly once


# -- end-call ------------------------------------------------------------------------------------


async def test_end_call_is_idempotent(tmp_path: Path) -> None:
    with serve(quiet_settings(tmp_path), container_factory=scripted(script_of(LINES))) as server:
        user = register(server.url, "ender")
        a, b = await connect(server.url, user.token), await connect(server.url, user.token)
        try:
            call_id = (await a.call("start-call", {"title": "ending"}))["call_id"]
            assert (await b.call("start-call", {"title": "ending", "call_id": call_id}))["call_id"] == call_id
            await stream(a, 0.0, 3.3)
            await eventually(lambda: len(a.finals) == 2, what="finals")
            together = await asyncio.gather(a.call("end-call", {}, timeout=60),
                                            b.call("end-call", {}, timeout=60))
            assert together[0] == together[1] and together[0]["call_id"] == call_id
            first = call_detail(server.url, call_id, user.headers)
            again = await a.call("end-call", {"call_id": call_id}, timeout=60)
            later = await connect(server.url, user.token)  # a new socket, no call in its session
            from_elsewhere = await later.call("end-call", {"call_id": call_id}, timeout=60)
            await later.disconnect()
            assert again == together[0] == from_elsewhere
            second = call_detail(server.url, call_id, user.headers)
            assert second["end_time"] == first["end_time"]  # finished once, not re-finished
            assert second["summary"] == first["summary"]
            assert [s["id"] for s in second["transcript"]] == [s["id"] for s in first["transcript"]]
            ack = await a.call("start-call", {"title": "again", "call_id": call_id})
            assert ack["error"]["code"] == "call_ended"
        finally:
            await a.disconnect()
            await b.disconnect()


# -- abandoned and orphaned calls --------------------------------------------------------------


async def test_an_abandoned_call_is_finalized_after_the_timeout(tmp_path: Path) -> None:
    # the timeout outlasts the (faster than real time) audio, so wall time and audio time differ
    settings = quiet_settings(tmp_path, abandon_call_seconds=3.0)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        user = register(server.url, "leaver")
        client = await connect(server.url, user.token)
        gone = (await client.call("start-call", {"title": "walked away"}))["call_id"]
        await stream(client, 0.0, 1.8)
        await eventually(lambda: len(client.finals) == 1, what="a final")
        await client.disconnect()
        # another call whose client comes back within the timeout stays open
        back = await connect(server.url, user.token)
        kept = (await back.call("start-call", {"title": "came back"}))["call_id"]
        await back.sio.eio.disconnect(abort=True)
        await asyncio.sleep(0.4)
        back = await connect(server.url, user.token)
        assert (await back.call("start-call", {"title": "came back", "call_id": kept}))["call_id"] == kept

        async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
            async def ended(call_id: str) -> bool:
                return bool((await http.get(f"/api/calls/{call_id}")).json()["end_time"])

            deadline = time.monotonic() + 15
            while not await ended(gone):
                assert time.monotonic() < deadline, "the abandoned call was never finalized"
                await asyncio.sleep(0.1)
            detail = (await http.get(f"/api/calls/{gone}")).json()
            assert detail["summary"] and [s["text"] for s in detail["transcript"]] == LINES[:1]
            # its length is the 1.8 s of audio, not the wall time up to the abandon timeout
            assert detail["duration_seconds"] == pytest.approx(1.8, abs=0.05)
            await asyncio.sleep(1.5)
            assert not await ended(kept)  # attached: never reaped
        await back.call("end-call", {}, timeout=60)
        await back.disconnect()


async def test_start_up_sweep_finalizes_calls_a_crashed_node_left_open(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, orphan_call_seconds=600)
    store = Store(url=settings.effective_database_url, clock=lambda: utcnow() - timedelta(hours=2))
    await store.migrate()
    try:
        user = await store.create_user(email="crash@example.com", name="c", password_hash=None)
        orphan = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title="left open by a dead node")
        fresh = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title="live on another node")
        for call, seconds in ((orphan, 2.0), (fresh, 2.0)):
            await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                    fragment=TranscriptFragment(
                call_id=call.id, text=f"said in {call.title}", is_final=True, start=0.0, end=seconds))
        # the orphan's last words are two hours old; the other call spoke a minute ago
        async with store._write(user.id) as s:  # test-only backdating
            await s.execute(text("UPDATE transcript_segments SET created_at = :t WHERE call_session_id = :c"),
                            {"t": utcnow() - timedelta(hours=2), "c": orphan.id})
            await s.execute(text("UPDATE transcript_segments SET created_at = :t WHERE call_session_id = :c"),
                            {"t": utcnow() - timedelta(minutes=1), "c": fresh.id})
    finally:
        await store.aclose()
    with serve(settings, container_factory=scripted(script_of(LINES))):
        store = Store(url=settings.effective_database_url)
        try:
            deadline = time.monotonic() + 20
            while (found := await store.get_call(viewer=Viewer.own(user),
                    call_id=orphan.id)) and not found.end_time:
                assert time.monotonic() < deadline, "the orphaned call was never finalized"
                await asyncio.sleep(0.1)
            detail = await store.call_detail(viewer=Viewer.own(user), call_id=orphan.id)
            assert detail is not None and detail.summary and "said in" in (detail.full_transcript or "")
            still = await store.get_call(viewer=Viewer.own(user), call_id=fresh.id)
            assert still is not None and still.end_time is None
        finally:
            await store.aclose()
