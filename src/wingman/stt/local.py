"""The local streaming speech engine: Silero VAD per channel + faster-whisper, fully offline.

How a stream works: audio (any rate, resampled to 16 kHz) goes through a `ChannelDecoder` per
channel (wingman.stt.channel) on the worker pool: the VAD cuts it into spans of speech, and the
open span is decoded again and again (every `interim_interval_s` of new speech, and ~100 ms into
each pause), one decode at a time per channel, with word timings. Each decode is shown as an
interim; the commit policy (wingman.stt.commit) turns into finals what is settled while people
keep talking: a sentence that ends at a pause, sentence punctuation two successive decodes agree
on, and past a few seconds the agreed words up to the quietest boundary. The rest of the span is
decoded on, with the committed text as Whisper's prompt. At the end of speech (the VAD's silence
timeout) what is left is the final, usually already decoded in the pause. Finals carry their
words' timings; times are seconds of call audio; `audio_end_at` is time.monotonic() when the
audio the final covers was all in.

One model and one `DecodeScheduler` (wingman.stt.scheduler) serve every call of the engine,
decoding pending requests of different calls as one batch: finals and pause decodes go
before interims, and a channel never has more than one decode waiting, so latency does not grow
over a long call or with load: interims thin out (their cadence also backs off to keep the
decoder at most about half busy with them), finals keep coming. A call's prompt (its glossary,
then what was said) may lose a few of its oldest words in a batch, so that calls whose
conversations differ in length share one generate call (wingman.stt.batch).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wingman.audio.pool import AudioWorkerPool
from wingman.audio.resample import StreamResampler
from wingman.audio.vad import VadParams, VadSegmenter, shared_vad
from wingman.errors import ProviderError, WingmanError
from wingman.events import WordTiming, new_id
from wingman.speakers.roles import ROLES
from wingman.stt.base import SAMPLE_RATE, Pcm, SpeechToText, SttResult, SttStream
from wingman.stt.channel import ChannelDecoder, Out
from wingman.stt.commit import CommitPolicy
from wingman.stt.scheduler import DecodeScheduler, Job
from wingman.stt.whisper import (
    F32,
    Transcript,
    WhisperDecoder,
    glossary_prompt,
    model_dir,
)

MAX_SPAN_S = 7.5


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
        parallel_decodes: int = 0,
        max_batch: int = 4,
        policy: CommitPolicy | None = None,
    ) -> None:
        """`parallel_decodes`: batches decoded at once, 0 = 2 on 2+ cores; `cpu_threads`: the
        CTranslate2 threads of each, 0 = the cores (at most 4) shared among them; `max_batch`:
        decodes of different calls run as one batch (wingman.stt.scheduler); `min_context_s`
        30 is stock Whisper.

        Two batches of up to 4 on one thread each beat one batch of up to 8 on two threads on
        2 cores: 127 against 147-171 ms of CPU per decode (a 2-7 s window, tiny.en), and with
        10 calls at real-time pace 289 against 330 ms per decode, the finals lagging less
        (bench/capacity.py; two threads on one batch wait on each other, and a batch's Python
        parts leave the second core idle)."""
        self.model = model
        self.data_dir = data_dir
        # spans of at most 7.5 s: a final can never hold more than that, even when the commit
        # policy finds nothing to agree on (Whisper unsure all along)
        self.vad_params = vad or VadParams(max_speech_s=MAX_SPAN_S)
        self.interim_interval_s = interim_interval_s
        cores = min(4, os.cpu_count() or 1)
        parallel_decodes = parallel_decodes or min(2, cores)
        self.cpu_threads = cpu_threads or max(1, cores // parallel_decodes)
        self.min_context_s = min_context_s
        self._own_pool = pool is None
        self.pool = pool or AudioWorkerPool(max_workers=2)  # ingest: resampling and VAD
        # decodes run on threads of their own: a batch holds its thread for its whole decode,
        # and on the shared pool it would keep the calls' ingest (VAD) waiting
        self.decode_pool = AudioWorkerPool(max_workers=parallel_decodes, thread_name_prefix="wingman-decode")
        self._decoder: WhisperDecoder | None = None
        self._load_lock = threading.Lock()
        self.scheduler = DecodeScheduler(
            pool=self.decode_pool,
            decode_batch=self._decode_batch,
            parallel=parallel_decodes,
            max_batch=max_batch,
        )
        self._parallel = parallel_decodes
        self.policy = policy or CommitPolicy()

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

    def _decode_batch(self, jobs: Sequence[Job]) -> list[Transcript]:
        dec = self.decoder
        return dec.decode_many(
            [
                dec.request(j.audio, prompt=j.prompt, language=j.language, words=True, keep=j.keep)
                for j in jobs
            ]
        )

    def _warm(self) -> None:
        shared_vad()
        self.decoder.decode(np.zeros(SAMPLE_RATE, dtype=np.float32))  # first call allocates

    async def warm_up(self) -> None:
        """Load the VAD and Whisper and run one decode, so the first call is not slow."""
        await self.pool.run(self._warm)

    def shutdown(self) -> None:
        """Stop the decode threads (and the ingest pool if this engine made it), blocking."""
        self.decode_pool.shutdown()
        if self._own_pool:
            self.pool.shutdown()

    async def aclose(self) -> None:
        await self.decode_pool.aclose()
        if self._own_pool:
            await self.pool.aclose()


class LocalWhisperStream(SttStream, engine=LocalWhisperStt):
    """One call on the local engine: a `ChannelDecoder` per channel (wingman.stt.channel)."""

    provider = "local"

    def __init__(
        self,
        engine: LocalWhisperStt,
        /,
        *,
        sample_rate: int,
        channels: int,
        language: str,
        vocabulary: Sequence[str] = (),
    ) -> None:
        super().__init__(sample_rate=sample_rate, channels=channels, language=language, vocabulary=vocabulary)
        self._engine = engine
        self._key = new_id()
        self._resampler = StreamResampler(in_rate=sample_rate, channels=channels)
        self._interim_every = int(engine.interim_interval_s * SAMPLE_RATE)
        self._loop: asyncio.AbstractEventLoop | None = None
        glossary = glossary_prompt(self.vocabulary)
        self._keep = glossary or ""  # a batch may drop the oldest context, never the glossary
        self._channels = [
            ChannelDecoder(
                index=i,
                segmenter=VadSegmenter(params=engine.vad_params),
                submit=functools.partial(self._submit, i),
                withdraw=functools.partial(self._withdraw, i),
                emit=functools.partial(self._from_worker, i),
                fail=self._failed_from_worker,
                interim_every=self._interim_samples,
                glossary=glossary,
                policy=engine.policy,
            )
            for i in range(channels)
        ]
        self._changes: deque[int] = deque()  # voice changes (samples) for channel 0, from the loop
        self._ingested = 0  # input frames through VAD so far
        self._progress = asyncio.Event()
        self._error: BaseException | None = None

    async def settle(self) -> None:
        """Flow control: wait until the audio pushed so far is segmented and no decode it asked
        for is still running (its results are out). A sender that waits on this never outruns
        the engine; one that does not gets finals all the same, with fewer interims."""
        target = self.samples_in
        while self._task is not None and not self._task.done():
            if self._ingested >= target and not any(ch.busy for ch in self._channels):
                return
            await self._wait_progress()

    async def _wait_progress(self) -> None:
        assert self._task is not None
        self._progress.clear()
        waiter = asyncio.ensure_future(self._progress.wait())
        try:
            await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED, timeout=1.0)
        finally:
            waiter.cancel()

    def speaker(self, channel: int) -> str | None:
        return ROLES[channel] if self.channels == 2 else None

    # -- worker side (ingest thread and decode threads)
    def _submit(
        self, channel: int, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        return self._engine.scheduler.submit(
            key=(self._key, channel),
            audio=audio,
            final=final,
            prompt=prompt,
            language=self.language,
            keep=self._keep,
        )

    def _withdraw(self, channel: int) -> bool:
        return self._engine.scheduler.withdraw((self._key, channel))

    def speaker_changed(self, at: float) -> None:
        """One channel: its decoder cuts there (wingman.stt.channel), applied on the ingest
        thread before the next audio."""
        if self.channels == 1:
            self._changes.append(int(at * SAMPLE_RATE))

    def _interim_samples(self) -> int:
        # interims take at most about half the decoder's time, so a final rarely waits on one
        busy = int(self._engine.scheduler.interim_interval() * SAMPLE_RATE)
        return max(self._interim_every, busy)

    def _from_worker(self, channel: int, out: Out) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver, channel, out)

    def _failed_from_worker(self, exc: BaseException) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._fail, exc)

    def _take_changes(self) -> None:
        while self._changes:
            self._channels[0].speaker_changed(self._changes.popleft())

    def _ingest(self, pcm: Pcm) -> None:
        self._take_changes()
        x = self._resampler.process(pcm)
        for ch in self._channels:
            ch.feed(np.ascontiguousarray(x[:, ch.index]))

    def _finish(self) -> None:
        self._take_changes()
        tail = self._resampler.flush()
        for ch in self._channels:
            if tail.shape[0]:
                ch.feed(np.ascontiguousarray(tail[:, ch.index]))
            ch.finish()

    # -- event-loop side
    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        pool = self._engine.pool
        while True:
            pcm = await self._next_audio()
            if pcm is None:
                break
            await pool.run(self._ingest, pcm)
            self._ingested += pcm.shape[0]
            self._advance_finalized()
            self._progress.set()
            self._raise_failure()
        await pool.run(self._finish)
        while not all(ch.idle for ch in self._channels):
            self._raise_failure()
            await self._wait_progress()
        self._raise_failure()
        self._advance_finalized()

    def _raise_failure(self) -> None:
        exc = self._error
        if exc is None:
            return
        if isinstance(exc, WingmanError):
            raise exc
        raise ProviderError(f"local speech decode failed: {type(exc).__name__}") from exc

    def _fail(self, exc: BaseException) -> None:
        self._error = self._error or exc
        self._progress.set()

    def _deliver(self, channel: int, out: Out) -> None:
        self._emit(
            SttResult(
                text=out.text,
                is_final=out.is_final,
                channel=channel,
                start=out.start,
                end=out.end,
                utterance_id=out.utterance_id,
                speaker=self.speaker(channel),
                confidence=out.confidence,
                audio_end_at=out.audio_end_at,
                words=_timings(out) if out.is_final else (),
            )
        )
        self._advance_finalized()
        self._progress.set()

    def _advance_finalized(self) -> None:
        """Keep `finalized_samples` (input frames) up to date for a failover's replay."""
        settled = min(ch.settled_at for ch in self._channels)
        frames = settled * self.sample_rate // SAMPLE_RATE
        self.finalized_samples = max(self.finalized_samples, min(frames, self.samples_in))

    async def _close(self) -> None:
        for ch in self._channels:
            ch.close()
        key = self._key
        self._engine.scheduler.cancel(lambda k: isinstance(k, tuple) and k[0] == key)


def _timings(out: Out) -> tuple[WordTiming, ...]:
    return tuple(
        WordTiming(text=w.text, start=w.start, end=w.end, probability=w.probability) for w in out.words
    )
