"""One channel of a local speech stream: VAD spans, one decode at a time, the commit policy.

Audio comes in through `feed` (the stream's ingest, on the worker pool). The VAD cuts it into
spans of speech. The channel decodes a window of the head span (from `seg_start`, up to ~7 s,
which costs the encoder no more than 1 s would) one decode at a time, and hands the words past
the last commit (`done_at`) to the commit policy (wingman.stt.commit), which says what becomes a
final. Committed audio stays in the window as context (Whisper hears the sentence before) until
the window grows too long; then it starts at a commit point, and the words before it become the
prompt. Kinds of decode, most urgent first:

- final: the span's end was heard (the VAD's silence timeout); decode what is left of it.
- pause: ~100 ms into a pause; if the decode ends a sentence it is committed at once, and if
  the pause becomes the span's end, this decode is its final (decoded while the endpointer
  waited).
- interim: every `interim_every()` samples of new speech; shown as an interim, and what two of
  them agree on is committed while people keep talking. An interim still waiting in the
  shared queue when a pause or the span's end comes is taken back (`withdraw`): the urgent
  decode goes in its place instead of behind it.

When Whisper, hearing the context, stops before the new speech at a span's end, that audio
stays uncommitted: the next span, if it starts within CROSS_GAP, is decoded with it (alone,
a short end of speech is misheard: "In short," as "Make sure."); else it is decoded alone.
When an interim or pause decode so stops before 2 s+ of new speech (the other voice after a
sentence), the next ones decode from the last commit, the context only in the prompt, until
something is committed (or such a decode skips the speech too: the context audio comes back).

A voice change a diarizer heard (`speaker_changed`, one channel) ends what was said before it,
when the policy cuts there (CommitPolicy.turn_cuts; off by default): see wingman.stt.turn_cuts.

One decode in flight per channel keeps the state simple (a result is applied before the next
decode is chosen, so a commit never races a decode of audio it already covered) and bounds
each call's share of the shared decoder. Results are handed to `emit` in order. All state is
guarded by one lock: `feed` runs on the ingest thread, `_done` on whichever thread finished
the decode.
"""

from __future__ import annotations

import concurrent.futures
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from wingman.audio.vad import VadSegmenter
from wingman.events import new_id
from wingman.stt.base import SAMPLE_RATE
from wingman.stt.commit import Agreement, Commit, CommitPolicy, shift
from wingman.stt.turn_cuts import TurnCuts
from wingman.stt.whisper import F32, Transcript, Word

HISTORY = 3 * SAMPLE_RATE  # audio kept before a speech start: VAD confirmation, padding, context
MIN_DECODE = int(0.3 * SAMPLE_RATE)  # less audio than this is not worth a decode of its own
MIN_INTERIM = int(0.5 * SAMPLE_RATE)
PREROLL = int(0.2 * SAMPLE_RATE)  # audio decoded before the VAD's speech start (its pad aside)
CONTEXT_WORDS = 30  # committed words given to Whisper as the conversation so far
CONTEXT_GAP_S = 8.0  # ... when they ended at most this long before the audio decoded
WINDOW = 7 * SAMPLE_RATE  # decode windows up to this cost the encoder's minimum (10 s padded)
WINDOW_CONTEXT = 2 * SAMPLE_RATE  # audio kept before the commit point when the window moves
PAST_DONE_S = 0.05  # a decoded word is new if it ends this far past the last commit
CROSS_GAP = int(1.5 * SAMPLE_RATE)  # a span this soon after the last one is decoded with its end
STUCK_S = 2.0  # a decode with this much new speech and almost no new word: drop the context audio
STUCK_AFTER_TURN_S = 1.0  # ... after a cut at a voice change (Whisper, hearing the other voice, stops)
Kind = Literal["interim", "pause", "final"]
Submit = Callable[[F32, "str | None", bool], "concurrent.futures.Future[Transcript | None]"]


@dataclass(frozen=True)
class Out:
    """A result of the channel, in call seconds (the stream makes an SttResult of it)."""

    text: str
    is_final: bool
    start: float
    end: float
    utterance_id: str
    confidence: float | None
    words: tuple[Word, ...] = ()
    audio_end_at: float | None = None


@dataclass
class _Span:
    id: str  # utterance id of the stretch not yet committed
    start: int
    end: int | None = None
    end_at: float | None = None  # monotonic time the end was heard
    shown: bool = False  # an interim with this id went out


