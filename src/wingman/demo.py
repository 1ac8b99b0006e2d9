"""A Socket.IO client that streams a WAV file into Wingman as a live call.

Used by `wingman demo`, the end-to-end tests and the benchmarks: it speaks exactly the
protocol the web app speaks (start-call, binary audio-chunk, end-call).
"""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
from rich.console import Console
from rich.panel import Panel

CHUNK_SECONDS = 0.1
SPEAKER_STYLE = {"rep": "cyan", "customer": "magenta"}


@dataclass
class Received:
    event: str
    data: dict[str, Any]
    at: float  # time.monotonic() when it arrived


@dataclass
class DemoResult:
    call_id: str = ""
    stream_started_at: float = 0.0  # monotonic time the first chunk was sent
    speed: float = 1.0
    events: list[Received] = field(default_factory=list)
    ended: dict[str, Any] = field(default_factory=dict)

    def of(self, event: str) -> list[Received]:
        return [e for e in self.events if e.event == event]

    @property
    def finals(self) -> list[dict[str, Any]]:
        return [e.data for e in self.of("transcript") if e.data.get("isFinal") and e.data.get("text")]

    @property
    def insights(self) -> list[dict[str, Any]]:
        return [e.data for e in self.of("insight")]

    def wall_time_of(self, audio_seconds: float) -> float:
        """When audio position `audio_seconds` was sent (monotonic clock)."""
        return self.stream_started_at + audio_seconds / self.speed


def read_wav(path: Path) -> tuple[bytes, int, int]:
    """(s16le frames, sample rate, channels) of a 16-bit PCM WAV."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        return w.readframes(w.getnframes()), w.getframerate(), w.getnchannels()


async def run_demo(
    *,
    url: str,
    audio: Path,
    speed: float = 1.0,
    title: str = "Demo call",
    token: str | None = None,
    console: Console | None = None,
    tail_seconds: float = 3.0,
    end_call: bool = True,
) -> DemoResult:
    """Stream `audio` at `speed` x real time; returns everything the server sent."""
    frames, rate, channels = read_wav(audio)
    result = DemoResult(speed=speed)
    sio = socketio.AsyncClient(reconnection=True)

    def record(event: str) -> Any:
        async def handler(data: Any = None) -> None:
            payload = data if isinstance(data, dict) else {"value": data}
            result.events.append(Received(event, payload, time.monotonic()))
            if console is not None:
                _show(console, event, payload)

        return handler

    for event in ("transcript", "insight", "metrics", "error", "call-ended", "provider-status"):
        sio.on(event, record(event))

    await sio.connect(url, auth={"token": token} if token else {}, transports=["websocket"], wait_timeout=10)
    try:
        ack = await sio.call(
            "start-call",
            {"title": title, "sampleRate": rate, "encoding": "s16le", "channels": channels},
            timeout=15,
        )
        if not isinstance(ack, dict) or "callId" not in ack:
            raise RuntimeError(f"start-call refused: {ack}")
        result.call_id = ack["callId"]
        bytes_per_chunk = int(rate * CHUNK_SECONDS) * channels * 2
        result.stream_started_at = time.monotonic()
        for i, offset in enumerate(range(0, len(frames), bytes_per_chunk)):
            await sio.emit("audio-chunk", frames[offset : offset + bytes_per_chunk])
            due = result.stream_started_at + (i + 1) * CHUNK_SECONDS / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.sleep(tail_seconds)
        if end_call:
            ended = await sio.call("end-call", {"callId": result.call_id}, timeout=60)
            result.ended = ended if isinstance(ended, dict) else {}
            if console is not None and result.ended.get("summary"):
                console.print(Panel(result.ended["summary"], title="Call summary"))
    finally:
        await sio.disconnect()
    return result


def _show(console: Console, event: str, data: dict[str, Any]) -> None:
    if event == "transcript" and data.get("isFinal") and data.get("text"):
        speaker = data.get("speaker") or "speaker"
        style = SPEAKER_STYLE.get(speaker, "white")
        console.print(f"[dim]{data.get('start', 0):6.1f}s[/] [{style}]{speaker:>8}[/]: {data['text']}")
    elif event == "insight":
        source = f"  [dim]({data['source']})[/]" if data.get("source") else ""
        console.print(
            f"         [bold yellow]>> {data.get('category')}[/] [yellow]{data.get('content')}[/]{source}"
        )
    elif event == "error":
        console.print(f"[red]error {data.get('code')}: {data.get('message')}[/]")
    elif event == "provider-status":
        console.print(f"[red]{data.get('part')}: {data.get('message')}[/]")
