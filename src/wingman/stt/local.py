"""The local streaming speech engine: Silero VAD per channel + faster-whisper, fully offline.

How a stream works: audio (any rate, resampled to 16 kHz) goes through a VAD segmenter per
channel on the worker pool. While someone speaks, every `interim_interval_s` of new speech the
utterance so far is decoded as an interim. When the speaker pauses (after the VAD's padding),
the utterance up to the pause is decoded at once as a *speculative final*: if the pause turns
out to be the end of speech (the VAD's silence timeout), that decode is the final, already done
or under way, so final latency is about max(silence timeout, decode) rather than their sum; if
the speaker goes on, it is shown as an interim. Interims and their final share an utterance id;
times are seconds of call audio; `audio_end_at` is time.monotonic() when the end was detected.

One model and one `DecodeScheduler` serve every call of the engine: finals are decoded before
interims, and a channel never has more than one interim waiting, so latency does not grow over
a long call or with load: interims thin out (their cadence also backs off to keep the decoder
at most about half busy with them), finals keep coming.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wingman.audio.pool import AudioWorkerPool
from wingman.audio.resample import StreamResampler
from wingman.audio.vad import VadParams, VadSegmenter, shared_vad
from wingman.errors import ProviderError, WingmanError
from wingman.events import new_id
from wingman.stt.base import SAMPLE_RATE, Pcm, SpeechToText, SttResult, SttStream
from wingman.stt.whisper import (
    F32,
    DecodeScheduler,
    Transcript,
    WhisperDecoder,
    glossary_prompt,
    model_dir,
)

STEREO_SPEAKERS = ("rep", "customer")  # channel 0 is the rep's mic, channel 1 the customer
HISTORY = SAMPLE_RATE  # audio kept before a speech start: covers VAD confirmation + padding


class LocalWhisperStt(SpeechToText):
    """Offline streaming STT. Built once per process; `stream()` per call."""

    name = "local"

    def __init__(
        self,
        *,
        model: str = "tiny.en",
        pool: AudioWorkerPool | None = None,
        cpu_threads: int = 0,
        data_dir: Path = Path("data"),
        vad: VadParams | None = None,
        interim_interval_s: float = 0.7,
        min_context_s: float = 10.0,
        parallel_decodes: int = 1,
    ) -> None:
        """`cpu_threads` 0 means one per core (at most 4); `min_context_s` 30 is stock Whisper."""
        self.model = model
        self.data_dir = data_dir
        self.vad_params = vad or VadParams()
        self.interim_interval_s = interim_interval_s
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.min_context_s = min_context_s
        self._own_pool = pool is None
        self.pool = pool or AudioWorkerPool(max_workers=parallel_decodes + 1)
        self._decoder: WhisperDecoder | None = None
        self._load_lock = threading.Lock()
        self.scheduler = DecodeScheduler(pool=self.pool, decode=self._decode, parallel=parallel_decodes)
        self._parallel = parallel_decodes

    @property
    def decoder(self) -> WhisperDecoder:
        """The shared model, loaded on first use (blocking: call from a worker thread)."""
        with self._load_lock:
            if self._decoder is None:
                path = model_dir(self.model, data_dir=self.data_dir)
                self._decoder = WhisperDecoder(
                    path,
                    cpu_threads=self.cpu_threads,
                    num_workers=self._parallel,
                    min_context_s=self.min_context_s,
                )
            return self._decoder

    def _decode(self, audio: F32, prompt: str | None, language: str | None) -> Transcript:
        return self.decoder.decode(audio, prompt=prompt, language=language)

    def _warm(self) -> None:
        shared_vad()
        self.decoder.decode(np.zeros(SAMPLE_RATE, dtype=np.float32))  # first call allocates

    async def warm_up(self) -> None:
        """Load the VAD and Whisper and run one decode, so the first call is not slow."""
        await self.pool.run(self._warm)

    def stream(
        self,
        *,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        language: str = "en",
        vocabulary: Sequence[str] = (),
    ) -> LocalWhisperStream:
        return LocalWhisperStream(
            engine=self,
            sample_rate=sample_rate,
            channels=channels,
            language=language,
            vocabulary=vocabulary,
        )

    async def aclose(self) -> None:
        if self._own_pool:
            await self.pool.aclose()


@dataclass
class _Decode:
    """A decode submitted from the worker; the event loop awaits and emits it."""

    channel: int
    utterance_id: str
    start: int
    end: int
    final: bool
    future: concurrent.futures.Future[Transcript | None]
    seq: int = 0  # interims of one utterance: newer ones win
    audio_end_at: float | None = None


@dataclass
class _Utterance:
    id: str
    start: int
    interim_at: int  # stream position at the last interim
    interims: int = 0
    spec: _Decode | None = None  # speculative final, decoded while the endpointer waits


Submit = Callable[[F32, bool], "concurrent.futures.Future[Transcript | None]"]


@dataclass
class _Channel:
    """Per-channel state, touched only by the (sequential) ingest calls on the worker pool."""

    index: int
    segmenter: VadSegmenter
    submit: Submit
    buf: F32 = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    buf_start: int = 0  # sample position of buf[0]
    utt: _Utterance | None = None

    def feed(self, samples: F32, interim_every: int) -> list[_Decode]:
        out: list[_Decode] = []
        self.buf = np.concatenate([self.buf, samples]) if self.buf.size else samples.copy()
        events = self.segmenter.push(samples)
        now = time.monotonic()
        for ev in events:
            if ev.kind == "start":
                self.utt = _Utterance(new_id(), ev.sample, ev.sample)
            elif self.utt is not None:
                out.append(self._final(ev.sample, now))
        pos = self.segmenter.position
        utt = self.utt
        if utt is not None:
            pending = self.segmenter.pending_end
            if utt.spec is not None and utt.spec.end != pending:
                # speech went on after the pause: the speculative decode is an interim now
                out.append(self._as_interim(utt, utt.spec))
                utt.spec = None
                utt.interim_at = pos
            if pending is not None and utt.spec is None and pending <= pos:
                # the utterance ends here if the pause lasts: decode it now, while the
                # endpointer waits out the silence, so the final is ready when it is called
                utt.spec = self._cut(utt, pending, final=True)
            elif pending is None and pos - utt.interim_at >= interim_every:
                utt.interim_at = pos
                utt.interims += 1
                out.append(self._cut(utt, pos, final=False, seq=utt.interims))
        keep = self.utt.start if self.utt is not None else pos - HISTORY
        if keep > self.buf_start:
            self.buf = self.buf[keep - self.buf_start :]
            self.buf_start = keep
        return out

    @property
    def settled_at(self) -> int:
        """Audio before this position is in no open or future utterance of this channel."""
        if self.utt is not None:
            return self.utt.start
        return max(self.segmenter.position - HISTORY, 0)  # speech may be starting, unconfirmed

    def finish(self) -> list[_Decode]:
        now = time.monotonic()
        return [self._final(ev.sample, now) for ev in self.segmenter.flush() if self.utt]

    def _final(self, end: int, now: float) -> _Decode:
        utt = self.utt
        assert utt is not None
        self.utt = None
        spec, utt.spec = utt.spec, None
        if spec is not None and spec.end == end:
            spec.audio_end_at = now
            return spec
        if spec is not None:
            spec.future.cancel()  # cut elsewhere (a long monologue): not this final after all
        return self._cut(utt, end, final=True, audio_end_at=now)

    def _as_interim(self, utt: _Utterance, spec: _Decode) -> _Decode:
        utt.interims += 1
        spec.final = False
        spec.seq = utt.interims
        return spec

    def _cut(
        self,
        utt: _Utterance,
        end: int,
        *,
        final: bool,
        seq: int = 0,
        audio_end_at: float | None = None,
    ) -> _Decode:
        lo = max(utt.start - self.buf_start, 0)
        audio = self.buf[lo : max(end - self.buf_start, lo)].copy()
        fut = self.submit(audio, final)
        return _Decode(self.index, utt.id, utt.start, end, final, fut, seq, audio_end_at)


class LocalWhisperStream(SttStream):
    """One call on the local engine."""

    provider = "local"

    def __init__(
        self,
        *,
        engine: LocalWhisperStt,
        sample_rate: int,
        channels: int,
        language: str,
        vocabulary: Sequence[str] = (),
    ) -> None:
        super().__init__(sample_rate=sample_rate, channels=channels, language=language, vocabulary=vocabulary)
        self._engine = engine
        self._key = new_id()
        self._prompt = glossary_prompt(self.vocabulary)
        self._resampler = StreamResampler(in_rate=sample_rate, channels=channels)
        self._interim_every = int(engine.interim_interval_s * SAMPLE_RATE)
        self._channels = [
            _Channel(i, VadSegmenter(params=engine.vad_params), functools.partial(self._submit, i))
            for i in range(channels)
        ]
        self._finalized: set[str] = set()
        self._interim_seq: dict[str, int] = {}
        self._last_final: list[asyncio.Task[None] | None] = [None] * channels
        self._deliveries: set[asyncio.Task[None]] = set()
        self._ingested = 0  # input frames through VAD so far
        self._settled_at = 0  # 16 kHz position before which no utterance is open
        self._open_finals: dict[str, int] = {}  # finals not yet emitted: utterance id -> start
        self._progress = asyncio.Event()

    async def settle(self) -> None:
        """Flow control: wait until the audio pushed so far is segmented and every result it
        produced is out (or dropped as stale). A sender that waits on this never outruns the
        engine; one that does not gets finals all the same, with fewer interims."""
        target = self.samples_in
        while self._ingested < target and self._task is not None and not self._task.done():
            self._progress.clear()
            waiter = asyncio.ensure_future(self._progress.wait())
            try:
                await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        pending = [t for t in self._deliveries if not t.done()]
        if pending:
            await asyncio.wait(pending)

    def speaker(self, channel: int) -> str | None:
        return STEREO_SPEAKERS[channel] if self.channels == 2 else None

    # -- worker-pool side
    def _submit(self, channel: int, audio: F32, final: bool) -> concurrent.futures.Future[Transcript | None]:
        return self._engine.scheduler.submit(
            key=(self._key, channel), audio=audio, final=final, prompt=self._prompt, language=self.language
        )

    def _interim_samples(self) -> int:
        # interims take at most about half the decoder's time, so a final rarely waits on one
        busy = int(2 * self._engine.scheduler.decode_seconds * SAMPLE_RATE)
        return max(self._interim_every, busy)

    def _ingest(self, pcm: Pcm) -> tuple[list[_Decode], int]:
        x = self._resampler.process(pcm)
        every = self._interim_samples()
        out: list[_Decode] = []
        for ch in self._channels:
            out += ch.feed(np.ascontiguousarray(x[:, ch.index]), every)
        return out, min(ch.settled_at for ch in self._channels)

    def _finish(self) -> tuple[list[_Decode], int]:
        tail = self._resampler.flush()
        out: list[_Decode] = []
        for ch in self._channels:
            if tail.shape[0]:
                out += ch.feed(np.ascontiguousarray(tail[:, ch.index]), self._interim_samples())
            out += ch.finish()
        return out, max(ch.segmenter.position for ch in self._channels)

    # -- event-loop side
    async def _run(self) -> None:
        pool = self._engine.pool
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    pcm = await self._next_audio()
                    if pcm is None:
                        break
                    self._deliver_all(*await pool.run(self._ingest, pcm), tg)
                    self._ingested += pcm.shape[0]
                    self._progress.set()
                self._deliver_all(*await pool.run(self._finish), tg)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from None

    def _deliver_all(self, decodes: list[_Decode], settled_at: int, tg: asyncio.TaskGroup) -> None:
        self._settled_at = settled_at
        for d in decodes:
            if d.final:
                self._finalized.add(d.utterance_id)  # interims still in flight are now stale
                self._open_finals[d.utterance_id] = d.start
                prev = self._last_final[d.channel]
                task = tg.create_task(self._deliver(d, prev))
                self._last_final[d.channel] = task
            else:
                task = tg.create_task(self._deliver(d, None))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)
        self._advance_finalized()

    def _advance_finalized(self) -> None:
        """Keep `finalized_samples` (input frames) up to date for a failover's replay."""
        settled = min([self._settled_at, *self._open_finals.values()])
        frames = settled * self.sample_rate // SAMPLE_RATE
        self.finalized_samples = max(self.finalized_samples, min(frames, self.samples_in))

    async def _deliver(self, d: _Decode, prev: asyncio.Task[None] | None) -> None:
        try:
            await self._deliver_one(d, prev)
        finally:
            if d.final and self._open_finals.pop(d.utterance_id, None) is not None:
                self._advance_finalized()

    async def _deliver_one(self, d: _Decode, prev: asyncio.Task[None] | None) -> None:
        try:
            result: Transcript | None = await asyncio.wrap_future(d.future)
        except asyncio.CancelledError:
            raise
        except WingmanError:
            raise
        except Exception as exc:
            raise ProviderError(f"local speech decode failed: {type(exc).__name__}") from exc
        if prev is not None:
            await prev  # finals of a channel come out in order
        if result is None:
            return  # an interim a newer one replaced
        if not d.final:
            if d.utterance_id in self._finalized or d.seq <= self._interim_seq.get(d.utterance_id, 0):
                return
            if not result.is_speech:
                return
            self._interim_seq[d.utterance_id] = d.seq
        else:
            had_interims = self._interim_seq.pop(d.utterance_id, 0) > 0
            if not result.is_speech and not had_interims:
                return  # nothing was shown and nothing was said
        self._emit(
            SttResult(
                text=result.text if result.is_speech else "",
                is_final=d.final,
                channel=d.channel,
                start=d.start / SAMPLE_RATE,
                end=d.end / SAMPLE_RATE,
                utterance_id=d.utterance_id,
                speaker=self.speaker(d.channel),
                confidence=round(result.confidence, 3),
                audio_end_at=d.audio_end_at,
            )
        )

    async def _close(self) -> None:
        key = self._key
        self._engine.scheduler.cancel(lambda k: isinstance(k, tuple) and k[0] == key)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
