"""Per-user and per-tenant quotas of a gateway node: open sockets, concurrent calls and call
minutes per day. One socket cannot start 20 calls, nor one tenant take a node's every slot.

Counts of sockets and calls are this node's (a client is sticky to its node behind nginx, so
a user's sockets and calls are on one node; across nodes the limit is at most nodes x limit).
Minutes per day are read from the store (every node's calls), the tenant's calls since UTC
midnight, live ones counted up to now. Every refusal is QuotaExceeded with a code saying
which quota and a message saying what to do.

The tenant is the workspace (the id the store scopes data by): callers pass it with the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wingman.errors import QuotaExceeded
from wingman.events import utcnow
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store

MINUTES_CACHE_SECONDS = 30.0  # a start-call reads the store at most this often per tenant


@dataclass
class _Counts:
    by_user: dict[str, set[str]] = field(default_factory=dict)
    by_tenant: dict[str, set[str]] = field(default_factory=dict)

    def add(self, user: str, tenant: str, key: str) -> None:
        self.by_user.setdefault(user, set()).add(key)
        self.by_tenant.setdefault(tenant, set()).add(key)

    def discard(self, user: str, tenant: str, key: str) -> None:
        for table, owner in ((self.by_user, user), (self.by_tenant, tenant)):
            keys = table.get(owner)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del table[owner]

    def of(self, user: str, tenant: str) -> tuple[int, int]:
        return len(self.by_user.get(user, ())), len(self.by_tenant.get(tenant, ()))


def _check(used: tuple[int, int], limits: tuple[int | None, int | None], what: str, code: str) -> None:
    for count, limit, whose in ((used[0], limits[0], "your"), (used[1], limits[1], "your team's")):
        if limit is not None and count >= limit:
            raise QuotaExceeded(f"{whose} limit of {limit} {what} is reached: close one first", code=code)


class Quotas:
    """This node's count of sockets per user and tenant, and the call quotas."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._s = settings
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._sockets = _Counts()
        self._minutes: dict[str, tuple[float, float]] = {}  # tenant -> (read at, minutes)

    # -- sockets
    def open_socket(self, sid: str, user_id: str, tenant: str) -> None:
        """Count a new socket of `user_id` in workspace `tenant`; QuotaExceeded (code
        "sockets_quota") over either limit."""
        limits = (self._s.max_sockets_per_user, self._s.max_sockets_per_tenant)
        _check(self._sockets.of(user_id, tenant), limits, "open connections", "sockets_quota")
        self._sockets.add(user_id, tenant, sid)

    def close_socket(self, sid: str, user_id: str, tenant: str) -> None:
        self._sockets.discard(user_id, tenant, sid)

    # -- calls
    def check_new_call(self, user_id: str, tenant: str, live: Iterable[tuple[str, str]]) -> None:
        """Before a new call: QuotaExceeded (code "calls_quota") when the user or the tenant
        has as many live calls on this node as allowed (`live`: each live call's user and
        tenant)."""
        calls = list(live)
        used = (sum(u == user_id for u, _ in calls), sum(t == tenant for _, t in calls))
        _check(used, (self._s.max_calls_per_user, self._s.max_calls_per_tenant), "live calls", "calls_quota")

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
