"""Store writes off the hot path: journaled on disk, applied per tenant, retried until the
database takes them, so a slow, moving or stopped shard never stalls a live call, never
stalls another tenant's writes and never loses a finalized segment or insight.

One writer per process (`Container.writer`), used by every owner of what a call writes as it
goes (notes/PERSISTENCE.md): the call's pipeline (segments, sentiment), the insight sink
(recommendations) and the agent worker (agent runs).

- One lane per tenant (its writes in order, one at a time); at most `concurrency` writes in
  flight for the node. A tenant whose shard is down retries its head write with backoff
  while the other tenants' lanes go on.
- Every transient error is retried (connection trouble, a database restarting, TenantMoving
  during a shard move, pool time-outs); a write that fails otherwise is given up after
  MAX_ATTEMPTS_NOT_TRANSIENT tries, logged and counted (`dropped`).
- With a journal (`spill_dir`), each write is on disk before it is attempted and marked done
  once applied: at shutdown whatever is still queued stays there ("spilled", counted in the
  log) and `replay()` applies it at the next start, as after a kill -9. Past `max_queued`
  writes in memory, new ones wait only in the journal and are read back as room frees.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from pydantic import TypeAdapter
from sqlalchemy import exc as sa_exc

from wingman.errors import ProviderError
from wingman.events import AgentRun, Insight, TranscriptFragment
from wingman.store.journal import Entry, Journal

if TYPE_CHECKING:
    from wingman.store.repos import Store

log = logging.getLogger(__name__)

MAX_ATTEMPTS_NOT_TRANSIENT = 3
HEALTHY_BACKLOG = 64  # queued writes of one tenant still worth waiting behind
# PostgreSQL SQLSTATE classes that pass: connection exceptions, insufficient resources,
# operator intervention (admin shutdown, cannot connect now), serialization failure, deadlock
_TRANSIENT_SQLSTATE = ("08", "53", "57", "40001", "40P01")

_FRAGMENT = TypeAdapter(TranscriptFragment)
WORKSPACE_KEY = "_workspace_id"  # beside a journaled segment or sentiment: the call's tenant
_INSIGHT = TypeAdapter(Insight)
_AGENT_RUN = TypeAdapter(AgentRun)


class WriteStore(Protocol):
    """The store methods the writer applies (wingman.store.repos.Store has them)."""

    async def add_segment(
        self, *, workspace_id: str, user_id: str, call_id: str, fragment: TranscriptFragment
    ) -> bool: ...

    async def add_recommendation(self, insight: Insight) -> bool: ...

    async def add_agent_run(self, run: AgentRun) -> bool: ...


def is_transient(exc: BaseException) -> bool:
    """Trouble worth waiting for (the database or the shard will be back) as opposed to a
    write that can never succeed."""
    if getattr(exc, "code", None) == "tenant_moving":  # store/placement.py TenantMoving
        return True
    if isinstance(exc, ProviderError) and exc.retryable:
        return True
    if isinstance(exc, (OSError, TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError,
                        sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
        return state.startswith(_TRANSIENT_SQLSTATE)
    return False


@dataclass
class _Write:
    entry: Entry
    done: asyncio.Future[bool]


@dataclass
class _Lane:
    queue: deque[_Write] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    retrying: bool = False


class StoreWriter:
    """Per-tenant lanes of journaled writes, applied in order with retries (see the module)."""

    def __init__(
        self,
        *,
        store: WriteStore,
        spill_dir: Path | None = None,
        max_backoff: float = 5.0,
        concurrency: int = 8,
        max_queued: int = 20_000,
    ) -> None:
        self._store = store
        self._journal = Journal(spill_dir) if spill_dir is not None else None
        self._max_backoff = max_backoff
        self._slots = asyncio.Semaphore(concurrency)
        self._max_queued = max_queued
        self._lanes: dict[str, _Lane] = {}
        self._queued = 0
        # seq -> its future, for writes only in the journal (past max_queued)
        self._overflow: dict[int, asyncio.Future[bool]] = {}
        self._next_seq = 0
        self.failures = 0
        self.dropped = 0
        self.applied = 0

    # -- submitting
    def save_segment(
        self, *, user_id: str, call_id: str, fragment: TranscriptFragment, workspace_id: str = ""
    ) -> asyncio.Future[bool]:
        """Queue a final segment; the future is True once it is stored (False: given up).
        `workspace_id`: the call's tenant ("": the user id, a founder's workspace)."""
        event = {**fragment.model_dump(mode="json"), WORKSPACE_KEY: workspace_id or user_id}
        return self._submit("segment", user_id, call_id, event)

    def save_insight(self, insight: Insight) -> asyncio.Future[bool]:
        """Queue an insight as a recommendation (idempotent on its id)."""
        return self._submit("insight", insight.user_id, insight.call_id, insight.model_dump(mode="json"))

    def save_agent_run(self, run: AgentRun) -> asyncio.Future[bool]:
        """Queue an agent's reasoning about a block (idempotent on its id)."""
        return self._submit("agent_run", run.user_id, run.call_id, run.model_dump(mode="json"))

    def save_sentiment(
        self,
        *,
        user_id: str,
        call_id: str,
        segment_id: str,
        start: float,
        score: float,
        label: str,
        workspace_id: str = "",
    ) -> asyncio.Future[bool]:
        """Queue a segment's sentiment (after its segment, in the same tenant lane)."""
        event = {
            "segment_id": segment_id, "start": start, "score": score, "label": label,
            WORKSPACE_KEY: workspace_id or user_id,
        }
        return self._submit("sentiment", user_id, call_id, event)

    def _submit(self, kind: str, user_id: str, call_id: str, event: dict[str, Any]) -> asyncio.Future[bool]:
        if self._journal is not None:
            entry = self._journal.append(kind, user_id, call_id, event)
        else:
            self._next_seq += 1
            entry = Entry(self._next_seq, kind, user_id, call_id, event)
        return self._enqueue(entry)

    def _enqueue(self, entry: Entry, done: asyncio.Future[bool] | None = None) -> asyncio.Future[bool]:
        if done is None:
            done = asyncio.get_running_loop().create_future()
        if self._journal is not None and self._queued >= self._max_queued:
            self._overflow[entry.seq] = done  # on disk only; read back when the lanes have room
            return done
        lane = self._lanes.get(entry.user_id)
        if lane is None:
            lane = self._lanes[entry.user_id] = _Lane()
        lane.queue.append(_Write(entry, done))
        self._queued += 1
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(
                self._run(entry.user_id, lane), name="store-writer"
            )
        return done

    async def replay(self) -> int:
        """At start-up: queue the journal's writes that a previous run never applied."""
        if self._journal is None:
            return 0
        pending = self._journal.recover()
        for entry in pending:
            self._enqueue(entry)
        if pending:
            log.warning("replaying store writes left by the last run", extra={"writes": len(pending)})
        return len(pending)

    def _refill(self) -> None:
        """Read writes that waited only in the journal back into the lanes, once half the
        room is free (a read of the file per refill, not per write)."""
        if not self._overflow or self._journal is None or self._queued > self._max_queued // 2:
            return
        for entry in self._journal.unfinished():
            if entry.seq in self._overflow and self._queued < self._max_queued:
                self._enqueue(entry, self._overflow.pop(entry.seq))

    # -- state
    @property
    def healthy(self) -> bool:
        """No lane retrying and a short queue on the node."""
        return not any(lane.retrying for lane in self._lanes.values()) and self._queued <= HEALTHY_BACKLOG

    def healthy_for(self, user_id: str) -> bool:
        """This tenant's writes go through at once: waiting for a new one costs milliseconds."""
        lane = self._lanes.get(user_id)
        return lane is None or (not lane.retrying and len(lane.queue) <= HEALTHY_BACKLOG)

    @property
    def pending(self) -> int:
        """Writes not yet applied (in memory and journal-only)."""
        return self._queued + len(self._overflow)

    async def drain(self, timeout: float = 10.0, *, user_id: str | None = None) -> bool:
        """Wait until the writes queued so far (of tenant `user_id`, or all) are applied or
        given up; False on timeout. Writes queued meanwhile are not waited for."""
        futures = [
            w.done for tenant, lane in self._lanes.items() if user_id in (None, tenant) for w in lane.queue
        ]
        if user_id is None:
            futures += self._overflow.values()
        if not futures:
            return True
        _done, pending = await asyncio.wait(futures, timeout=timeout)
        return not pending

    # -- applying
    async def _apply(self, entry: Entry) -> None:
        event = dict(entry.event)
        # entries journaled before workspaces have no workspace: the user id was the tenant
        workspace_id = str(event.pop(WORKSPACE_KEY, None) or entry.user_id)
        if entry.kind == "segment":
            fragment = _FRAGMENT.validate_python(event)
            await self._store.add_segment(
                workspace_id=workspace_id, user_id=entry.user_id, call_id=entry.call_id, fragment=fragment
            )
        elif entry.kind == "insight":
            await self._store.add_recommendation(_INSIGHT.validate_python(entry.event))
        elif entry.kind == "agent_run":
            await self._store.add_agent_run(_AGENT_RUN.validate_python(entry.event))
        elif entry.kind == "sentiment":
            from wingman.store.sentiment import add_sentiment  # late: it imports the whole Store

            e = event
            await add_sentiment(
                cast("Store",
                        self._store), workspace_id=workspace_id, user_id=entry.user_id, call_id=entry.call_id,
                segment_id=str(e["segment_id"]), start=float(e["start"]), score=float(e["score"]),
                label=str(e["label"]),
            )
        else:
            raise ValueError(f"unknown write kind {entry.kind!r}")

    async def _run(self, tenant: str, lane: _Lane) -> None:
        while lane.queue:
            write = lane.queue[0]
            applied = await self._apply_with_retries(lane, write.entry)
            lane.queue.popleft()
            self._queued -= 1
            if self._journal is not None:
                self._journal.done(write.entry.seq)
            if not write.done.done():
                write.done.set_result(applied)
            self._refill()
        if self._lanes.get(tenant) is lane and not lane.queue:
            del self._lanes[tenant]

    async def _apply_with_retries(self, lane: _Lane, entry: Entry) -> bool:
        delay = 0.1
        attempts = 0
        while True:
            attempts += 1
            try:
                async with self._slots:
                    await self._apply(entry)
                self.applied += 1
                lane.retrying = False
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # kept and retried: the database may come back
                self.failures += 1
                if not is_transient(exc) and attempts >= MAX_ATTEMPTS_NOT_TRANSIENT:
                    self.dropped += 1
                    lane.retrying = False
                    log.error("store write given up", extra={"kind": entry.kind, "call_id": entry.call_id},
                              exc_info=exc)
                    return False
                lane.retrying = True
                log.warning("store write failed, retrying",
                            extra={"error": type(exc).__name__, "delay": delay, "call_id": entry.call_id})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)

    async def aclose(self, timeout: float = 10.0) -> int:
        """Apply what can be applied within `timeout`; the rest stays in the journal for the
        next start (without one it is lost). Returns how many writes were left."""
        started = time.monotonic()
        await self.drain(timeout)
        left = self.pending
        for lane in list(self._lanes.values()):
            if lane.task is not None:
                lane.task.cancel()
        for lane in list(self._lanes.values()):
            if lane.task is not None:
                await asyncio.gather(lane.task, return_exceptions=True)
        if left:
            where = "kept on disk for the next start" if self._journal is not None else "lost"
            log.error(f"store writes not applied at shutdown: {where}",
                      extra={"writes": left, "seconds": round(time.monotonic() - started, 1)})
        if self._journal is not None:
            self._journal.close()
        return left

