"""A speech engine that moves a call to a fallback engine when the primary gives up.

`FailoverStt(primary=DeepgramStt(...), fallback=<local engine>, health=...)`: each call starts on
the primary. When the primary's stream fails for good (its reconnects are used up, the key is
refused, ...), the call continues on the fallback for the rest of the call. The audio the primary
had not finalized is replayed into the fallback first, so nothing is lost and there is no gap;
the fallback's times are shifted to stay call-relative. `ProviderHealth` records the
degradation, and the stream tells its own listeners (the call's gateway emits `provider-status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Unpack

import numpy as np

from wingman.errors import ProviderError
from wingman.health import Observer, Observers, ProviderEvent, ProviderHealth
from wingman.stt.base import Pcm, SpeechToText, StreamOptions, SttResult, SttStream

log = logging.getLogger(__name__)


class FailoverStt(SpeechToText):
    """Primary engine with a fallback for the rest of the call once the primary is down."""

    def __init__(
        self,
        *,
        primary: SpeechToText,
        fallback: SpeechToText,
        health: ProviderHealth,
        max_replay_seconds: float = 120.0,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.health = health
        self.name = primary.name
        self.max_replay_seconds = max_replay_seconds

    def __repr__(self) -> str:
        return f"FailoverStt(primary={self.primary!r}, fallback={self.fallback!r})"

    async def warm_up(self) -> None:
        # the fallback must be ready to take a call over mid-sentence
        await self.fallback.warm_up()
        await self.primary.warm_up()

    async def aclose(self) -> None:
        await self.primary.aclose()
        await self.fallback.aclose()


class _Replay:
    """The call's recent audio, from the first frame not yet final on the primary."""

    def __init__(self, max_frames: int) -> None:
        self._chunks: deque[tuple[int, Pcm]] = deque()
        self._max_frames = max_frames
        self.end = 0  # frames appended so far (call clock)

    def append(self, pcm: Pcm) -> None:
        self._chunks.append((self.end, pcm))
        self.end += pcm.shape[0]
        while self._chunks:
            first, oldest = self._chunks[0]
            if self.end - (first + len(oldest)) < self._max_frames:
                break
            self._chunks.popleft()

    @property
    def start(self) -> int:
        return self._chunks[0][0] if self._chunks else self.end

    def drop_before(self, frame: int) -> None:
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= frame:
            self._chunks.popleft()

    def since(self, frame: int) -> Pcm:
        parts = [p[max(0, frame - start) :] for start, p in self._chunks if start + len(p) > frame]
        if not parts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


