"""Latency-report batch ids (realtime/batches.py) on a real Redis server shared by two gateway
nodes, and in memory for the embedded size: a batch a client sends again, through either node,
is recorded once per call."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from wingman.realtime.batches import BATCH_SECONDS, KEY_PREFIX, MemoryReportBatches, RedisReportBatches


@pytest.mark.redis
async def test_a_batch_is_first_once_per_call_across_the_nodes_sharing_redis(redis_url: str) -> None:
    a = RedisReportBatches(client=aioredis.Redis.from_url(url := redis_url))
    b = RedisReportBatches(client=aioredis.Redis.from_url(url))
    inspect = aioredis.Redis.from_url(url)
    try:
        assert await a.first("call-1", "b-1") is True
        assert await a.first("call-1", "b-1") is False  # resent to the same node
        assert await b.first("call-1", "b-1") is False  # resent through the other node
        assert await b.first("call-1", "b-2") is True  # the next batch
        assert await b.first("call-2", "b-1") is True  # batch ids are per call
        # remembered for a while (a resend comes within seconds of a reconnect), not for ever
        ttl = await inspect.ttl(KEY_PREFIX + "call-1:b-1")
        assert 0 < ttl <= BATCH_SECONDS
    finally:
        await a.aclose()
        await b.aclose()
        await inspect.aclose()


async def test_without_redis_a_node_still_counts_each_batch_once_itself() -> None:
    down = RedisReportBatches(client=aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5))
    try:
        assert await down.first("call-1", "b-1") is True  # the report is not refused
        assert await down.first("call-1", "b-1") is False
    finally:
        await down.aclose()


async def test_in_memory_each_batch_is_first_once_and_the_oldest_are_forgotten() -> None:
    seen = MemoryReportBatches(limit=2)
    assert await seen.first("call-1", "b-1") is True
    assert await seen.first("call-1", "b-1") is False
    assert await seen.first("call-2", "b-1") is True
    assert await seen.first("call-1", "b-2") is True  # over the limit: call-1's b-1 is dropped
    assert await seen.first("call-1", "b-1") is True
