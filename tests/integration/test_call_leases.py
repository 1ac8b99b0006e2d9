"""The call-owner lease contract, on Redis (real server) and in memory: one owner at a time,
renewal, takeover by the node a client resumed through, release only by the owner, expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from wingman.realtime.lease import CallLeases, MemoryCallLeases, RedisCallLeases

TTL = 1.0


@dataclass
class Backend:
    make: Callable[[str], CallLeases]
    advance: Callable[[float], Awaitable[None]]  # let this much lease time pass
    made: list[CallLeases] = field(default_factory=list)

    def node(self, node_id: str) -> CallLeases:
        leases = self.make(node_id)
        self.made.append(leases)
        return leases


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        now = [0.0]
        table: dict[str, tuple[str, float]] = {}

        async def tick(seconds: float) -> None:
            now[0] += seconds

        b = Backend(
            make=lambda n: MemoryCallLeases(node_id=n, ttl_seconds=TTL, table=table, clock=lambda: now[0]),
            advance=tick,
        )
    else:
        url = request.getfixturevalue("redis_url")
        b = Backend(
            make=lambda n: RedisCallLeases(client=aioredis.Redis.from_url(url), node_id=n, ttl_seconds=TTL),
            advance=asyncio.sleep,
        )
    try:
        yield b
    finally:
        for leases in b.made:
            await leases.aclose()


async def test_one_owner_at_a_time(backend: Backend) -> None:
    a, b = backend.node("gateway-a"), backend.node("gateway-b")
    assert await a.owner("call-1") is None
    assert await a.claim("call-1")
    assert await a.claim("call-1")  # ours already: claimed again (extended)
    assert not await b.claim("call-1")
    assert await b.owner("call-1") == "gateway-a"
    assert await b.claim("call-2")  # leases are per call
    assert await a.owner("call-2") == "gateway-b"


async def test_release_only_by_the_owner(backend: Backend) -> None:
    a, b = backend.node("gateway-a"), backend.node("gateway-b")
    assert await a.claim("call-1")
    await b.release("call-1")  # not b's: nothing happens
    assert await a.owner("call-1") == "gateway-a"
    await a.release("call-1")
    assert await a.owner("call-1") is None
    assert await b.claim("call-1")


async def test_takeover_and_the_old_owner_sees_it_lost(backend: Backend) -> None:
    a, b = backend.node("gateway-a"), backend.node("gateway-b")
    assert await a.claim("call-1") and await a.claim("call-2")
    await b.take_over("call-1")  # the client resumed call-1 through b
    assert await a.owner("call-1") == "gateway-b"
    assert await a.renew(["call-1", "call-2"]) == {"call-1"}
    assert await a.owner("call-1") == "gateway-b"  # a renewing does not take it back
    assert not await a.claim("call-1")
    await a.release("call-1")
    assert await b.owner("call-1") == "gateway-b"
    assert await a.renew([]) == set()


async def test_a_lease_expires_unless_renewed(backend: Backend) -> None:
    a, b = backend.node("gateway-a"), backend.node("gateway-b")
    assert await a.claim("kept") and await a.claim("dropped")
    for _ in range(3):  # kept alive past several TTLs by renewal
        await backend.advance(TTL / 2)
        assert await a.renew(["kept"]) == set()
    assert await b.owner("kept") == "gateway-a"
    assert not await b.claim("kept")
    # "dropped" was not renewed: it expired, and another node may claim it (a dead node's call)
    assert await b.owner("dropped") is None
    assert await b.claim("dropped")
    assert await a.renew(["dropped"]) == {"dropped"}


async def test_redis_lease_is_a_plain_key_with_a_ttl(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    leases = RedisCallLeases(client=aioredis.Redis.from_url(redis_url), node_id="gateway-a", ttl_seconds=15.0)
    try:
        assert await leases.claim("call-9")
        assert await client.get("wingman:call-owner:call-9") == b"gateway-a"
        assert 14_000 < await client.pttl("wingman:call-owner:call-9") <= 15_000
    finally:
        await leases.aclose()
        await client.aclose()
