"""The local streaming speech engine: Silero VAD per channel + faster-whisper, fully offline.

How a stream works: audio (any rate, resampled to 16 kHz) goes through a VAD segmenter per
channel on the worker pool. While someone speaks, every `interim_interval_s` of new speech the
utterance so far is decoded as an interim; at the VAD's end of speech the whole utterance is
decoded once more as the final. Interims and their final share an utterance id; times are
seconds of call audio; `audio_end_at` is time.monotonic() when the end of speech was detected.

One model and one `DecodeScheduler` serve every call of the engine: finals are decoded before
interims, and a channel never has more than one interim waiting, so latency does not grow over
a long call or with load: interims thin out, finals keep coming.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wingman.audio.pool import AudioWorkerPool
from wingman.audio.resample import StreamResampler
from wingman.audio.vad import VadParams, VadSegmenter, shared_vad
from wingman.errors import ProviderError, WingmanError
from wingman.events import new_id
from wingman.stt.base import SAMPLE_RATE, Pcm, SpeechToText, SttResult, SttStream
from wingman.stt.whisper import F32, DecodeScheduler, Transcript, WhisperDecoder, model_dir

STEREO_SPEAKERS = ("rep", "customer")  # channel 0 is the rep's mic, channel 1 the customer
HISTORY = SAMPLE_RATE  # audio kept before a speech start: covers VAD confirmation + padding
MAX_GLOSSARY_CHARS = 200


def glossary_prompt(vocabulary: Sequence[str]) -> str | None:
    """A short Whisper prompt that primes spellings: "Glossary: Relay, Aircall, SOC 2."."""
    terms: list[str] = []
    size = 0
    for raw in vocabulary:
        term = " ".join(raw.split())
        if not term or term.lower() in (t.lower() for t in terms):
            continue
        if size + len(term) + 2 > MAX_GLOSSARY_CHARS:
            break
        terms.append(term)
        size += len(term) + 2
    return f"Glossary: {', '.join(terms)}." if terms else None


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
class _Utterance:
    id: str
    start: int
    interim_at: int  # position of the last interim request
    interims: int = 0


@dataclass
class _Decode:
    """A decode the worker asks the event loop side to schedule."""

    channel: int
    utterance_id: str
    audio: F32
    start: int
    end: int
    final: bool
    seq: int = 0
    audio_end_at: float | None = None


@dataclass
class _Channel:
    """Per-channel state, touched only by the (sequential) ingest calls on the worker pool."""

    index: int
    segmenter: VadSegmenter
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
        # no interim while the speaker pauses: the final may be a moment away, and an interim
        # decoding then would only delay it
        if (
            self.utt is not None
            and pos - self.utt.interim_at >= interim_every
            and not self.segmenter.in_pause
        ):
            self.utt.interim_at = pos
            self.utt.interims += 1
            out.append(self._cut(pos, final=False, seq=self.utt.interims))
        keep = self.utt.start if self.utt is not None else pos - HISTORY
        if keep > self.buf_start:
            self.buf = self.buf[keep - self.buf_start :]
            self.buf_start = keep
        return out

    def finish(self) -> list[_Decode]:
        now = time.monotonic()
        return [self._final(ev.sample, now) for ev in self.segmenter.flush() if self.utt]

    def _final(self, end: int, now: float) -> _Decode:
        decode = self._cut(end, final=True, audio_end_at=now)
        self.utt = None
        return decode

    def _cut(self, end: int, *, final: bool, seq: int = 0, audio_end_at: float | None = None) -> _Decode:
        assert self.utt is not None
        lo = max(self.utt.start - self.buf_start, 0)
        audio = self.buf[lo : max(end - self.buf_start, lo)].copy()
        return _Decode(self.index, self.utt.id, audio, self.utt.start, end, final, seq, audio_end_at)


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
        self._channels = [_Channel(i, VadSegmenter(params=engine.vad_params)) for i in range(channels)]
        self._finalized: set[str] = set()
        self._interim_seq: dict[str, int] = {}
        self._last_final: list[asyncio.Task[None] | None] = [None] * channels

    def speaker(self, channel: int) -> str | None:
        return STEREO_SPEAKERS[channel] if self.channels == 2 else None

    # -- worker-pool side
    def _ingest(self, pcm: Pcm) -> list[_Decode]:
        x = self._resampler.process(pcm)
        out: list[_Decode] = []
        for ch in self._channels:
            out += ch.feed(np.ascontiguousarray(x[:, ch.index]), self._interim_every)
        return out

    def _finish(self) -> list[_Decode]:
        tail = self._resampler.flush()
        out: list[_Decode] = []
        for ch in self._channels:
            if tail.shape[0]:
                out += ch.feed(np.ascontiguousarray(tail[:, ch.index]), self._interim_every)
            out += ch.finish()
        return out

    # -- event-loop side
    async def _run(self) -> None:
        pool = self._engine.pool
        try:
            async with asyncio.TaskGroup() as tg:
                while True:
                    pcm = await self._next_audio()
                    if pcm is None:
                        break
                    self._schedule(await pool.run(self._ingest, pcm), tg)
                self._schedule(await pool.run(self._finish), tg)
        except BaseExceptionGroup as group:
            raise _first_leaf(group) from None

    def _schedule(self, decodes: list[_Decode], tg: asyncio.TaskGroup) -> None:
        for d in decodes:
            fut = self._engine.scheduler.submit(
                key=(self._key, d.channel),
                audio=d.audio,
                final=d.final,
                prompt=self._prompt,
                language=self.language,
            )
            if d.final:
                self._finalized.add(d.utterance_id)  # interims still in flight are now stale
                prev = self._last_final[d.channel]
                self._last_final[d.channel] = tg.create_task(self._deliver(d, fut, prev))
            else:
                tg.create_task(self._deliver(d, fut, None))

    async def _deliver(
        self,
        d: _Decode,
        fut: concurrent.futures.Future[Transcript | None],
        prev: asyncio.Task[None] | None,
    ) -> None:
        try:
            result: Transcript | None = await asyncio.wrap_future(fut)
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
