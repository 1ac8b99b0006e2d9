"""Per-user and per-tenant quotas of the cluster: open sockets, concurrent calls and call
minutes per day. One socket cannot start 20 calls, nor one tenant take every slot, whichever
nodes their sockets and calls land on.

- Sockets are counted in Redis when the nodes share one (the Socket.IO manager or the Redis
  bus: `RedisSocketCounts`): a sorted set per user and per tenant whose members are
  "node:sid" scored by a lease expiry. A node renews its own sockets' leases every
  `SOCKET_LEASE_SECONDS / 3`; a node that dies stops renewing, so its sockets stop counting
  after at most `SOCKET_LEASE_SECONDS` (a crash leaks no quota). Check-and-add is one Lua
  script (atomic: two nodes cannot both take the last slot) on Redis' own clock (nodes'
  clocks may disagree). Without Redis there is one node, and the counts are in memory.
- Live calls are counted in the store every node shares: the user's and the tenant's calls
  not yet ended (store/usage.py). A crashed node's calls stop counting when the orphan sweep
  finalizes them. Taking a slot is atomic: `call_slot` gives start-call one in-process lock
  per tenant, and the store counts and inserts in one transaction serialized per workspace
  on its primary (store/usage.py), so two starts at the same instant, on one node or two,
  cannot both take the last slot.
- Minutes per day are read from the store (every node's calls), the tenant's calls since UTC
  midnight, live ones counted up to now.

Every refusal is QuotaExceeded with a code saying which quota and a message saying what to do.
The tenant is the workspace (the id the store scopes data by): callers pass it with the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from wingman.errors import QuotaExceeded
from wingman.events import utcnow
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store
from wingman.store.usage import open_calls

log = logging.getLogger(__name__)

MINUTES_CACHE_SECONDS = 30.0  # a start-call reads the store at most this often per tenant
SOCKET_LEASE_SECONDS = 30.0
KEY_PREFIX = "wingman:quota:sockets:"
Limits = tuple[int | None, int | None]  # (per user, per tenant)


def _refusal(used: tuple[int, int], limits: Limits, what: str) -> str | None:
    for count, limit, whose in ((used[0], limits[0], "your"), (used[1], limits[1], "your team's")):
        if limit is not None and count >= limit:
            return f"{whose} limit of {limit} {what} is reached: close one first"
    return None


class SocketCounts(Protocol):
    """Open sockets per user and tenant, counted across the nodes that share this store."""

    lease_seconds: float  # renewed three times per lease; math.inf: nothing to renew

    async def add(self, sid: str, user: str, tenant: str, limits: Limits) -> str | None:
        """Count the socket unless a limit is reached; None, or the refusal's message."""

    async def remove(self, sid: str, user: str, tenant: str) -> None:
        """Stop counting the socket."""

    async def renew(self) -> None:
        """Extend this node's sockets' leases (Redis) or nothing (memory)."""

    async def aclose(self) -> None:
        """Release the client."""


@dataclass
class MemorySocketCounts:
    """One node's counts (no Redis: the embedded, single-process size)."""

    by_user: dict[str, set[str]] = field(default_factory=dict)
    by_tenant: dict[str, set[str]] = field(default_factory=dict)
    lease_seconds: float = math.inf

    async def add(self, sid: str, user: str, tenant: str, limits: Limits) -> str | None:
        used = (len(self.by_user.get(user, ())), len(self.by_tenant.get(tenant, ())))
        refused = _refusal(used, limits, "open connections")
        if refused is None:
            self.by_user.setdefault(user, set()).add(sid)
            self.by_tenant.setdefault(tenant, set()).add(sid)
        return refused

    async def remove(self, sid: str, user: str, tenant: str) -> None:
        for table, owner in ((self.by_user, user), (self.by_tenant, tenant)):
            keys = table.get(owner)
            if keys is not None:
                keys.discard(sid)
                if not keys:
                    del table[owner]

    async def renew(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: user set, tenant set. ARGV: member, lease ms, user limit, tenant limit (-1: none).
# Returns 0 (counted), 1 (the user's limit) or 2 (the tenant's).
_ADD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  local limit = tonumber(ARGV[2 + i])
  if limit >= 0 and redis.call('ZSCORE', KEYS[i], ARGV[1]) == false
     and redis.call('ZCARD', KEYS[i]) >= limit then
    return i
  end
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], lease)
end
return 0
"""
# KEYS: sets to renew in; ARGV: lease ms, then one member per key
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease)
end
return 0
"""


class RedisSocketCounts:
    """Every node's sockets in Redis sorted sets, leased (see the module docstring)."""

    def __init__(self, *, client: Any, node_id: str, lease_seconds: float = SOCKET_LEASE_SECONDS) -> None:
        self._redis = client
        self.node_id = node_id
        self.lease_seconds = lease_seconds
        self.lease_ms = int(lease_seconds * 1000)
        self._mine: dict[str, tuple[str, str]] = {}  # sid -> (user, tenant)
        self._add = client.register_script(_ADD)
        self._renew = client.register_script(_RENEW)

    def _keys(self, user: str, tenant: str) -> list[str]:
        return [f"{KEY_PREFIX}user:{user}", f"{KEY_PREFIX}tenant:{tenant}"]

    def _member(self, sid: str) -> str:
        return f"{self.node_id}:{sid}"

    async def add(self, sid: str, user: str, tenant: str, limits: Limits) -> str | None:
        args = [self._member(sid), self.lease_ms, *(-1 if limit is None else limit for limit in limits)]
        which = int(await self._add(keys=self._keys(user, tenant), args=args))
        if which == 0:
            self._mine[sid] = (user, tenant)
            return None
        limit = limits[which - 1]
        whose = "your" if which == 1 else "your team's"
        return f"{whose} limit of {limit} open connections is reached: close one first"

    async def remove(self, sid: str, user: str, tenant: str) -> None:
        self._mine.pop(sid, None)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys(user, tenant):
                pipe.zrem(key, self._member(sid))
            await pipe.execute()

    async def renew(self) -> None:
        keys: list[str] = []
        members: list[str] = []
        for sid, (user, tenant) in list(self._mine.items()):
            for key in self._keys(user, tenant):
                keys.append(key)
                members.append(self._member(sid))
        for start in range(0, len(keys), 500):  # one script call per 250 sockets
            batch = slice(start, start + 500)
            await self._renew(keys=keys[batch], args=[self.lease_ms, *members[batch]])

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass
class _SlotLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # starts holding or waiting for it