class FailoverStream(SttStream, engine=FailoverStt):
    """One call: relays the primary's stream, switches to the fallback's when it fails."""

    def __init__(self, owner: FailoverStt, /, **options: Unpack[StreamOptions]) -> None:
        super().__init__(**options)
        self._owner = owner
        self.provider = owner.primary.name
        self.degraded = asyncio.Event()  # set once the call is on the fallback
        self.status: ProviderEvent | None = None  # why, once degraded
        self._listeners = Observers()
        self._replay = _Replay(int(owner.max_replay_seconds * self.sample_rate))
        self._active: SttStream | None = None
        self._offset = 0  # frames of call audio before the active stream's first
        self._input_done = False
        self._final_end = [0] * self.channels  # frames, per channel, from the primary's finals
        self._open_interim: dict[int, str] = {}  # channel -> utterance id of an unfinished interim
        self._carried: dict[str, str] = {}  # fallback utterance id -> primary id it continues

    def add_status_listener(self, listener: Observer) -> Callable[[], None]:
        """Called with a ProviderEvent when this call moves to the fallback; returns a remover."""
        return self._listeners.add(listener)

    async def _run(self) -> None:
        owner = self._owner
        primary = self._open(owner.primary)
        self._active = primary
        pump = asyncio.get_running_loop().create_task(self._pump())
        try:
            try:
                await self._relay(primary, offset=0, from_primary=True)
            except Exception as exc:  # any failure of the primary moves the call, never ends it
                offset = await self._switch(primary, exc)
                fallback = self._active
                assert fallback is not None
                await self._relay(fallback, offset=offset, from_primary=False)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            if self._active is not None:
                await self._active.aclose()

    def speaker_changed(self, at: float) -> None:
        active = self._active
        if active is not None:
            active.speaker_changed(at - self._offset / self.sample_rate)

    def _open(self, engine: SpeechToText) -> SttStream:
        return engine.stream(
            sample_rate=self.sample_rate,
            channels=self.channels,
            language=self.language,
            vocabulary=self.vocabulary,
        )

    async def _pump(self) -> None:
        """Our input -> the engine in use; keeps what may need replaying."""
        while True:
            pcm = await self._next_audio()
            active = self._active
            assert active is not None
            if pcm is None:
                self._input_done = True
                active.end_input()
                return
            self._replay.append(pcm)
            active.push_audio(pcm)

    async def _relay(self, stream: SttStream, *, offset: int, from_primary: bool) -> None:
        shift = offset / self.sample_rate
        provider = self._owner.primary.name if from_primary else self._owner.fallback.name
        async for result in stream:
            if from_primary:
                self._track(stream, result)
            else:
                result = self._continue(result, shift)
                self.finalized_samples = max(self.finalized_samples, offset + stream.finalized_samples)
            if result.is_final and result.audio_end_at is not None:
                latency = time.monotonic() - result.audio_end_at
                self._owner.health.record_success("stt", provider, latency_seconds=latency)
            self._emit(result)

    def _track(self, stream: SttStream, result: SttResult) -> None:
        """Follow the primary's finals: audio before them will never need replaying."""
        if result.is_final:
            self._open_interim.pop(result.channel, None)
            if 0 <= result.channel < self.channels:
                self._final_end[result.channel] = max(
                    self._final_end[result.channel], int(result.end * self.sample_rate)
                )
        else:
            self._open_interim[result.channel] = result.utterance_id
        self._follow(stream)

    def _follow(self, primary: SttStream) -> None:
        # the primary's own watermark also moves on finals of silence, which emit no result
        watermark = max(primary.finalized_samples, min(self._final_end))
        if watermark > self.finalized_samples:
            self.finalized_samples = min(watermark, self._replay.end)
            self._replay.drop_before(self.finalized_samples)

    def _continue(self, result: SttResult, shift: float) -> SttResult:
        """A fallback result in call time; the first one on a channel finishes the primary's
        unfinished interim (same id), so the UI replaces it instead of leaving it hanging."""
        uid = result.utterance_id
        if uid not in self._carried and result.channel in self._open_interim:
            self._carried[uid] = self._open_interim.pop(result.channel)
        return dataclasses.replace(
            result,
            start=result.start + shift,
            end=result.end + shift,
            utterance_id=self._carried.get(uid, uid),
        )

    async def _switch(self, primary: SttStream, exc: BaseException) -> int:
        """Open the fallback, replay what the primary had not finalized; returns its offset."""
        owner = self._owner
        to = owner.fallback.name
        fallback = self._open(owner.fallback)
        # no await from here until `_active` is set: the pump must not slip a chunk in between
        self._follow(primary)
        start = max(self.finalized_samples, self._replay.start)
        replay = self._replay.since(start)
        if replay.shape[0]:
            fallback.push_audio(replay.reshape(-1, self.channels))
        self._active, self._offset = fallback, start
        if self._input_done:
            fallback.end_input()
        self.provider = to
        event = owner.health.record_failover(
            "stt", from_provider=owner.primary.name, to_provider=to, error=exc
        )
        log.warning(
            "speech engine failed over",
            extra={
                "from_provider": owner.primary.name,
                "to_provider": to,
                "code": getattr(exc, "code", "internal"),
                "replay_seconds": round(replay.shape[0] / self.sample_rate, 2),
            },
        )
        if not isinstance(exc, ProviderError):
            log.error("primary speech engine crashed", exc_info=exc)
        self.status = event
        self.degraded.set()
        self._listeners.notify(event)
        await primary.aclose()
        return start
