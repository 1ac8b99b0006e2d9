"""One decode scheduler per process, shared by every live call's local speech stream.

Calls submit decodes (a channel has at most one in flight, wingman.stt.channel). The scheduler
runs them on the audio worker pool, `parallel` batches at a time, each batch up to `max_batch`
requests from different calls decoded in ONE batched CTranslate2 call (wingman.stt.batch):
finals first (in order), then interims, at most one pending interim per channel (a newer one
replaces it), so a busy node drops stale interims instead of queueing them; a channel whose
span ends while its interim still waits takes it back (`withdraw`) and asks for the final. When a batch could
take more, the worker waits at most `gather_s` for more requests; a stalled call is never
waited for (only what is pending goes in), and no call starves (finals in order, interims in
the order their channel first asked). `interim_interval` spaces each channel's interims by
how many channels are talking per decode slot, so a crowded node spends most of its decodes on
finals and pause decodes instead of interims it would drop or run late.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from wingman import metrics
from wingman.audio.pool import AudioWorkerPool
from wingman.stt.whisper import F32, Transcript

INTERIM_SHARE = 0.5  # of the decoder's slot time, at most, for interims when calls crowd it
ACTIVE_S = 3.0  # a key that asked for a decode this recently is a channel in speech


@dataclass
class Job:
    key: Hashable
    audio: F32
    prompt: str | None
    language: str | None
    final: bool
    future: concurrent.futures.Future[Transcript | None]
    keep: str | None = None  # the prompt's head a batch never shortens (WhisperDecoder.request)


DecodeOne = Callable[[F32, str | None, str | None], Transcript]
DecodeBatch = Callable[[Sequence[Job]], list[Transcript]]


class DecodeScheduler:
    """Shares one decoder among every call: batches across calls, finals first, stale interims
    dropped. Give `decode` (one utterance) or `decode_batch` (several, in order)."""

    def __init__(
        self,
        *,
        pool: AudioWorkerPool,
        decode: DecodeOne | None = None,
        decode_batch: DecodeBatch | None = None,
        parallel: int = 1,
        max_batch: int = 8,
        gather_s: float = 0.004,
        interim_share: float = INTERIM_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if decode_batch is None:
            if decode is None:
                raise ValueError("DecodeScheduler needs decode or decode_batch")
            one = decode

            def decode_batch(jobs: Sequence[Job]) -> list[Transcript]:
                return [one(j.audio, j.prompt, j.language) for j in jobs]

        self._pool = pool
        self._decode_batch = decode_batch
        self.parallel = parallel
        self.max_batch = max(1, max_batch)
        self.gather_s = gather_s
        self.interim_share = interim_share
        self._clock = clock  # bench/capacity_replay.py runs the scheduler on a simulated clock
        self._lock = threading.Lock()
        self._more = threading.Condition(self._lock)
        self._finals: deque[Job] = deque()
        self._interims: OrderedDict[Hashable, Job] = OrderedDict()
        self._running = 0
        self.decoded_finals = 0
        self.decoded_interims = 0
        self.dropped_interims = 0
        self.batches = 0
        self.decode_seconds = 0.3  # moving average of one batch's wall time
        self.slot_seconds = 0.15  # ... of a batch's wall time per decode in it
        self._asked: dict[Hashable, float] = {}  # key -> when it last submitted

    def submit(
        self,
        *,
        key: Hashable,
        audio: F32,
        final: bool,
        prompt: str | None = None,
        language: str | None = None,
        keep: str | None = None,
    ) -> concurrent.futures.Future[Transcript | None]:
        """Queue a decode for `key` (a stream's channel). Interims may resolve to None: dropped."""
        fut: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        job = Job(key, audio, prompt, language, final, fut, keep)
        with self._lock:
            self._asked[key] = self._clock()
            stale = self._interims.get(key)
            if final:
                self._finals.append(job)
                if stale is not None:  # the final covers it
                    del self._interims[key]
            else:
                self._interims[key] = job  # keeps the key's place in line: fair across calls
            if stale is not None:
                self.dropped_interims += 1
                stale.future.set_result(None)
            self._more.notify_all()
            self._dispatch_locked()
        return fut

    def withdraw(self, key: Hashable) -> bool:
        """Take back `key`'s interim if it is still waiting (not yet in a batch): it resolves to
        None (dropped), so its channel can ask for a more urgent decode at once instead of
        waiting for an interim it no longer needs. False if there was none to take back."""
        with self._lock:
            job = self._interims.pop(key, None)
            if job is None:
                return False
            self.dropped_interims += 1
        job.future.set_result(None)  # outside the lock: its callback may submit again
        return True

    def cancel(self, predicate: Callable[[Hashable], bool]) -> None:
        """Drop the pending jobs whose key matches (a closed stream's)."""
        with self._lock:
            keep = deque(j for j in self._finals if not predicate(j.key))
            gone = [j for j in self._finals if predicate(j.key)]
            gone += [j for k, j in self._interims.items() if predicate(k)]
            self._finals = keep
            self._asked = {k: t for k, t in self._asked.items() if not predicate(k)}
            for job in gone:
                self._interims.pop(job.key, None)
                job.future.cancel()

    def interim_interval(self) -> float:
        """Seconds of new speech a channel should wait between interims so that interims take
        about `interim_share` of the decoder: the more channels are talking (asked for a decode
        in the last ACTIVE_S) per decode slot, the fewer interims each gets; never less than
        twice a batch's wall time (an interim's result is out before the next is asked)."""
        now = self._clock()
        with self._lock:
            if len(self._asked) > 64:  # forget the keys of calls that stopped talking
                self._asked = {k: t for k, t in self._asked.items() if now - t < ACTIVE_S}
            active = sum(now - t < ACTIVE_S for t in self._asked.values())
            share = active * self.slot_seconds / (self.interim_share * self.parallel)
            return max(2 * self.decode_seconds, share)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending_locked()

    def _pending_locked(self) -> int:
        return len(self._finals) + len(self._interims)

    def _dispatch_locked(self) -> None:
        while self._running < self.parallel and (self._finals or self._interims):
            self._running += 1
            try:
                self._pool.submit(self._work)
            except Exception:
                self._running -= 1
                raise

    def _take_locked(self) -> list[Job]:
        """Up to `max_batch` jobs: finals first, then interims (cancelled ones skipped)."""
        if self.gather_s > 0 and 0 < self._pending_locked() < self.max_batch:
            deadline = time.monotonic() + self.gather_s
            while self._pending_locked() < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._more.wait(left)
        jobs: list[Job] = []
        while len(jobs) < self.max_batch and (self._finals or self._interims):
            job = self._finals.popleft() if self._finals else self._interims.popitem(last=False)[1]
            if job.future.set_running_or_notify_cancel():
                jobs.append(job)
        return jobs

    def _work(self) -> None:
        with self._lock:
            jobs = self._take_locked()
        try:
            if jobs:
                self._run(jobs)
        finally:
            with self._lock:
                finals = sum(j.final for j in jobs)
                self.decoded_finals += finals
                self.decoded_interims += len(jobs) - finals
                self.batches += bool(jobs)
                self._running -= 1
                self._dispatch_locked()

    def _run(self, jobs: list[Job]) -> None:
        began = self._clock()
        try:
            results = self._decode_batch(jobs)
        except BaseException as exc:
            for job in jobs:
                job.future.set_exception(exc)
        else:
            for job, result in zip(jobs, results, strict=True):
                job.future.set_result(result)
        took = self._clock() - began
        self.decode_seconds += 0.3 * (took - self.decode_seconds)
        self.slot_seconds += 0.3 * (took / len(jobs) - self.slot_seconds)
        for job in jobs:
            metrics.decoded(took, final=job.final)
