"""Text backstop for echo on stereo calls: a rep-channel final whose words repeat a
customer-channel final's words at the same time (within about a second) is the customer's voice
heard through the rep's speakers; those words are dropped from the rep's copy, so they appear
once, as the customer.

The energy gate (speakers/echo.py) silences most echo before speech recognition, but it needs
about a second of customer speech to lock on, and a reverberant room leaks words past it; this
catches what gets through, after recognition, from the words alone:
- the rep's words are aligned to the customer's recent words (longest common subsequence) where
  two words are alike (equal, or close spellings: ASR differs between the channels) and said at
  nearly the same moment (the rep's copy -0.5 s to +1 s after the customer's word);
- a span of aligned rep words is echo only when it holds at least `min_words` aligned words and
  `min_letters` letters, and at least half its words are aligned: the rep's own "yes" after the
  customer's "yes" stays, and so does anything the rep says after the customer's words ended;
- a word or two left between or beside dropped spans, said while the customer's matched words
  were being said, goes too (the remains of an echo the engine heard differently).
A rep final is compared with the customer's finals and with the latest interim of what the
customer is still saying (its words spread over it, so timed more loosely: a customer sentence
can run on for seconds after the echo's final). It is held back only while the customer channel
had speech in its time span (a frame energy check) that no customer result has reached yet, at
most `max_hold` seconds of audio; otherwise it passes at once. A dropped final is re-emitted
empty so the interims shown under its id are cleared.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

import numpy as np

from wingman.audio.levels import frame_power, percentile
from wingman.events import WordTiming
from wingman.stt.base import Pcm, StreamWrapper, SttResult, SttStream

REP_CHANNEL, CUSTOMER_CHANNEL = 0, 1
FRAME_S = 0.01
_PART_IDS = uuid.UUID("3d6e2b8a-51c4-4f0e-9a7b-2c8d9e1f0a64")
KEEP_CUSTOMER_S = 15.0  # customer finals kept to match against


@dataclass(frozen=True)
class Word:
    text: str  # normalized: lower case letters and digits
    start: float
    end: float
    slack: float = 0.0  # seconds the timing may be off (an interim's words are spread evenly)

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


def normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def timed_words(result: SttResult) -> list[WordTiming]:
    """The final's words with timings: the engine's, else its text spread evenly over it."""
    if result.words:
        return [w for w in result.words if w.text.strip()]
    texts = result.text.split()
    step = (result.end - result.start) / max(len(texts), 1)
    return [
        WordTiming(text=t, start=result.start + i * step, end=result.start + (i + 1) * step)
        for i, t in enumerate(texts)
    ]


def alike(a: str, b: str) -> bool:
    if a == b:
        return True
    return min(len(a), len(b)) >= 3 and SequenceMatcher(None, a, b).ratio() >= 0.75


def echo_indices(
    rep: list[Word],
    customer: list[Word],
    *,
    min_words: int = 2,
    min_letters: int = 8,
    max_gap: int = 3,
    lag: tuple[float, float] = (-0.5, 1.0),
) -> set[int]:
    """Indices of `rep` words that are an echo of `customer` words (both in time order)."""
    n, m = len(rep), len(customer)
    if n == 0 or m == 0:
        return set()

    def pair(i: int, j: int) -> bool:
        d = rep[i].mid - customer[j].mid
        slack = customer[j].slack
        return lag[0] - slack <= d <= lag[1] + slack and alike(rep[i].text, customer[j].text)

    score = np.zeros((n + 1, m + 1), dtype=np.int32)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = max(score[i - 1, j], score[i, j - 1])
            if pair(i - 1, j - 1):
                best = max(best, score[i - 1, j - 1] + 1)
            score[i, j] = best
    matched: dict[int, int] = {}  # rep index -> customer index
    i, j = n, m
    while i > 0 and j > 0:
        if pair(i - 1, j - 1) and score[i, j] == score[i - 1, j - 1] + 1:
            matched[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif score[i - 1, j] >= score[i, j - 1]:
            i -= 1
        else:
            j -= 1
    spans: list[list[int]] = []
    for k in sorted(matched):
        if spans and k - spans[-1][-1] <= max_gap + 1:
            spans[-1].append(k)
        else:
            spans.append([k])
    out: set[int] = set()
    for span in spans:
        length = span[-1] - span[0] + 1
        letters = sum(len(rep[k].text) for k in span)
        if len(span) >= min_words and letters >= min_letters and 2 * len(span) >= length:
            out.update(range(span[0], span[-1] + 1))
    if not out:
        return out
    # remains: runs of at most two kept words next to a dropped span, said while the customer's
    # matched words were being said
    heard = [customer[j] for k, j in matched.items() if k in out]
    lo, hi = min(w.start for w in heard) - 0.2, max(w.end for w in heard) + 0.2
    k = 0
    while k < n:
        if k in out:
            k += 1
            continue
        run = [k]
        while run[-1] + 1 < n and run[-1] + 1 not in out:
            run.append(run[-1] + 1)
        beside = (run[0] - 1 in out) or (run[-1] + 1 in out)
        if beside and len(run) <= 2 and all(lo <= rep[r].mid <= hi for r in run):
            out.update(run)
        k = run[-1] + 1
    return out


def without_echo(result: SttResult, customer: list[Word]) -> list[SttResult]:
    """The rep final without the words that echo `customer`: itself, its kept parts (the first
    keeps its id), or nothing."""
    words = timed_words(result)
    norm = [Word(normalize(w.text), w.start, w.end) for w in words]
    keep = [i for i, w in enumerate(norm) if w.text]
    drop = echo_indices([norm[i] for i in keep], customer)
    dropped = {keep[i] for i in drop}
    if not dropped:
        return [result]
    parts: list[list[WordTiming]] = []
    last = -2
    for i, w in enumerate(words):
        if i in dropped:
            continue
        if parts and i == last + 1:
            parts[-1].append(w)
        else:
            parts.append([w])
        last = i
    out = []
    for p, ws in enumerate(parts):
        out.append(
            replace(
                result,
                text=" ".join(w.text.strip() for w in ws),
                utterance_id=result.utterance_id
                if p == 0
                else str(uuid.uuid5(_PART_IDS, f"{result.utterance_id}/{p}")),
                start=ws[0].start,
                end=ws[-1].end,
                words=tuple(ws) if result.words else (),
            )
        )
    return out


class _Activity:
    """Which 10 ms frames of the customer channel held speech (energy over a running floor)."""

    def __init__(self, active_db: float = 15.0, history: int = 600) -> None:
        self.active_db = active_db
        self._history = history
        self._db = np.zeros(0, dtype=np.float64)  # the last `history` frames' dB
        self._active: list[bool] = []
        self._carry = np.zeros(0, dtype=np.float32)

    def push(self, mono: Pcm) -> None:
        step = int(16000 * FRAME_S)
        x = np.concatenate([self._carry, mono]) if self._carry.shape[0] else mono
        n = x.shape[0] // step
        self._carry = x[n * step :]
        if n == 0:
            return
        power = frame_power(x[: n * step].reshape(n, step)) + 1e-12
        db = 10 * np.log10(power)
        self._db = np.concatenate([self._db, db])[-self._history :]
        floor = percentile(self._db, 20)
        self._active.extend((db > floor + self.active_db).tolist())

    def last_active(self, start: float, end: float) -> float | None:
        """The end of the last speech frame in [start, end], None when there was none."""
        lo, hi = max(int(start / FRAME_S), 0), min(int(end / FRAME_S) + 1, len(self._active))
        for f in range(hi - 1, lo - 1, -1):
            if self._active[f]:
                return (f + 1) * FRAME_S
        return None


class EchoTextStream(StreamWrapper):
    """Wraps a stereo `inner` (rep channel 0, customer 1); rep finals lose the customer's echo.
    Closing it closes `inner`."""

    def __init__(self, *, inner: SttStream, max_hold: float = 2.0) -> None:
        if inner.channels != 2:
            raise ValueError("the echo backstop is for stereo calls")
        super().__init__(inner=inner)
        self.max_hold = max_hold
        self._activity = _Activity()
        self._customer: deque[SttResult] = deque()
        self._interims: dict[str, SttResult] = {}  # the customer's open utterances, latest interim
        self._heard_until = 0.0  # end of the customer's latest result
        # (arrival: wall time, audio pushed by then; the rep result), in order
        self._held: deque[tuple[tuple[float, int], SttResult]] = deque()
        self._results: asyncio.Queue[SttResult | None] = asyncio.Queue()
        self.dropped_words = 0

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._relay())
            tg.create_task(self._release_loop())
            while (pcm := await self._next_audio()) is not None:
                self._activity.push(np.ascontiguousarray(pcm[:, CUSTOMER_CHANNEL]))
                self.inner.push_audio(pcm)
            self.inner.end_input()

    async def _relay(self) -> None:
        async for result in self.inner:
            self._results.put_nowait(result)
        self._results.put_nowait(None)

    async def _release_loop(self) -> None:
        done = False
        while not done:
            try:
                result = await asyncio.wait_for(self._results.get(), 0.1)
            except TimeoutError:
                result = None
            else:
                done = result is None
            if result is not None:
                self._take(result)
            self._release(force=done)
        self.finalized_samples = self.inner.finalized_samples

    def _take(self, result: SttResult) -> None:
        if result.channel != REP_CHANNEL:
            self._heard_until = max(self._heard_until, result.end)
            if not result.is_final:
                self._interims[result.utterance_id] = result
            else:
                self._interims.pop(result.utterance_id, None)
                if result.text.strip():
                    self._customer.append(result)
            old = self._heard_until - KEEP_CUSTOMER_S
            while self._customer and self._customer[0].end < old:
                self._customer.popleft()
            self._interims = {k: r for k, r in self._interims.items() if r.end >= old}
            self._emit(result)
            return
        self._held.append(((time.monotonic(), self.samples_in), result))

    def _release(self, *, force: bool) -> None:
        now = time.monotonic()
        while self._held:
            (wall, pushed), result = self._held[0]
            # held for `max_hold` seconds of audio (the engine may run behind or ahead of the wall
            # clock), never more than three times that of wall time
            late = (self.samples_in - pushed) / self.sample_rate >= self.max_hold
            late = late or now - wall >= 3 * self.max_hold
            if result.is_final and not (force or late or self._ready(result)):
                break
            self._held.popleft()
            if not result.is_final or not result.text.strip():
                self._emit(result)
                continue
            self._emit_final(result)
        if not self._held:
            self.finalized_samples = self.inner.finalized_samples

    def _ready(self, result: SttResult) -> bool:
        """The customer's words of this final's time have come (or the customer was quiet)."""
        spoke = self._activity.last_active(result.start - 0.5, result.end)
        if spoke is None:
            return True
        return self._heard_until >= spoke - 0.3

    def _emit_final(self, result: SttResult) -> None:
        # the customer's finals, and the interims of what they are still saying (words spread
        # over the interim: their timing is looser)
        customer = [
            Word(normalize(w.text), w.start, w.end, 0.0 if c.is_final else 1.0)
            for c in [*self._customer, *self._interims.values()]
            if c.end >= result.start - 2.0 and c.start <= result.end + 1.0
            for w in timed_words(c)
            if normalize(w.text)
        ]
        customer.sort(key=lambda w: w.start)
        parts = without_echo(result, customer)
        if parts == [result]:
            self._emit(result)
            return
        self.dropped_words += len(timed_words(result)) - sum(len(timed_words(p)) for p in parts)
        if not parts:  # all echo: clear the interims shown under its id
            self._emit(replace(result, text="", words=()))
        for part in parts:
            self._emit(part)
