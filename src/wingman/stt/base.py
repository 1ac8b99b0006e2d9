"""The streaming speech-to-text interface.

`SpeechToText.stream(...)` opens one `SttStream` per call: the stream class that names the
engine (`class DeepgramStream(SttStream, engine=DeepgramStt)`), built with the engine first.
 The pipeline pushes 16 kHz float32
audio into it (`push_audio`, sync and non-blocking), and reads `SttResult`s out of it with
`async for`. Subclasses write only `_run()`, which takes audio with `await self._next_audio()`
(None at end of input) and hands results to `self._emit(...)`. Queues, closing and error
propagation live here once, and so does the factory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

import numpy as np
import numpy.typing as npt

from wingman.errors import WingmanError
from wingman.events import WordTiming, new_id

SAMPLE_RATE = 16000
Pcm = npt.NDArray[np.float32]  # shape (frames, channels), values in [-1, 1]


@dataclass(frozen=True)
class SttResult:
    """One interim or final hypothesis for one channel. Times are seconds of call audio."""

    text: str
    is_final: bool
    channel: int
    start: float
    end: float
    utterance_id: str = field(default_factory=new_id)  # interims share their final's id
    speaker: str | None = None  # set by engines that diarize; else the pipeline names channels
    confidence: float | None = None
    audio_end_at: float | None = None  # time.monotonic() when the utterance's end was heard
    words: tuple[WordTiming, ...] = ()  # finals of engines that time words (call seconds)


class StreamOptions(TypedDict):
    """What a call asks of its stream (the keyword arguments of every SttStream)."""

    sample_rate: int
    channels: int
    language: str
    vocabulary: Sequence[str]


class SttStream(ABC):
    """One call's stream of audio in and transcript out."""

    provider = "base"

    def __init_subclass__(cls, *, engine: type[SpeechToText] | None = None, **kw: Any) -> None:
        # `engine=`: the engine whose stream() opens this class (the only place that builds it)
        super().__init_subclass__(**kw)
        if engine is not None:
            engine.stream_type = cls

    def __init__(
        self, *, sample_rate: int, channels: int, language: str, vocabulary: Sequence[str] = ()
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.language = language
        self.vocabulary = tuple(vocabulary)
        self._audio: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._out: asyncio.Queue[SttResult | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ended = False
        self.samples_in = 0  # frames pushed so far: the stream's clock
        # frames of input fully transcribed (every final before it emitted); engines that know it
        # advance it, so a failover can replay only the audio after it
        self.finalized_samples = 0

    # -- producer side
    def push_audio(self, pcm: Pcm) -> None:
        """Queue audio (float32, shape (frames, channels)); never blocks."""
        if self._ended:
            raise WingmanError("audio pushed after end_input()")
        if pcm.ndim != 2 or pcm.shape[1] != self.channels:
            raise ValueError(f"expected shape (n, {self.channels}), got {pcm.shape}")
        self._ensure_started()
        self.samples_in += pcm.shape[0]
        self._audio.put_nowait(pcm)

    def end_input(self) -> None:
        """No more audio: the engine finalizes what it has, then the iterator ends."""
        if not self._ended:
            self._ended = True
            self._ensure_started()
            self._audio.put_nowait(None)

    def speaker_changed(self, at: float) -> None:  # noqa: B027 - optional hook
        """The voice on this one-channel stream changed at `at` seconds of call audio (a
        diarizer heard it, about a second later). An engine that cuts its own finals may end
        one there; sync and non-blocking; by default ignored (an engine that diarizes itself,
        or one that cannot take the hint)."""

    # -- consumer side
    async def __aiter__(self) -> AsyncIterator[SttResult]:
        self._ensure_started()
        while True:
            item = await self._out.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._close()

    # -- for subclasses
    async def _next_audio(self) -> Pcm | None:
        return await self._audio.get()

    def _emit(self, result: SttResult) -> None:
        self._out.put_nowait(result)

    @abstractmethod
    async def _run(self) -> None:
        """Consume audio until `_next_audio()` returns None, emitting results."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release provider resources (sockets, models' per-call state)."""

    def _ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._main())

    async def _main(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, never swallowed
            self._out.put_nowait(exc)
            return
        self._out.put_nowait(None)


class StreamWrapper(SttStream):
    """A stream in front of `inner`, with its format and provider, that rewrites its results
    (subclasses pass the audio on in `_run`). Closing it closes `inner`."""

    def __init__(self, *, inner: SttStream) -> None:
        super().__init__(
            sample_rate=inner.sample_rate,
            channels=inner.channels,
            language=inner.language,
            vocabulary=inner.vocabulary,
        )
        self.provider = inner.provider
        self.inner = inner

    def speaker_changed(self, at: float) -> None:
        self.inner.speaker_changed(at)

    async def _close(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class RetryPolicy:
    """How a stream reconnects to a remote engine: exponential backoff, jittered (50-100%).

    `attempts` counts reconnects in a row without a healthy connection in between; when they
    are used up the stream fails with the last (retryable) ProviderError.
    """

    attempts: int = 5
    initial_seconds: float = 0.25
    max_seconds: float = 4.0
    factor: float = 2.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number `attempt` (1-based)."""
        base = min(self.max_seconds, self.initial_seconds * self.factor ** max(0, attempt - 1))
        return random.uniform(base / 2, base) if self.jitter else base


class SpeechToText(ABC):
    """A speech engine: opens streams."""

    name = "base"
    # set by the SttStream subclass declared with `engine=` this class; called as
    # `stream_type(engine, sample_rate=..., channels=..., language=..., vocabulary=...)`
    stream_type: ClassVar[Callable[..., SttStream]]

    def stream(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        language: str = "en",
        vocabulary: Sequence[str] = (),
    ) -> SttStream:
        """Open a stream for one call."""
        return self.stream_type(
            self, sample_rate=sample_rate, channels=channels, language=language, vocabulary=vocabulary
        )

    async def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Load models or open pools before the first call."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release shared resources."""
