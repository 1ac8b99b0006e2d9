"""`wingman demo` survives a server restart mid-call: it reconnects, resumes the same call and
goes on streaming from where the server says it has the audio, printing every line once."""

from __future__ import annotations

import asyncio
import io
import wave
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
from rich.console import Console

from tests.fakes.scripted_audio import BLOCK, SR
from tests.fakes.scripted_stt import ScriptedStt
from tests.security.support import eventually, quiet_settings, register, script_of, scripted
from tests.server import serving
from tests.services import free_port
from wingman.app import create_app
from wingman.demo import run_demo
from wingman.settings import Settings

LINES = [f"line number {n} of the call" for n in range(1, 7)]  # line k: 0.5+1.5k .. 1.5+1.5k s
SCRIPT = script_of(LINES)


def scripted_wav(path: Path) -> Path:
    """The script's audio as a 16-bit WAV: each 10 ms block's samples hold its block index,
    so the scripted speech engine knows which call time every chunk covers."""
    samples = (np.arange(SCRIPT.frames) // BLOCK).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(samples.tobytes())
    return path


class Node:
    """The app on a fixed port, so a restarted server answers at the same URL."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.app = create_app(settings, container_factory=scripted(SCRIPT))
        self._serving: AbstractContextManager[None] = serving(self.app, port)

    async def start(self) -> None:
        await asyncio.to_thread(self._serving.__enter__)

    async def stop(self) -> None:
        await asyncio.to_thread(self._serving.__exit__, None, None, None)

    def stt_errors(self) -> list[str]:
        stt: ScriptedStt = self.app.other_asgi_app.state.container.stt
        return [e for s in stt.streams for e in s.errors]


async def test_demo_resumes_its_call_after_the_server_restarts(tmp_path: Path) -> None:
    port = free_port()
    settings = quiet_settings(tmp_path / "data", port=port)
    url = f"http://127.0.0.1:{port}"
    first = Node(settings, port)
    await first.start()
    user = register(url, "demo")
    out = io.StringIO()
    demo = asyncio.get_running_loop().create_task(
        run_demo(
            url=url,
            audio=scripted_wav(tmp_path / "call.wav"),
            speed=2.0,
            title="restart",
            token=user.token,
            console=Console(file=out, width=200),
            tail_seconds=1.0,
        )
    )
    try:
        await eventually(lambda: LINES[1] in out.getvalue(), what="two lines printed")
        await first.stop()  # mid-call, in the middle of line 3
        assert not demo.done()
        second = Node(settings, port)
        await second.start()
        try:
            result = await asyncio.wait_for(demo, 120)
            errors = second.stt_errors()
        finally:
            await second.stop()
    finally:
        demo.cancel()
    printed = out.getvalue()
    assert printed.count("connection lost") == 1, printed
    assert [printed.count(line) for line in LINES] == [1] * len(LINES), printed
    assert [f["text"] for f in result.finals] == LINES  # one call, no gap, no duplicate
    assert result.ended["call_id"] == result.call_id
    assert not result.of("error"), result.of("error")
    assert not errors, errors  # the new server got the audio from where it said, no overlap
    assert first.stt_errors() == []