class Quotas:
    """The cluster's socket counts per user and tenant, and the call quotas."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        sockets: SocketCounts | None = None,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = settings
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._sockets = sockets or _socket_counts(settings)
        self._minutes: dict[str, tuple[float, float]] = {}  # tenant -> (read at, minutes)
        self._renewer: asyncio.Task[None] | None = None
        self._slot_locks: dict[str, _SlotLock] = {}  # tenant -> its start-call lock

    # -- sockets
    async def open_socket(self, sid: str, user_id: str, tenant: str) -> None:
        """Count a new socket of `user_id` in workspace `tenant`; QuotaExceeded (code
        "sockets_quota") over either limit, counted on every node."""
        limits = (self._s.max_sockets_per_user, self._s.max_sockets_per_tenant)
        refused = await self._sockets.add(sid, user_id, tenant, limits)
        if refused is not None:
            raise QuotaExceeded(refused, code="sockets_quota")
        if self._renewer is None and math.isfinite(self._sockets.lease_seconds):
            self._renewer = asyncio.get_running_loop().create_task(self._renew_leases())

    async def close_socket(self, sid: str, user_id: str, tenant: str) -> None:
        """Stop counting a socket (an outage only delays it: its lease expires)."""
        try:
            await self._sockets.remove(sid, user_id, tenant)
        except Exception:
            log.warning("socket quota not released; its lease expires", extra={"sid": sid})

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self._sockets.lease_seconds / 3)
            try:
                await self._sockets.renew()
            except Exception:
                log.exception("socket quota leases not renewed")

    async def aclose(self) -> None:
        """Stop renewing (the leases expire) and release the client."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self._sockets.aclose()

    # -- calls
    def admit_call(self, used: tuple[int, int]) -> None:
        """QuotaExceeded (code "calls_quota") when (the user's, the tenant's) open calls on
        every node, `used`, leave no slot for one more."""
        refused = _refusal(used, (self._s.max_calls_per_user, self._s.max_calls_per_tenant), "live calls")
        if refused is not None:
            raise QuotaExceeded(refused, code="calls_quota")

    async def check_new_call(self, user_id: str, tenant: str) -> None:
        """Whether a new call would be admitted now (a read: `call_slot` takes the slot)."""
        self.admit_call(await open_calls(self._store, workspace_id=tenant, user_id=user_id))

    @contextlib.asynccontextmanager
    async def call_slot(self, tenant: str) -> AsyncIterator[Callable[[tuple[int, int]], None]]:
        """Hold the tenant's start-call lock on this node; yields the check to hand to
        `Store.create_call(admit=...)`, which counts and inserts atomically across nodes."""
        entry = self._slot_locks.setdefault(tenant, _SlotLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield self.admit_call
        finally:
            entry.users -= 1
            if entry.users == 0:  # bounded: only tenants starting a call right now
                del self._slot_locks[tenant]

    async def check_minutes(self, tenant: str) -> None:
        """Before a new call: QuotaExceeded (code "minutes_quota", retry after UTC midnight)
        when the tenant's calls today add up to `max_call_minutes_per_day`."""
        limit = self._s.max_call_minutes_per_day
        if limit is None:
            return
        now = self._clock()
        cached = self._minutes.get(tenant)
        if cached is None or self._monotonic() - cached[0] > MINUTES_CACHE_SECONDS:
            cached = (self._monotonic(), await minutes_today(self._store, tenant, now))
            self._minutes[tenant] = cached
        if cached[1] >= limit:
            tomorrow = now.date() + timedelta(days=1)
            midnight = datetime.combine(tomorrow, datetime.min.time(), tzinfo=now.tzinfo)
            raise QuotaExceeded(
                f"today's {limit} minutes of calls are used up: calls start again at 00:00 UTC",
                code="minutes_quota",
                retry_after=(midnight - now).total_seconds(),
            )


def _socket_counts(settings: Settings) -> SocketCounts:
    """In Redis when several gateways may share users (as the call leases), else in memory."""
    if settings.bus == "redis" or settings.socketio_redis:
        from wingman.connections import redis_client

        return RedisSocketCounts(client=redis_client(settings), node_id=settings.node_id)
    return MemorySocketCounts()


async def minutes_today(store: Store, tenant: str, now: datetime) -> float:
    """Minutes of the workspace's calls started since UTC midnight (live ones up to `now`)."""
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo)
    seconds = 0.0
    offset = 0
    while True:
        page = await store.list_calls(viewer=Viewer.workspace(tenant), limit=100, offset=offset)
        for call in page.items:
            if call.start_time < midnight:
                return seconds / 60
            seconds += max(0.0, ((call.end_time or now) - call.start_time).total_seconds())
        offset += len(page.items)
        if not page.items or offset >= page.total:
            return seconds / 60
