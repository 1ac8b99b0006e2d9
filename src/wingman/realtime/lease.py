"""Per-call owner leases: which gateway node carries a live call.

A node takes the lease `wingman:call-owner:<call_id>` when it starts a call, takes it over when a
client resumes the call through it, renews it while the call is live and releases it on
end-call. A node that lost the lease (its client resumed elsewhere) stops touching the call, and
a node finalizes an abandoned call only after claiming its lease: never a call another live node
carries. Leases expire, so a dead node's calls become claimable after `ttl_seconds`.

Two implementations of one small interface: Redis (SET NX PX, scripts for the compare-and-set
steps) for several gateways, and in memory for the embedded single-process size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

KEY_PREFIX = "wingman:call-owner:"
LEASE_SECONDS = 15.0  # the gateway renews every few seconds (see CallUpkeep.reap_abandoned)


class CallLeases(Protocol):
    """This node's view of the call-owner leases."""

    node_id: str
    ttl_seconds: float

    async def claim(self, call_id: str) -> bool:
        """Take the lease if it is free or already ours (and extend it); False if another
        node holds it."""

    async def take_over(self, call_id: str) -> None:
        """Make the lease ours whoever holds it (the call's client came to this node)."""

    async def renew(self, call_ids: Iterable[str]) -> set[str]:
        """Claim each of `call_ids` again; returns those another node holds now."""

    async def release(self, call_id: str) -> None:
        """Drop the lease if it is ours."""

    async def owner(self, call_id: str) -> str | None:
        """The node holding the lease, or None."""

    async def aclose(self) -> None:
        """Release the client."""


class MemoryCallLeases:
    """Leases in a dict, for one process. Nodes sharing `table` see each other's leases."""

    def __init__(
        self,
        *,
        node_id: str,
        ttl_seconds: float = LEASE_SECONDS,
        table: dict[str, tuple[str, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node_id = node_id
        self.ttl_seconds = ttl_seconds
        self._table = table if table is not None else {}  # call id -> (owner, expires at)
        self._clock = clock

    async def owner(self, call_id: str) -> str | None:
        held = self._table.get(call_id)
        if held is None or held[1] <= self._clock():
            return None
        return held[0]

    async def claim(self, call_id: str) -> bool:
        if await self.owner(call_id) not in (None, self.node_id):
            return False
        await self.take_over(call_id)
        return True

    async def take_over(self, call_id: str) -> None:
        self._table[call_id] = (self.node_id, self._clock() + self.ttl_seconds)

    async def renew(self, call_ids: Iterable[str]) -> set[str]:
        return {call_id for call_id in call_ids if not await self.claim(call_id)}

    async def release(self, call_id: str) -> None:
        if await self.owner(call_id) == self.node_id:
            del self._table[call_id]

    async def aclose(self) -> None:
        return None


# KEYS[1] the lease, ARGV[1] this node, ARGV[2] ttl in ms: free or ours -> ours, extended
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCallLeases:
    """Leases in Redis, shared by every gateway node. `client` is a redis.asyncio.Redis."""

    def __init__(self, *, client: Any, node_id: str, ttl_seconds: float = LEASE_SECONDS) -> None:
        self.client = client
        self.node_id = node_id
        self.ttl_seconds = ttl_seconds
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)

    @staticmethod
    def key(call_id: str) -> str:
        return KEY_PREFIX + call_id

    async def owner(self, call_id: str) -> str | None:
        held = await self.client.get(self.key(call_id))
        return held.decode() if isinstance(held, bytes) else held

    async def claim(self, call_id: str) -> bool:
        return bool(await self._claim(keys=[self.key(call_id)], args=[self.node_id, self._ttl_ms]))

    async def take_over(self, call_id: str) -> None:
        await self.client.set(self.key(call_id), self.node_id, px=self._ttl_ms)

    async def renew(self, call_ids: Iterable[str]) -> set[str]:
        ids = list(call_ids)
        if not ids:
            return set()
        async with self.client.pipeline(transaction=False) as pipe:
            for call_id in ids:
                await self._claim(keys=[self.key(call_id)], args=[self.node_id, self._ttl_ms], client=pipe)
            results = await pipe.execute()
        return {call_id for call_id, ok in zip(ids, results, strict=True) if not ok}

    async def release(self, call_id: str) -> None:
        await self._release(keys=[self.key(call_id)], args=[self.node_id])

    async def aclose(self) -> None:
        await self.client.aclose()
