"""Latency-report batch ids already recorded: a batch a client sends again (after a reconnect,
maybe through another gateway) is counted once per call, cluster-wide.

Two implementations of one small interface, as for the call leases (realtime/lease.py): Redis
(`SET NX EX`, one key per batch, expiring) where gateways share Redis, and a bounded in-memory
table for the embedded single-process size. A client resends its unacked batches within
seconds of a reconnect, so a key needs to outlive only that (BATCH_SECONDS).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

from wingman import bounded

log = logging.getLogger(__name__)

KEY_PREFIX = "wingman:report-batch:"
BATCH_SECONDS = 600  # how long a recorded batch id is remembered
MAX_MEMORY_BATCHES = 50_000


class ReportBatches(Protocol):
    async def first(self, call_id: str, batch_id: str) -> bool:
        """True the first time this call's batch id is seen (it is then remembered)."""

    async def aclose(self) -> None:
        """Release the client."""


class MemoryReportBatches:
    """The batch ids of this process, oldest dropped first past `limit`."""

    def __init__(self, limit: int = MAX_MEMORY_BATCHES) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    async def first(self, call_id: str, batch_id: str) -> bool:
        return self.first_now(f"{call_id}:{batch_id}")

    def first_now(self, key: str) -> bool:
        if key in self._seen:
            return False
        bounded.put(self._seen, key, None, limit=self._limit)
        return True

    async def aclose(self) -> None:
        return None


class RedisReportBatches:
    """The batch ids of every gateway sharing `client` (a redis.asyncio.Redis). When Redis does
    not answer, this node's own memory decides (a resend through another node may then count
    twice: better than dropping a client's figures)."""

    def __init__(self, *, client: Any, ttl_seconds: int = BATCH_SECONDS) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._fallback = MemoryReportBatches()

    async def first(self, call_id: str, batch_id: str) -> bool:
        key = f"{call_id}:{batch_id}"
        try:
            return bool(await self.client.set(KEY_PREFIX + key, b"1", nx=True, ex=self.ttl_seconds))
        except Exception as exc:  # an outage must not refuse a client's report
            log.warning("report batch not checked in Redis", extra={"error": type(exc).__name__})
            return self._fallback.first_now(key)

    async def aclose(self) -> None:
        await self.client.aclose()