@dataclass
class _Job:
    kind: Kind
    start: int
    end: int
    span_id: str
    at: float  # monotonic time its audio was all in
    retry: bool = False  # decoded again without the context audio


@dataclass
class ChannelDecoder:
    """See the module docstring. `submit(audio, prompt, final)` queues a decode."""

    index: int
    segmenter: VadSegmenter
    submit: Submit
    emit: Callable[[Out], None]
    fail: Callable[[BaseException], None]
    interim_every: Callable[[], int]
    glossary: str | None = None
    # takes back the in-flight interim if it has not started: True when it did (the interim's
    # future then resolves to None); by default interims are never taken back
    withdraw: Callable[[], bool] = lambda: False
    policy: CommitPolicy = field(default_factory=CommitPolicy)
    clock: Callable[[], float] = time.monotonic  # the replay bench runs on audio time
    buf: F32 = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    buf_start: int = 0
    seg_start: int = 0  # where the decode window starts (at or before done_at, for context)
    done_at: int = 0  # audio before this is committed (emitted in finals)
    inflight: _Job | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.RLock()  # a dropped decode calls back inside submit()
        self._spans: deque[_Span] = deque()
        self._agreement = Agreement(self.policy)
        self._context: deque[tuple[str, float]] = deque(maxlen=CONTEXT_WORDS)  # (word, start)
        self._context_end = -1e9
        self._last_interim = 0
        self._last_pause = -1
        # the latest pause decode that committed nothing: the span's final if the pause lasts
        self._pause_result: tuple[_Job, tuple[Word, ...], float] | None = None
        self._retry: _Job | None = None
        # a span's end Whisper skipped when decoded with context, waiting for what follows
        self._orphan: _Job | None = None
        self._bare = False  # interims decode from the commit, without the context audio
        self._finished = False
        self._turns = TurnCuts(self._agreement)  # voice changes not cut at yet
        # the last interim or pause decode of the head span and its words not committed
        self._heard: tuple[_Span, _Job, tuple[Word, ...], float | None] | None = None

    # -- ingest side
    def feed(self, samples: F32) -> None:
        with self._lock:
            self.buf = np.concatenate([self.buf, samples]) if self.buf.size else samples.copy()
            now = self.clock()
            for ev in self.segmenter.push(samples):
                self._on_vad(ev.kind, ev.sample, now)
            self._preempt()
            self._pump()
            self._trim()

    def finish(self) -> None:
        """End of input: close the open span; its final follows."""
        with self._lock:
            self._finished = True
            now = self.clock()
            for ev in self.segmenter.flush():
                self._on_vad(ev.kind, ev.sample, now)
            self._pump()

    def close(self) -> None:
        with self._lock:
            self.closed = True

    @property
    def idle(self) -> bool:
        """Nothing left to decode or emit for the audio fed so far (after `finish`: done)."""
        with self._lock:
            return self.inflight is None and not self._spans

    @property
    def busy(self) -> bool:
        with self._lock:
            return self.inflight is not None

    @property
    def settled_at(self) -> int:
        """Audio before this position is in no open or future final of this channel."""
        with self._lock:
            if self._spans:
                return self.done_at
            if self._finished:
                return self.segmenter.position  # no more audio: nothing can start
            return max(self.segmenter.position - HISTORY, 0)

    def _on_vad(self, kind: str, sample: int, now: float) -> None:
        if kind == "start":
            # the VAD confirms speech late and soft onsets score low ("it was" on a phone line):
            # decode from a little earlier, never into what an earlier final covered
            sample = max(sample - PREROLL, self.done_at, 0)
            if not self._spans:
                self._start_span_at(sample)
            self._spans.append(_Span(new_id(), sample))
        elif self._spans and self._spans[-1].end is None:
            self._spans[-1].end = max(sample, self._spans[-1].start)
            self._spans[-1].end_at = now

    def _start_span_at(self, sample: int) -> None:
        if sample - self.done_at <= CROSS_GAP and self.done_at > 0:
            # speech resumes soon after the last span: decode it with the end of that one
            # before it, so the first words are heard in context (Whisper skips the silence)
            self.seg_start = max(self._context_start(self.done_at), self.buf_start)
        else:
            # (a span that goes on from the last one keeps the last decode to agree with)
            self.seg_start = self.done_at = max(sample, self.done_at)
            self._agreement.previous = ()

    def _trim(self) -> None:
        keep = self.seg_start if self._spans else self.segmenter.position - HISTORY
        if keep > self.buf_start:
            self.buf = self.buf[keep - self.buf_start :]
            self.buf_start = keep

    # -- choosing and submitting decodes
    def _preempt(self) -> None:
        """A span end or a pause came while this channel's interim still waits in the shared
        queue: take the interim back (it would be stale when decoded, and the final or pause
        decode would wait behind it); `_done` then sees it dropped and `_pump` asks for the
        urgent decode."""
        job = self.inflight
        if job is None or job.kind != "interim" or not self._spans or self.closed:
            return
        if self._spans[0].end is not None or self._pause_due() is not None:
            self.withdraw()

    def _pump(self) -> None:
        while self.inflight is None and self._spans and not self.closed:
            job = self._next_job()
            if job is None:
                return
            self.inflight = job
            lo, hi = job.start - self.buf_start, job.end - self.buf_start
            audio = self.buf[max(lo, 0) : max(hi, 0)].copy()
            fut = self.submit(audio, self._prompt(job.start), job.kind != "interim")
            fut.add_done_callback(functools.partial(self._done, job))

    def _next_job(self) -> _Job | None:
        head = self._spans[0]
        now = self.clock()
        if self.segmenter.position - self.seg_start > WINDOW:
            self.seg_start = max(self.seg_start, self._context_start(self.done_at))
        retry, self._retry = self._retry, None
        if retry is not None and retry.span_id == head.id:
            return retry
        if self._orphan is not None and self._orphan.span_id == head.id:
            return self._orphan_job(head)
        if head.end is not None:
            if head.end - self.done_at < MIN_DECODE // 3:
                self._close_span(head, (), None)  # nothing left after the last commit
                return self._next_job() if self._spans else None
            spec = self._pause_result
            if spec is not None and (spec[0].start, spec[0].end) == (self._window_start(), head.end):
                self._close_span(head, spec[1], spec[2], at=head.end_at)  # decoded in the pause
                return self._next_job() if self._spans else None
            return _Job("final", self.seg_start, head.end, head.id, head.end_at or now)
        pos = self.segmenter.position
        pending = self._pause_due()
        if pending is not None:
            self._last_pause = pending
            return _Job("pause", self._window_start(), pending, head.id, now)
        if pos - self.done_at >= MIN_INTERIM and pos - self._last_interim >= self.interim_every():
            self._last_interim = pos
            return _Job("interim", self._window_start(), pos, head.id, now)
        return None

    def _window_start(self) -> int:
        """Where an interim or pause decode starts: before the commit, for context, unless
        the last one, hearing that context, skipped the new speech (`_bare`)."""
        return self.done_at if self._bare else self.seg_start

    def _pause_due(self) -> int | None:
        """Where the pause decode the open span is due for ends, if one is due."""
        pending = self.segmenter.pending_end
        if (
            pending is not None
            and pending <= self.segmenter.position
            and pending != self._last_pause
            and pending - self.done_at >= MIN_DECODE
        ):
            return pending
        return None

    def _orphan_job(self, head: _Span) -> _Job | None:
        """The head span ended with audio Whisper skipped (`_orphan`, at most CROSS_GAP long):
        when the next span starts within CROSS_GAP of the last commit, close the head without
        committing that audio, so the next span's windows hold it with what follows; if none
        starts by then, decode it alone."""
        orphan = self._orphan
        assert orphan is not None and head.end is not None
        nxt = self._spans[1] if len(self._spans) > 1 else None
        if nxt is not None and nxt.start - self.done_at <= CROSS_GAP:
            self._orphan = None
            self._close_span(head, (), None, keep_done=True)
            return self._next_job() if self._spans else None
        if nxt is not None or self._finished or self.segmenter.position - self.done_at > CROSS_GAP:
            self._orphan = None
            return orphan
        return None

    def _prompt(self, start: int) -> str | None:
        """The glossary, then what was said before the window (Whisper's "previous text"),
        if it was said recently."""
        t = start / SAMPLE_RATE
        if not self._context or t - self._context_end > CONTEXT_GAP_S:
            return self.glossary
        said = " ".join(text for text, at in list(self._context) if at < t)
        if not said:
            return self.glossary
        return f"{self.glossary} {said}" if self.glossary else said

    # -- applying results (any thread)
    def _done(self, job: _Job, fut: concurrent.futures.Future[Transcript | None]) -> None:
        with self._lock:
            self.inflight = None
            if fut.cancelled() or self.closed:
                return
            exc = fut.exception()
            if exc is not None:
                self.closed = True
                self.fail(exc)
                return
            result = fut.result()
            if result is not None:
                self._apply(job, result)
            self._pump()
            self._trim()

    def _new_words(self, job: _Job, tr: Transcript) -> tuple[Word, ...]:
        """The decode's words past the last commit (call time): the window starts before it,
        for context, and Whisper re-hears what was committed there."""
        if not tr.is_speech:
            return ()
        done = self.done_at / SAMPLE_RATE
        # by the word's end: its start (or middle) can lie before the commit, when it takes the
        # context audio Whisper skipped ("Mr." from 1.9 s to 4.5 s) or when words run together;
        # a committed word heard again past the commit is caught by its text (clean)
        words = [w for w in shift(tr.words, job.start / SAMPLE_RATE) if w.end > done + PAST_DONE_S]
        return self._agreement.clean(words, done)

    def _apply(self, job: _Job, tr: Transcript) -> None:
        head = self._spans[0]
        words = self._new_words(job, tr)
        conf = round(tr.confidence, 3)
        new_s = (job.end - self.done_at) / SAMPLE_RATE
        sparse = not words or (new_s >= 2.0 and len(words) < new_s)  # speech is ~2-3 words/s
        if sparse and tr.words and job.kind != "interim" and job.start < self.done_at:
            # Whisper heard the context again and stopped before (most of) the new speech
            # ("... the other way." and not "In short,"): decode the new audio alone rather
            # than lose it
            at_end = head.end is not None and job.end == head.end
            if job.end - self.done_at >= MIN_DECODE and not job.retry:
                retry = _Job(job.kind, self.done_at, job.end, job.span_id, job.at, retry=True)
                if at_end and job.end - self.done_at <= CROSS_GAP:
                    # a short end of a span ("In short," before a comma's pause): decoded
                    # alone it is misheard ("Make sure."); if speech follows soon, decode it
                    # with that instead (see _orphan_job)
                    self._orphan = retry
                else:
                    self._retry = retry
                return
        stuck_s = STUCK_AFTER_TURN_S if self.done_at == self._turns.last_cut else STUCK_S
        if sparse and job.kind != "final" and new_s >= stuck_s:
            # an interim or pause decode that, hearing the context, stopped before seconds of
            # new speech (the other voice after a sentence; "the market." five times over
            # 48.5-55 s of the espeak call): the next windows start at the commit, the context
            # stays as the prompt only, until the next commit; if such a window skips the
            # speech too, the context audio comes back
            self._bare = job.start < self.done_at
        if job.kind == "final" or (head.end is not None and job.end == head.end):
            self._close_span(head, words, conf, at=job.at)
            return
        commit = self._agreement.update(
            words,
            seg_start=self.done_at / SAMPLE_RATE,
            audio_end=job.end / SAMPLE_RATE,
            at_pause=job.kind == "pause",
        )
        if commit is None:
            self._heard = (head, job, words, conf)
            if self._cut_at_turn():
                return
            if job.kind == "pause":
                self._pause_result = (job, words, conf)
            if words:
                head.shown = True
                self.emit(self._out(words, False, self.done_at, job.end, head.id, conf))
            return
        self._take(job, commit, conf)

    def _take(self, job: _Job, commit: Commit, conf: float | None) -> None:
        """Emit `commit` (of decode `job`) as a final and cut the head span after it."""
        head = self._spans[0]
        cut = self._quietest(commit.cut_from, commit.cut_to)
        self._bare = False
        self._pause_result = None  # its words may be committed now
        self.emit(self._out(commit.words, True, self.done_at, cut, head.id, conf, at=job.at))
        self._remember(commit.words)
        head.id, head.shown = new_id(), False
        self.done_at = cut
        self._heard = (head, job, commit.rest, conf)
        if job.end - self.seg_start > WINDOW:
            # longer windows cost more than the encoder's minimum context: move the start to
            # the first committed word of the last WINDOW_CONTEXT (a word boundary)
            self.seg_start = self._context_start(cut)
        if head.end is not None and head.end - cut < MIN_DECODE // 3:
            self._close_span(head, (), None)  # the commit took the whole span
        elif commit.rest:
            head.shown = True
            self.emit(self._out(commit.rest, False, cut, job.end, head.id, conf))

    # -- voice changes (the diarizer's, on one channel)
    def speaker_changed(self, sample: int) -> None:
        """The voice changed at `sample` (a diarizer heard it, about a second later): with
        `policy.turn_cuts`, what was said before it is committed at the word boundary nearest
        it, from the last decode if that went on past it, else from the first one that does;
        else ignored."""
        with self._lock:
            if self.closed or sample <= self.done_at or not self.policy.turn_cuts:
                return
            self._turns.add(sample)
            self._cut_at_turn()

    def _cut_at_turn(self) -> bool:
        """Commit at a voice change the last decode (`_heard`) went on past; True when it did."""
        heard = self._heard
        if heard is None or not self._spans or self._spans[0] is not heard[0]:
            self._turns.drop_before(self.done_at)
            return False
        _, job, words, conf = heard
        commit = self._turns.cut(words, done_at=self.done_at, end=job.end)
        if commit is None:
            return False
        self._take(job, commit, conf)
        self._turns.taken(self.done_at)
        return True

    def _close_span(
        self,
        span: _Span,
        words: tuple[Word, ...],
        conf: float | None,
        at: float | None = None,
        *,
        keep_done: bool = False,
    ) -> None:
        """Emit the span's final (`words`) and start the next span; with `keep_done`, the
        audio after the last commit is left for the next span to decode."""
        self._pause_result = None
        self._heard = None
        self._bare = False
        end = span.end if span.end is not None else self.done_at
        if words or span.shown:  # an empty final takes back interims that were shown
            self.emit(self._out(words, True, self.done_at, max(end, self.done_at), span.id, conf, at=at))
        self._remember(words)
        self._agreement.commit_all(words)
        self._spans.popleft()
        if not keep_done:  # else the next span (within CROSS_GAP) is decoded from before it
            self.done_at = max(self.done_at, end)
        if self._spans:
            self._start_span_at(self._spans[0].start)

    def _context_start(self, done: int) -> int:
        """Where a window that keeps about WINDOW_CONTEXT of committed audio before `done`
        starts: at the start of a committed word (or at `done`)."""
        since = (done - WINDOW_CONTEXT) / SAMPLE_RATE
        starts = [at for _, at in self._context if at >= since and at * SAMPLE_RATE >= self.seg_start]
        return max(self.seg_start, int(min(starts) * SAMPLE_RATE)) if starts else done

    def _remember(self, words: tuple[Word, ...]) -> None:
        if words:
            self._context.extend((w.text, w.start) for w in words)
            self._context_end = words[-1].end

    def _quietest(self, lo_s: float, hi_s: float) -> int:
        """The quietest 10 ms in [lo, hi] seconds (a cut there splits no word), as a sample."""
        lo = max(int(lo_s * SAMPLE_RATE), self.done_at, self.buf_start)
        hi = min(max(int(hi_s * SAMPLE_RATE), lo), self.buf_start + int(self.buf.shape[0]))
        frame = SAMPLE_RATE // 100
        if hi - lo < 2 * frame:
            return int(max((lo + hi) // 2, self.done_at))
        x = self.buf[lo - self.buf_start : hi - self.buf_start]
        n = x.shape[0] // frame
        energy = np.sum(x[: n * frame].reshape(n, frame) ** 2, axis=1)
        return lo + int(np.argmin(energy)) * frame + frame // 2

    def _out(
        self,
        words: tuple[Word, ...],
        final: bool,
        start: int,
        end: int,
        uid: str,
        conf: float | None,
        *,
        at: float | None = None,
    ) -> Out:
        text = " ".join(w.text for w in words)
        begin = start / SAMPLE_RATE
        if words:  # from the first word (the silence before it belongs to no one)
            begin = min(max(begin, words[0].start), end / SAMPLE_RATE)
            words = (
                Word(words[0].text, max(words[0].start, begin), words[0].end, words[0].probability),
                *words[1:],
            )
        return Out(text, final, round(begin, 3), end / SAMPLE_RATE, uid, conf, words, at if final else None)
