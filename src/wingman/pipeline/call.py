"""One live call: audio > STT > aggregator > bus, with finals saved as they arrive.

Audio that needs resampling is converted (decoded, validated, resampled) in the worker pool,
never on the event loop; 16 kHz audio needs only a vectorized cast, cheaper than the hop to a
worker thread, so it is converted in place.
An utterance's end is "heard" when the chunk holding it arrived here (push_chunk), not when
the speech engine took it: every latency the server measures (wingman/metrics.py) starts then,
so the intake queue, the conversion and the relays in front of the engine are counted.
Every final segment is handed to the StoreWriter the moment it arrives, so a crash loses
seconds, not the call. What the rep sees goes out through the call's output port
(pipeline/output.py; the Socket.IO side is realtime/outgoing.py). Blocks go to the agents over
the bus; their insights come back through the gateway's insight sink (realtime/sink.py), not
through this object.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import deque
from collections.abc import Sequence

import numpy as np

from wingman import logs, metrics
from wingman.audio.pcm import bytes_per_frame, decode_chunk
from wingman.audio.resample import StreamResampler
from wingman.errors import BadInput, SpeechFailed, WingmanError
from wingman.events import (
    TOPIC_BLOCKS,
    TOPIC_INSIGHTS,
    AudioFormat,
    TranscriptBlock,
    TranscriptFragment,
    WordTiming,
)
from wingman.health import TENANT
from wingman.pipeline.aggregator import BlockAggregator
from wingman.pipeline.options import PipelineOptions, ResumePoint
from wingman.pipeline.output import CallOutput
from wingman.recordings.recorder import CallRecorder
from wingman.sentiment.tracker import SentimentTracker
from wingman.speakers.diarizer import OnlineDiarizer
from wingman.speakers.echo import EchoGate
from wingman.speakers.echo_text import EchoTextStream
from wingman.speakers.roles import ROLES
from wingman.speakers.stream import DiarizedStream
from wingman.stt.base import SAMPLE_RATE, Pcm, SttResult, SttStream
from wingman.stt.failover import FailoverStream

log = logging.getLogger(__name__)

START = ResumePoint()  # a new call
MAX_QUEUED_CHUNKS = 200  # ~20 s of 100 ms chunks; beyond that the client is told to slow down
# chunks whose arrival time is kept (5 min of 100 ms chunks; a result's end is seconds old)
MAX_ARRIVALS = 3000
# Blocks the bus refused (a Redis or Kafka restart) wait here, in order, and the ticker retries
# them: the agents hear of them late, but hear of them. Beyond this many the oldest are dropped.
MAX_UNPUBLISHED_BLOCKS = 1000
RETRY_PUBLISH_SECONDS = 0.5  # between attempts while the bus is down
FINAL_PUBLISH_SECONDS = 15.0  # at the end of the call, how long to keep trying


class CallPipeline:
    """Runs one call's stream until `finish()`; safe to feed from a Socket.IO handler."""

    def __init__(
        self,
        *,
        call_id: str,
        user_id: str,
        fmt: AudioFormat,
        options: PipelineOptions,
        output: CallOutput,
        workspace_id: str = "",
        vocabulary: Sequence[str] = (),
        resume: ResumePoint = START,
        diarizer: OnlineDiarizer | None = None,
        recorder: CallRecorder | None = None,
    ) -> None:
        """`options`: what every call of the node shares (pipeline/options.py); `resume`:
        where this call goes on (a new call: from the start); `diarizer` labels the speakers
        of a one-channel call (speakers/stream.py)."""
        o = options
        self.call_id = call_id
        self.user_id = user_id
        self.workspace_id = workspace_id or user_id  # "": a pre-workspace caller (tenant = user)
        self.fmt = fmt
        self._pool = o.pool
        self._writer = o.writer
        self._bus = o.bus
        self._output = output
        self._max_chunk_bytes = o.max_chunk_bytes
        self._clock = clock = o.clock
        self.time_offset = resume.time_offset
        self._redact = o.redact
        # the customer's sentiment per final segment, live (sentiment/tracker.py)
        self._sentiment = None
        if o.sentiment is not None:
            self._sentiment = SentimentTracker(
                model=o.sentiment, call_id=call_id, user_id=user_id, workspace_id=self.workspace_id
            )
        self._max_call_seconds = o.max_call_seconds
        self._persist_wait = o.persist_wait
        self._bytes_per_second = bytes_per_frame(fmt) * fmt.sample_rate
        self.received_seconds = 0.0  # audio accepted by push_chunk (this pipeline's part)
        # (start, end) of each accepted chunk in this pipeline's seconds (the stream's, before
        # time_offset) -> the clock when it arrived: when the results ending in it were heard
        self._arrivals: deque[tuple[float, float, float]] = deque(maxlen=MAX_ARRIVALS)
        self._unpublished: deque[TranscriptBlock] = deque()
        self._publishing = asyncio.Lock()
        self._publish_failed_at: float | None = None
        self._resampler = StreamResampler(in_rate=fmt.sample_rate, channels=fmt.channels)
        self._stream: SttStream = o.stt.stream(
            sample_rate=SAMPLE_RATE, channels=fmt.channels, language=o.language, vocabulary=vocabulary
        )
        if isinstance(self._stream, FailoverStream):
            # this call moved from the cloud engine to the local one: tell the rep
            self._stream.add_status_listener(self._output.on_provider_status)
        if diarizer is not None and fmt.channels == 1:
            self._stream = DiarizedStream(inner=self._stream, diarizer=diarizer, pool=o.pool)
        self._echo = EchoGate() if o.echo_gate and fmt.channels == 2 else None
        if self._echo is not None:
            # what gets past the gate (its first second, leaks) is dropped by text alignment
            self._stream = EchoTextStream(inner=self._stream)
        self._recorder = recorder  # the call's audio on disk, if its workspace records (recordings/)
        self._aggregator = BlockAggregator(
            call_id=call_id,
            user_id=user_id,
            workspace_id=self.workspace_id,
            clock=clock,
            first_seq=resume.first_seq,
            talk_seconds=resume.talk_seconds,
        )
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._finishing = False
        self._results_done = asyncio.Event()
        self.finals = 0
        self.audio_seconds = 0.0
        self.last_audio_at = clock()

    # -- lifecycle
    def start(self) -> None:
        # provider errors of this call's work are tagged with its tenant (health.TENANT)
        context = contextvars.copy_context()
        context.run(TENANT.set, self.workspace_id)
        self._task = asyncio.get_running_loop().create_task(
            self._main(), name=f"call-{self.call_id}", context=context
        )

    @property
    def finishing(self) -> bool:
        return self._finishing

    def push_chunk(self, data: bytes) -> None:
        """Queue one binary audio-chunk; cheap checks here, the rest in the worker pool."""
        if self._finishing:
            raise BadInput("the call is ending; no more audio is accepted", code="call_ending")
        if not data:
            raise BadInput("empty audio chunk", code="audio_empty")
        if len(data) > self._max_chunk_bytes:
            raise BadInput(
                f"audio chunk of {len(data)} bytes exceeds {self._max_chunk_bytes}",
                code="audio_too_large",
            )
        if self._chunks.qsize() >= MAX_QUEUED_CHUNKS:
            raise BadInput("audio arrives faster than it can be processed", code="audio_backpressure")
        seconds = len(data) / self._bytes_per_second
        if self._max_call_seconds is not None and (
            self.time_offset + self.received_seconds + seconds > self._max_call_seconds
        ):
            raise BadInput(
                f"the call reached its maximum length of {self._max_call_seconds:.0f} s: end it",
                code="call_too_long",
            )
        start = self.received_seconds
        self.received_seconds += seconds
        self.last_audio_at = now = self._clock()
        self._arrivals.append((start, self.received_seconds, now))
        self._chunks.put_nowait(data)

    async def finish(self, timeout: float = 30.0) -> None:
        """End of input: finalize the last utterance, flush blocks and wait for the writes."""
        if not self._finishing:
            self._finishing = True
            self._chunks.put_nowait(None)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except TimeoutError:
                log.error("call did not finish in time", extra={"call_id": self.call_id})
                await self.abort()
        # this tenant's writes only: another tenant's shard being down does not hold us up
        await self._writer.drain(timeout, user_id=self.user_id)

    async def abort(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._stream.aclose()

    # -- the loops
    async def _main(self) -> None:
        logs.bind(call_id=self.call_id)  # every log line of this call's tasks carries its id
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._convert_loop())
                tg.create_task(self._results_loop())
                ticker = tg.create_task(self._tick_loop())
                await self._results_done.wait()
                ticker.cancel()
        finally:
            if self._recorder is not None:
                self._recorder.close()
            await self._stream.aclose()

    def _convert(self, data: bytes | None) -> Pcm:
        if data is None:
            out = self._resampler.flush()
        else:
            pcm = decode_chunk(data, self.fmt, max_bytes=self._max_chunk_bytes)
            out = self._resampler.process(pcm)
        return np.ascontiguousarray(out, dtype=np.float32)

    async def _convert_loop(self) -> None:
        while True:
            data = await self._chunks.get()
            try:
                if self._resampler.passthrough:
                    pcm = self._convert(data)  # microseconds for a 100 ms chunk
                else:
                    pcm = await self._pool.run(self._convert, data)
            except BadInput as exc:
                await self._output.on_error(exc)
                continue
            if self._recorder is not None:  # before the echo gate: the audio as it was heard
                self._recorder.write(pcm, at=self.time_offset + self.audio_seconds)
            if pcm.shape[0] and self._echo is not None:
                pcm = self._echo.process(pcm)  # ~0.1 ms per 100 ms chunk: numpy on frame energies
            if pcm.shape[0]:
                self.audio_seconds += pcm.shape[0] / SAMPLE_RATE
                self._stream.push_audio(pcm)
            if data is None:
                self._stream.end_input()
                return

    async def _results_loop(self) -> None:
        try:
            async for result in self._stream:
                await self._on_result(result)
        except WingmanError as exc:
            log.error("speech stream failed", extra={"call_id": self.call_id, "code": exc.code})
            await self._output.on_error(SpeechFailed("speech recognition failed"))
        finally:
            for block in self._aggregator.flush():
                await self._publish(block)
            deadline = self._clock() + FINAL_PUBLISH_SECONDS
            for _ in range(int(FINAL_PUBLISH_SECONDS / RETRY_PUBLISH_SECONDS) + 1):
                if await self._flush_blocks() or self._clock() >= deadline:
                    break
                await asyncio.sleep(RETRY_PUBLISH_SECONDS)
            if self._unpublished:
                log.error("blocks lost: the bus stayed down",
                          extra={"call_id": self.call_id, "blocks": len(self._unpublished)})
            self._results_done.set()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for block in self._aggregator.tick(self._clock()):
                await self._publish(block)
            if self._unpublished and not self._publishing.locked():
                await self._flush_blocks()

    async def _on_result(self, result: SttResult) -> None:
        text = result.text.strip()
        if self._redact is not None:
            # before anything is emitted, stored, aggregated or read by an agent
            text = self._redact(text)
        if not text:
            if result.is_final:
                # the engine took back interims it had shown (no speech after all): clear them
                await self._output.on_fragment(TranscriptFragment(
                    id=result.utterance_id, call_id=self.call_id, text="", is_final=True,
                    speaker=result.speaker, channel=result.channel,
                    start=result.start + self.time_offset, end=result.end + self.time_offset,
                ))
            return
        speaker = result.speaker
        if speaker is None and self.fmt.channels == 2:
            speaker = ROLES[result.channel] if result.channel < 2 else None
        fragment = TranscriptFragment(
            id=result.utterance_id,
            call_id=self.call_id,
            text=text,
            is_final=result.is_final,
            speaker=speaker,
            channel=result.channel,
            start=result.start + self.time_offset,
            end=result.end + self.time_offset,
            confidence=result.confidence,
            words=self._words(result, text),
            audio_end_at=self._heard_at(result),
        )
        if fragment.is_final:
            self.finals += 1
            saved = self._writer.save_segment(
                user_id=self.user_id, call_id=self.call_id, fragment=fragment, workspace_id=self.workspace_id
            )
            if self._writer.healthy_for(self.user_id) and self._persist_wait > 0:
                # saved before shown (bounded): a final the client saw survives a kill -9
                await asyncio.wait({saved}, timeout=self._persist_wait)
        # the output port times audio -> client at its emit (wingman/metrics.py)
        await self._output.on_fragment(fragment, live=not self._finishing)
        if self._sentiment is not None:
            await self._score(fragment)
        for block in self._aggregator.add(fragment):
            await self._publish(block)

    def _heard_at(self, result: SttResult) -> float | None:
        """When the chunk holding the result's end arrived; the engine's own stamp (when it
        took that audio) if the chunk is no longer known, None if the engine gave none (a
        result it does not time)."""
        if result.audio_end_at is None:
            return None
        end = result.end
        for start, stop, at in reversed(self._arrivals):  # results end in recent chunks
            if start < end - 1e-6:  # 1 µs slack: summed chunk lengths carry float noise
                return at if end <= stop + 1e-6 else result.audio_end_at
        return result.audio_end_at

    def _words(self, result: SttResult, text: str) -> tuple[WordTiming, ...]:
        """The engine's word timings in call seconds; redacted word by word, and left out when
        that does not give the redacted text (a number spread over words must not survive)."""
        if not result.words:
            return ()
        words = tuple(
            w.model_copy(update={
                "text": self._redact(w.text) if self._redact is not None else w.text,
                "start": w.start + self.time_offset, "end": w.end + self.time_offset,
            })
            for w in result.words
        )
        return words if " ".join(w.text for w in words) == text else ()

    async def _score(self, fragment: TranscriptFragment) -> None:
        """A final customer segment's sentiment: saved (same writer as the segment, after it),
        shown, and a sharp drop sent as a coaching insight through the insights topic."""
        assert self._sentiment is not None
        scored = self._sentiment.observe(fragment)
        if scored is None:
            return
        call_id = self.call_id
        self._writer.save_sentiment(
            user_id=self.user_id, workspace_id=self.workspace_id, call_id=call_id,
            segment_id=scored.segment_id, start=scored.start,
            score=scored.sentiment.score, label=scored.sentiment.label,
        )
        await self._output.on_sentiment(scored)
        if scored.coaching is not None:
            try:
                await self._bus.publish(TOPIC_INSIGHTS, scored.coaching, key=call_id)
            except WingmanError:
                log.warning("coaching moment not published", extra={"call_id": call_id})

    async def _publish(self, block: TranscriptBlock) -> None:
        """Hand a block to the bus after any still waiting; while the bus is down this returns
        at once (the ticker retries), so transcripts keep flowing to the client."""
        if len(self._unpublished) >= MAX_UNPUBLISHED_BLOCKS:
            lost = self._unpublished.popleft()
            log.error("block dropped: the bus was down too long",
                      extra={"call_id": self.call_id, "seq": lost.seq})
        self._unpublished.append(block)
        failed_at = self._publish_failed_at
        if failed_at is None or self._clock() - failed_at >= RETRY_PUBLISH_SECONDS:
            await self._flush_blocks()

    async def _flush_blocks(self) -> bool:
        """Publish waiting blocks in order; False when the bus refused one (it stays first)."""
        async with self._publishing:
            while self._unpublished:
                block = metrics.stamp_block(self._unpublished[0])  # hop stamps, trace context
                try:
                    await self._bus.publish(TOPIC_BLOCKS, block, key=self.call_id)
                except WingmanError:
                    metrics.block_publish_retry()
                    self._publish_failed_at = self._clock()
                    waiting = len(self._unpublished)
                    log.warning("block not published yet; will retry",
                                extra={"call_id": self.call_id, "seq": block.seq, "waiting": waiting})
                    return False
                self._unpublished.popleft()
                metrics.block_published(block)
            self._publish_failed_at = None
            return True
