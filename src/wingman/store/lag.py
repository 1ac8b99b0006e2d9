"""How far each streaming replica of one PostgreSQL database is behind its primary, and which
replicas may serve a lag-tolerant read now.

Checked lazily: the first read after `check_seconds` runs one check, bounded by
`timeout_seconds`, that asks the primary for `pg_current_wal_lsn()` and every replica for
`pg_last_wal_replay_lsn()`, all at once; concurrent reads meanwhile use the previous result.
Each primary LSN is kept with the (monotonic) time it was asked for: a *sample*. That gives
both measures without the replica's `pg_last_xact_replay_timestamp()`, which keeps growing on an
idle primary:
- bytes behind: the newest sample minus the replica's replay LSN;
- seconds behind: now minus the time of the oldest sample the replica has not replayed (it has
  been missing WAL that existed then); 0 once it has replayed every sample. This is a lower
  bound, accurate to `check_seconds` while reads come in; a node that has not read for a while
  starts measuring at its next check (the byte limit still applies).
A replica over either limit, or whose check failed (down, timeout, not in recovery), is skipped
until a later check clears it; if the primary's own check fails no replica is trusted. Each
change of a replica's state is logged once.

Read-your-own-writes: the Store notes a tenant's write after its commit; that tenant's reads
may use a replica only once the replica has replayed the first sample taken after the write
(the primary's LSN then is past the commit). Until a check has taken such a sample the tenant
reads from the primary: about `check_seconds` after a write, plus the replay delay. Writes made
on other nodes are unknown here: only the lag limits cover them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MAX_SAMPLES = 512  # primary samples kept: minutes of history at one check a second
MAX_WRITERS = 50_000  # tenants whose last write is remembered per database
_PRIMARY_LSN = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
# NULL when the server is not a standby (promoted, or not a replica at all): a failed check
_REPLAY_LSN = text("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint")

ReadLsn = Callable[[AsyncEngine, bool], Awaitable[int | None]]
ReplicaState = Literal["unknown", "ok", "lagging", "failed"]
_SAY = {"ok": "caught up", "lagging": "lagging: skipped", "failed": "check failed"}


async def read_lsn(engine: AsyncEngine, primary: bool) -> int | None:
    """The primary's current WAL position, or a replica's replay position, in bytes."""
    async with engine.connect() as conn:
        value = (await conn.execute(_PRIMARY_LSN if primary else _REPLAY_LSN)).scalar()
    return None if value is None else int(value)


@dataclass(frozen=True)
class LagLimits:
    """When a replica may serve reads (WINGMAN_REPLICA_CHECK_SECONDS, WINGMAN_MAX_REPLICA_LAG_*)."""

    check_seconds: float = 1.0
    max_seconds: float = 5.0
    max_bytes: int = 16 * 1024 * 1024
    timeout_seconds: float = 0.5


class ReplicaLag:
    """The replay lag of `replicas` behind `primary`, and the tenants' last writes there."""

    def __init__(
        self,
        *,
        name: str,
        primary: AsyncEngine,
        replicas: Sequence[AsyncEngine],
        limits: LagLimits,
        clock: Callable[[], float] = time.monotonic,
        read: ReadLsn = read_lsn,
    ) -> None:
        self.name = name
        self.limits = limits
        self._primary = primary
        self._replicas = list(replicas)
        self._clock = clock
        self._read = read
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._times: list[float] = []  # samples: when the primary was asked ...
        self._lsns: list[int] = []  # ... and its WAL position then
        self._primary_ok = False
        self._replay: list[int | None] = [None] * len(self._replicas)
        self.states: list[ReplicaState] = ["unknown"] * len(self._replicas)
        self._writes: dict[str, float] = {}  # tenant -> when its last write here committed

    async def refresh(self) -> None:
        """Check the replicas if the last check is older than `check_seconds`."""
        if self._fresh() or (self._lock.locked() and self._checked_at is not None):
            return  # a check is running: meanwhile, the previous one stands
        async with self._lock:
            if not self._fresh():
                await self._check()

    def _fresh(self) -> bool:
        return self._checked_at is not None and self._clock() - self._checked_at < self.limits.check_seconds

    async def _check(self) -> None:
        asked = self._clock()
        primary, *replays = await asyncio.gather(
            self._probe(self._primary, primary=True),
            *(self._probe(r, primary=False) for r in self._replicas),
        )
        self._primary_ok = primary is not None
        if primary is not None:
            if self._lsns and primary < self._lsns[-1]:  # a new primary (failover): start over
                self._times, self._lsns = [], []
            self._times.append(asked)
            self._lsns.append(primary)
            if len(self._lsns) > MAX_SAMPLES:
                del self._times[: -MAX_SAMPLES // 2], self._lsns[: -MAX_SAMPLES // 2]
        self._replay = replays
        self._checked_at = self._clock()
        for i in range(len(self._replicas)):
            self._set_state(i)

    async def _probe(self, engine: AsyncEngine, *, primary: bool) -> int | None:
        try:
            async with asyncio.timeout(self.limits.timeout_seconds):
                return await self._read(engine, primary)
        except (TimeoutError, exc.SQLAlchemyError, OSError) as e:
            log.debug("replica lag check failed", extra={"database": self.name, "error": type(e).__name__})
            return None

    def lag(self, index: int) -> tuple[int, float] | None:
        """(bytes, seconds) replica `index` is behind, per the last check; None: unknown."""
        replay = self._replay[index]
        if replay is None or not self._primary_ok or not self._lsns:
            return None
        behind = bisect_right(self._lsns, replay)  # the oldest sample not replayed yet
        seconds = 0.0 if behind == len(self._lsns) else max(0.0, self._clock() - self._times[behind])
        return max(0, self._lsns[-1] - replay), seconds

    def _set_state(self, index: int) -> None:
        lag = self.lag(index)
        state: ReplicaState = "failed"
        if lag is not None:
            over = lag[0] > self.limits.max_bytes or lag[1] > self.limits.max_seconds
            state = "lagging" if over else "ok"
        before, self.states[index] = self.states[index], state
        if state != before and (before, state) != ("unknown", "ok"):
            log.warning(
                "replica %s",
                _SAY[state],
                extra={
                    "database": self.name,
                    "replica": self._replicas[index].url.render_as_string(hide_password=True),
                    "lag_bytes": lag[0] if lag else None,
                    "lag_seconds": round(lag[1], 3) if lag else None,
                },
            )

    def usable(self, index: int, tenant: str | None = None) -> bool:
        """Whether replica `index` may serve a read now (for `tenant`: one that has its writes)."""
        if self.states[index] != "ok":
            return False
        written = self._writes.get(tenant) if tenant is not None else None
        if written is None:
            return True
        first_after = bisect_left(self._times, written)
        replay = self._replay[index]
        return first_after < len(self._times) and replay is not None and replay >= self._lsns[first_after]

    def note_write(self, tenant: str) -> None:
        """`tenant` committed a write on the primary just now."""
        self._writes.pop(tenant, None)  # re-inserted last: the dict stays in write order
        self._writes[tenant] = self._clock()
        if len(self._writes) > MAX_WRITERS:
            self._forget_replayed()

    def _forget_replayed(self) -> None:
        replayed = min((r for r in self._replay if r is not None), default=None)
        for tenant, written in list(self._writes.items()):
            first_after = bisect_left(self._times, written)
            if replayed is None or first_after == len(self._times) or self._lsns[first_after] > replayed:
                break  # this write and every later one may still be missing on a replica
            del self._writes[tenant]
        if len(self._writes) > MAX_WRITERS:  # replicas stuck: bound memory, oldest writes first
            for tenant in list(self._writes)[: len(self._writes) - MAX_WRITERS // 2]:
                del self._writes[tenant]
