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

import httpx
import socketio
from rich.console import Console
from rich.panel import Panel

from wingman.speakers.roles import CUSTOMER, REP

CHUNK_SECONDS = 0.1
SPEAKER_STYLE = {REP: "cyan", CUSTOMER: "magenta"}


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
        """Final transcripts with text, in arrival order."""
        return [e.data for e in self.of("transcript") if e.data.get("is_final") and e.data.get("text")]

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
    reconnect_timeout: float = 60.0,
    sample_data: bool = False,
) -> DemoResult:
    """Stream `audio` at `speed` x real time; returns everything the server sent.
    If the connection drops, reconnect, resume the same call and go on from where the server
    says it has the audio up to (waiting at most `reconnect_timeout` seconds each time).
    With `sample_data`, the sample company (profile and documents) is loaded first."""
    frames, rate, channels = read_wav(audio)
    if sample_data:
        await load_sample_data(url=url, token=token)
    result = DemoResult(speed=speed)
    link = _Link(
        url=url,
        token=token,
        result=result,
        console=console,
        start={"title": title, "sample_rate": rate, "encoding": "s16le", "channels": channels},
    )
    bytes_per_second = rate * channels * 2
    bytes_per_chunk = int(rate * CHUNK_SECONDS) * channels * 2
    await link.sio.connect(url, auth=link.auth, transports=["websocket"], wait_timeout=10)
    try:
        ack = await link.sio.call("start-call", link.start, timeout=15)
        if not isinstance(ack, dict) or "call_id" not in ack:
            raise RuntimeError(f"start-call refused: {ack}")
        result.call_id = ack["call_id"]
        link.ready.set()
        result.stream_started_at = time.monotonic()
        while link.position < len(frames):
            await link.wait_ready(reconnect_timeout)
            rewinds, offset = link.rewinds, link.position
            try:
                await link.sio.emit("audio-chunk", frames[offset : offset + bytes_per_chunk])
            except socketio.exceptions.SocketIOError:  # dropped: the resume says where to go on
                link.ready.clear()
                continue
            if link.rewinds == rewinds:
                link.position = min(len(frames), offset + bytes_per_chunk)
            due = result.wall_time_of(link.position / bytes_per_second)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.sleep(tail_seconds)
        if end_call:
            await link.wait_ready(reconnect_timeout)
            ended = await link.sio.call("end-call", {"call_id": result.call_id}, timeout=60)
            result.ended = ended if isinstance(ended, dict) else {}
            if console is not None and result.ended.get("summary"):
                console.print(Panel(result.ended["summary"], title="Call summary"))
    finally:
        await link.aclose()
    return result


async def load_sample_data(*, url: str, token: str | None = None) -> dict[str, Any]:
    """Ask the server to load the sample company for this user (POST /api/sample)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        response = await client.post("/api/sample", headers=headers)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


class _Link:
    """The demo's socket: records and prints what the server sends (each final once), and
    resumes the call on every reconnect."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        result: DemoResult,
        console: Console | None,
        start: dict[str, Any],
    ) -> None:
        self.url = url
        self.token = token
        self.result = result
        self.console = console
        self.start = start
        self.auth = {"token": token} if token else {}
        self.ready = asyncio.Event()  # connected, and the call started or resumed
        self.position = 0  # bytes of audio the server has (as far as we know)
        self.rewinds = 0  # resumes that moved `position`
        self.failure: str | None = None
        self.closing = False
        self._shown: set[str] = set()  # ids of finals printed
        self._tasks: set[asyncio.Task[None]] = set()
        self._bytes_per_second = int(start["sample_rate"]) * int(start["channels"]) * 2
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_attempts=0, reconnection_delay=0.2, reconnection_delay_max=1.0
        )
        events = ("transcript", "insight", "metrics", "error", "call-ended", "provider-status", "sentiment")
        for event in events:
            self.sio.on(event, self._recorder(event))
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    def _recorder(self, event: str) -> Any:
        async def handler(data: Any = None) -> None:
            self.record(event, data if isinstance(data, dict) else {"value": data})

        return handler

    def record(self, event: str, payload: dict[str, Any]) -> None:
        final = event == "transcript" and bool(payload.get("is_final"))
        if final and payload.get("id") in self._shown:
            return  # already shown (caught up after a resume)
        if final:
            self._shown.add(str(payload.get("id")))
        self.result.events.append(Received(event, payload, time.monotonic()))
        if self.console is not None:
            _show(self.console, event, payload)

    async def wait_ready(self, timeout: float) -> None:
        if not self.ready.is_set():
            try:
                await asyncio.wait_for(self.ready.wait(), timeout)
            except TimeoutError:
                raise RuntimeError(f"no connection to {self.url} for {timeout:.0f} s") from None
        if self.failure is not None:
            raise RuntimeError(self.failure)

    async def _on_connect(self) -> None:
        if self.result.call_id:  # a reconnect: resume from a task (its ack arrives on this loop)
            task = asyncio.get_running_loop().create_task(self._resume())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_disconnect(self, *_reason: Any) -> None:
        self.ready.clear()
        if self.console is not None and not self.closing:
            self.console.print("[dim]connection lost; reconnecting[/]")

    async def _resume(self) -> None:
        try:
            resume = {**self.start, "call_id": self.result.call_id}
            ack = await self.sio.call("start-call", resume, timeout=15)
        except socketio.exceptions.SocketIOError:
            return  # dropped again: the next connect resumes
        if not isinstance(ack, dict) or ack.get("call_id") != self.result.call_id:
            self.failure = f"the call could not be resumed: {ack}"
        elif isinstance(ack.get("audio_seconds"), (int, float)):
            frame = int(self.start["channels"]) * 2
            at = round(float(ack["audio_seconds"]) * self._bytes_per_second / frame) * frame
            self.position, self.rewinds = at, self.rewinds + 1
            await self._catch_up()
        self.ready.set()

    async def _catch_up(self) -> None:
        """Show the finals the server saved while we were away (sent to a dead socket)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(base_url=self.url, headers=headers, timeout=15) as http:
                r = await http.get(f"/api/calls/{self.result.call_id}")
                r.raise_for_status()
                saved = r.json()["transcript"]
        except (httpx.HTTPError, ValueError, KeyError):
            return  # the live transcript goes on regardless
        for seg in saved:
            self.record("transcript", {**seg, "is_final": True})

    async def aclose(self) -> None:
        self.closing = True
        for task in list(self._tasks):
            task.cancel()
        await self.sio.disconnect()


def _show(console: Console, event: str, data: dict[str, Any]) -> None:
    if event == "transcript" and data.get("is_final") and data.get("text"):
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
