"""Deepgram live transcription over its streaming WebSocket API (`/v1/listen`).

One WebSocket per call. We send 16-bit little-endian PCM (`encoding=linear16`), interleaved
when stereo (`multichannel=true`: channel 0 the rep, channel 1 the customer; mono calls ask for
`diarize=true` instead). Deepgram answers with `Results` (interim, then `is_final`; `start` and
`duration` count from the start of *that connection's* audio), `UtteranceEnd`, `SpeechStarted`
and `Metadata`. It closes a socket that gets neither audio nor `KeepAlive` for about 10 s, so we
send `KeepAlive` while no audio flows, and `CloseStream` at the end to flush the last finals.

A dropped socket is reopened with backoff (RetryPolicy); the audio Deepgram had not finalized is
sent again and the new connection's times are shifted by where that audio starts, so times stay
call-relative and nothing is lost. A rejected key (401/403) is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any, Unpack

from pydantic import SecretStr
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)

from wingman.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.events import new_id
from wingman.redaction import protect
from wingman.stt.base import Pcm, RetryPolicy, SpeechToText, StreamOptions, SttResult, SttStream
from wingman.stt.deepgram_wire import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_STREAM,
    KEEPALIVE,
    Connect,
    WsConnection,
    channel_of,
    handshake_error,
    keyterms,
    keywords,
    listen_url,
    majority_speaker,
    to_linear16,
    word_timings,
)

__all__ = ["DeepgramStream", "DeepgramStt", "keyterms", "keywords", "listen_url"]

log = logging.getLogger(__name__)
# handed to websockets: it logs handshake headers (our key) at DEBUG; this logger redacts them
WIRE_LOG = logging.getLogger("wingman.stt.deepgram.wire")


class DeepgramStt(SpeechToText):
    """Deepgram live streaming. The key, URL and connect function come from the container."""

    name = "deepgram"

    def __init__(
        self,
        *,
        api_key: SecretStr,
        url: str = "wss://api.deepgram.com/v1/listen",
        model: str = "nova-3",
        connect: Connect | None = None,
        keepalive_seconds: float = 4.0,
        endpointing_ms: int = 300,
        utterance_end_ms: int = 1000,
        retry: RetryPolicy | None = None,
        open_timeout_seconds: float = 5.0,
        finalize_timeout_seconds: float = 10.0,
        max_buffer_seconds: float = 120.0,
        redact: Sequence[str] = (),
    ) -> None:
        protect(api_key)
        self._api_key = api_key
        self.url = url
        self.model = model
        self._connect: Connect = connect or ws_connect
        self.keepalive_seconds = keepalive_seconds
        self.endpointing_ms = endpointing_ms
        self.utterance_end_ms = utterance_end_ms
        self.retry = retry or RetryPolicy()
        self.open_timeout_seconds = open_timeout_seconds
        self.finalize_timeout_seconds = finalize_timeout_seconds
        self.max_buffer_seconds = max_buffer_seconds
        self.redact = tuple(redact)  # Deepgram's `redact` values (privacy.DEEPGRAM_REDACT)

    def __repr__(self) -> str:
        return f"DeepgramStt(url={self.url!r}, model={self.model!r}, api_key=SecretStr('**********'))"

    async def open_socket(self, url: str) -> WsConnection:
        """Open one WebSocket; handshake failures become ProviderErrors."""
        headers = {"Authorization": f"Token {self._api_key.get_secret_value()}"}
        try:
            return await self._connect(
                url,
                additional_headers=headers,
                open_timeout=self.open_timeout_seconds,
                logger=WIRE_LOG,
                # PCM hardly compresses, and deflating every chunk cost the gateway ~10% of its
                # CPU under load (and the server as much to inflate it)
                compression=None,
            )
        except InvalidStatus as e:
            raise handshake_error(e.response.status_code) from None
        except TimeoutError:
            raise ProviderTimeout("deepgram handshake timed out") from None
        except (OSError, InvalidHandshake) as e:
            raise ProviderConnectionError(f"deepgram unreachable ({type(e).__name__})") from None


class DeepgramStream(SttStream, engine=DeepgramStt):
    """One call on Deepgram; reconnects and replays un-finalized audio on a dropped socket."""

    provider = "deepgram"

    def __init__(self, owner: DeepgramStt, /, **options: Unpack[StreamOptions]) -> None:
        super().__init__(**options)
        sample_rate, channels = self.sample_rate, self.channels
        self._owner = owner
        self.url = listen_url(
            owner.url,
            model=owner.model,
            sample_rate=sample_rate,
            channels=channels,
            language=self.language,
            endpointing_ms=owner.endpointing_ms,
            utterance_end_ms=owner.utterance_end_ms,
            vocabulary=self.vocabulary,
            redact=owner.redact,
        )
        # audio sent but not finalized: (first frame in call time, int16 bytes)
        self._sent: deque[tuple[int, bytes]] = deque()
        self._frame_bytes = 2 * channels
        self._frames_taken = 0  # frames taken from the input queue (call clock)
        self._offset_frames = 0  # call frame where the current connection's audio starts
        self._final_end = [0.0] * channels  # per channel, call seconds finalized so far
        self._utterance = [new_id() for _ in range(channels)]
        self._heard: deque[tuple[int, float]] = deque()  # (end frame, monotonic time taken)
        self._getter: asyncio.Future[Pcm | None] | None = None
        self._input_done = False
        self._healthy = False
        self._overflow_logged = False
        # observable state, for tests and the health page
        self.connections = 0
        self.reconnects = 0
        self.keepalives_sent = 0
        self.request_ids: list[str] = []
        self.speech_started: dict[int, float] = {}  # channel -> call seconds of latest SpeechStarted
        self.utterance_ends: dict[int, float] = {}  # channel -> call seconds of latest UtteranceEnd

    # -- the connection loop
    async def _run(self) -> None:
        policy = self._owner.retry
        failures = 0
        try:
            while True:
                try:
                    if await self._session():
                        return
                    raise ProviderConnectionError("deepgram closed the stream before its end")
                except ProviderError as exc:
                    if not exc.retryable:
                        raise
                    # a socket that worked resets the count, except while finishing: a server
                    # that answers but never closes must not keep us reconnecting forever
                    failures = 1 if self._healthy and not self._input_done else failures + 1
                    if failures > policy.attempts:
                        raise
                    log.warning(
                        "deepgram stream dropped; reconnecting",
                        extra={"code": exc.code, "attempt": failures, "error": type(exc).__name__},
                    )
                    await asyncio.sleep(policy.delay(failures))
                    self.reconnects += 1
        finally:
            if self._getter is not None:
                self._getter.cancel()

    async def _session(self) -> bool:
        """One connection: True when the stream ended normally, raises ProviderError if not."""
        self._healthy = False
        ws = await self._owner.open_socket(self.url)
        self.connections += 1
        loop = asyncio.get_running_loop()
        recv: asyncio.Future[str | bytes] | None = None
        try:
            resume = self.finalized_samples
            if self._sent and self._sent[0][0] > resume:
                resume = self._sent[0][0]  # the buffer overflowed: resume where it starts
            self._offset_frames = resume
            for data in self._unfinalized(resume):
                await ws.send(data)
            last_send = loop.time()
            finish_by = math.inf
            if self._input_done:
                await ws.send(CLOSE_STREAM)
                finish_by = loop.time() + self._owner.finalize_timeout_seconds
            recv = asyncio.ensure_future(ws.recv())
            while True:
                waits: set[asyncio.Future[Any]] = {recv}
                if self._input_done:
                    timeout = finish_by - loop.time()
                else:
                    if self._getter is None:
                        self._getter = asyncio.ensure_future(self._next_audio())
                    waits.add(self._getter)
                    timeout = last_send + self._owner.keepalive_seconds - loop.time()
                done, _ = await asyncio.wait(
                    waits, timeout=max(0.0, timeout), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if self._input_done:
                        if self.finalized_samples >= self._frames_taken:
                            return True  # every frame is final; only the close went missing
                        raise ProviderTimeout("deepgram did not finish the stream in time")
                    await ws.send(KEEPALIVE)  # no audio for a while: keep the socket open
                    self.keepalives_sent += 1
                    last_send = loop.time()
                    continue
                if self._getter is not None and self._getter in done:
                    pcm = self._getter.result()
                    self._getter = None
                    if pcm is None:
                        self._input_done = True
                        await ws.send(CLOSE_STREAM)
                        finish_by = loop.time() + self._owner.finalize_timeout_seconds
                    elif pcm.shape[0]:
                        await ws.send(self._take(pcm))
                        last_send = loop.time()
                if recv in done:
                    message = recv.result()
                    self._healthy = True
                    self._handle(message)
                    recv = asyncio.ensure_future(ws.recv())
        except ConnectionClosed as e:
            if isinstance(e, ConnectionClosedOK) and self._input_done:
                return True
            recv = await self._drain(ws, recv)
            code = e.rcvd.code if e.rcvd is not None else 1006
            if code == CLOSE_POLICY_VIOLATION:
                raise ProviderResponseError(f"deepgram refused the audio (close {code})") from None
            raise ProviderConnectionError(f"deepgram socket closed (close {code})") from None
        except OSError as e:
            raise ProviderConnectionError(f"deepgram socket failed ({type(e).__name__})") from None
        finally:
            if recv is not None and not recv.done():
                recv.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await recv
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)

    async def _drain(
        self, ws: WsConnection, recv: asyncio.Future[str | bytes] | None
    ) -> asyncio.Future[str | bytes] | None:
        """Sending failed on a dead socket: still use what Deepgram sent before it went away."""
        while recv is not None:
            try:
                message = await asyncio.wait_for(asyncio.shield(recv), 1.0)
            except (ConnectionClosed, TimeoutError, OSError):
                return recv
            self._handle(message)
            recv = asyncio.ensure_future(ws.recv())
        return recv

    # -- audio bookkeeping
    def _take(self, pcm: Pcm) -> bytes:
        """Convert a chunk from the input, remember it until finalized, return its bytes."""
        data = to_linear16(pcm)
        start = self._frames_taken
        self._frames_taken += pcm.shape[0]
        self._sent.append((start, data))
        self._heard.append((self._frames_taken, time.monotonic()))
        limit = int(self._owner.max_buffer_seconds * self.sample_rate)
        while self._sent and self._frames_taken - self._sent[0][0] > limit:
            self._sent.popleft()  # Deepgram has not finalized minutes of audio: stop holding it
            if not self._overflow_logged:
                self._overflow_logged = True
                log.warning("deepgram replay buffer full; oldest audio dropped")
        return data

    def _unfinalized(self, resume: int) -> Iterator[bytes]:
        """Audio sent but not finalized, trimmed to start exactly at frame `resume`."""
        for start, data in list(self._sent):
            frames = len(data) // self._frame_bytes
            if start + frames <= resume:
                continue
            yield data[max(0, resume - start) * self._frame_bytes :]

    def _advance(self, channel: int, call_end: float) -> None:
        self._final_end[channel] = max(self._final_end[channel], call_end)
        # 1 µs slack so float noise never pushes the watermark past audio not yet final
        frame = int(min(self._final_end) * self.sample_rate + 1e-6)
        if frame <= self.finalized_samples:
            return
        self.finalized_samples = min(frame, self._frames_taken)
        while self._sent:
            start, data = self._sent[0]
            if start + len(data) // self._frame_bytes > self.finalized_samples:
                break
            self._sent.popleft()
        while self._heard and self._heard[0][0] < self.finalized_samples:
            self._heard.popleft()

    def _heard_at(self, call_end: float) -> float | None:
        frame = call_end * self.sample_rate
        for end_frame, at in self._heard:
            if end_frame >= frame:
                return at
        return None

    # -- messages from Deepgram
    def _handle(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            return
        try:
            msg = json.loads(message)
        except ValueError:
            log.warning("deepgram sent a message that is not JSON")
            return
        kind = msg.get("type") if isinstance(msg, dict) else None
        offset = self._offset_frames / self.sample_rate
        if kind == "Results":
            try:
                self._on_results(msg, offset)
            except (TypeError, ValueError, AttributeError):  # a malformed result: skip it
                log.warning("deepgram sent a malformed result")
        elif kind == "UtteranceEnd":
            channel = channel_of(msg.get("channel"))
            self.utterance_ends[channel] = offset + float(msg.get("last_word_end") or 0.0)
        elif kind == "SpeechStarted":
            channel = channel_of(msg.get("channel"))
            self.speech_started[channel] = offset + float(msg.get("timestamp") or 0.0)
        elif kind == "Metadata":
            request_id = msg.get("request_id")
            if isinstance(request_id, str):
                self.request_ids.append(request_id)
                log.info("deepgram stream metadata", extra={"request_id": request_id})
        elif kind == "Error":
            log.warning("deepgram reported an error", extra={"variant": msg.get("variant")})

    def _on_results(self, msg: dict[str, Any], offset: float) -> None:
        channel = channel_of(msg.get("channel_index"))
        if channel >= self.channels:
            return
        start = offset + float(msg.get("start") or 0.0)
        end = start + float(msg.get("duration") or 0.0)
        alternatives = (msg.get("channel") or {}).get("alternatives") or [{}]
        best = alternatives[0] if isinstance(alternatives[0], dict) else {}
        text = str(best.get("transcript") or "").strip()
        is_final = bool(msg.get("is_final"))
        words = [w for w in best.get("words") or [] if isinstance(w, dict)]
        if (start + end) / 2 < self._final_end[channel]:
            # resent audio this channel had already finalized (another channel had not): the
            # new socket transcribes it again; the first answer stands
            return
        heard = self._heard_at(end)
        if is_final:
            self._advance(channel, end)
        if not text:
            return
        if words:  # the words' own times are tighter than the result window
            start = offset + float(words[0].get("start", start - offset))
            end = offset + float(words[-1].get("end", end - offset))
        confidence = best.get("confidence")
        self._emit(
            SttResult(
                text=text,
                is_final=is_final,
                channel=channel,
                start=start,
                end=end,
                utterance_id=self._utterance[channel],
                speaker=majority_speaker(words) if self.channels == 1 else None,
                confidence=float(confidence) if isinstance(confidence, int | float) else None,
                audio_end_at=heard,
                words=word_timings(words, offset) if is_final else (),
            )
        )
        if is_final:
            self._utterance[channel] = new_id()
