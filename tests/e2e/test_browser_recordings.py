"""Browser end to end for call recordings: real Chromium on the built web app against the real
server and its real speech engine. An admin turns recording on in Settings (consent confirmed,
a retention period); a call of real speech (the demo call, stereo) streams over Socket.IO and
ends; its call page plays the recording (Ogg/Opus, fetched by Chromium's player with HTTP
Range requests from the signed link), clicking a transcript line plays the call from that line
and marks it, and the rep deletes the recording. A live call started in the browser once
recording is on shows "this call is recorded"."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, Response, expect

from tests.e2e.conftest import shot
from tests.security.support import connect, eventually
from tests.server import running_server
from wingman.demo import read_wav
from wingman.settings import DATA_DIR, Settings

pytestmark = pytest.mark.browser
CALL_SECONDS = 14.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-recordings"), web_dist=web_dist,
                        host="127.0.0.1", auth="local", sample_knowledge=False, agents_in_process=False)
    with running_server(settings) as url:
        yield url


def recorded_call(url: str) -> str:
    """A call of real speech streamed like the web app does (stereo 16-bit, 100 ms chunks)."""
    frames, rate, channels = read_wav(DATA_DIR / "demo" / "sample_call.wav")
    pcm = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)[: int(CALL_SECONDS * rate)]

    async def main() -> str:
        client = await connect(url)
        try:
            ack = await client.call("start-call", {"title": "Recorded demo", "sample_rate": rate,
                                                   "encoding": "s16le", "channels": channels})
            step = rate // 10
            for i, at in enumerate(range(0, len(pcm), step)):
                await client.emit("audio-chunk", pcm[at: at + step].tobytes())
                if i % 5 == 4:
                    await asyncio.sleep(0.25)  # about twice real time
            await eventually(lambda: len(client.finals) >= 3, timeout=120, what="three finals")
            await client.call("end-call", {"call_id": ack["call_id"]}, timeout=120)
            return str(ack["call_id"])
        finally:
            await client.disconnect()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        return pool.submit(asyncio.run, main()).result()


def test_recording_opt_in_playback_synced_with_the_transcript_and_delete(page: Page, server: str) -> None:
    page.goto(f"{server}/settings")
    page.get_by_role("checkbox", name="Record calls").check()
    save = page.get_by_role("button", name="Save")
    expect(save).to_be_disabled()  # consent first
    page.get_by_role("checkbox", name="told that it is recorded").check()
    page.get_by_role("spinbutton", name="Retention in days").fill("30")
    save.click()
    expect(page.get_by_role("checkbox", name="Record calls")).to_be_checked()
    page.wait_for_load_state("networkidle")
    shot(page, "recordings-01-settings")

    # a live call of this workspace says it is recorded (Chromium's fake microphone)
    page.goto(f"{server}/live")
    page.get_by_role("button", name="Start call").click()
    expect(page.get_by_test_id("recorded-notice")).to_have_text(
        "This call is recorded and kept 30 days: tell everyone on the call.")
    shot(page, "recordings-01b-live-notice")
    page.get_by_role("button", name="End call").click()
    expect(page.get_by_role("button", name="New call").first).to_be_visible(timeout=180_000)
    expect(page.get_by_test_id("recorded-notice")).to_have_count(0)

    call_id = recorded_call(server)
    media: list[Response] = []
    page.on("response", lambda r: media.append(r) if "/audio?token=" in r.url else None)
    page.goto(f"{server}/calls/{call_id}")
    audio = page.get_by_test_id("recording-audio")
    expect(audio).to_be_visible()
    page.wait_for_function("document.querySelector('[data-testid=recording-audio]').readyState >= 1")
    duration = audio.evaluate("a => a.duration")
    assert abs(duration - CALL_SECONDS) < 0.2, duration
    expect(page.get_by_text("Deleted automatically on")).to_be_visible()

    lines = page.locator("li[id^='seg-']")
    expect(lines.nth(2)).to_be_visible()
    target = lines.nth(2)
    start: Any = page.evaluate(
        "id => fetch(`/api/calls/${id}`).then(r => r.json()).then(c => c.transcript[2].start)", call_id
    )
    target.click()
    expect(target).to_have_attribute("aria-current", "true")
    # the player jumped to that line and plays from there
    page.wait_for_function(
        "s => { const a = document.querySelector('[data-testid=recording-audio]');"
        " return !a.paused && a.currentTime >= s && a.currentTime < s + 3; }", arg=start)
    expect(page.get_by_test_id("recording-now")).to_contain_text(target.locator("p").inner_text())
    assert any(r.status == 206 for r in media), [r.status for r in media]  # Range requests
    shot(page, "recordings-02-playing")

    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete the recording").click()
    expect(page.get_by_test_id("recording-status")).to_have_text("The recording was deleted.")
    expect(page.get_by_test_id("recording-audio")).to_have_count(0)
    shot(page, "recordings-03-deleted")
