"""Faults that really happen on loopback: PostgreSQL unreachable for a while (a TCP proxy we
cut and restore), and Redis killed and restarted under a live call (our own redis-server, never
the shared one). A provider timing out is covered where the providers are tested:
tests/integration/test_provider_failover.py (speech: Deepgram socket lost or silent -> local
engine, no audio gap), tests/integration/test_provider_llm.py (Gemini / OpenAI-compatible
timeouts, 5xx and bad JSON -> local answer), tests/integration/test_provider_search.py (web search
timeouts) and tests/integration/test_provider_health.py (what the UI is told)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.security.outage import TcpProxy, persistent_tansu, private_redis
from tests.security.support import (
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
)
from wingman.events import TOPIC_BLOCKS, TOPIC_INSIGHTS, Insight
from wingman.store.records import Viewer
from wingman.store.repos import Store

LINES = [f"line number {n} of the call" for n in range(1, 7)]  # line k: 0.5+1.5k .. 1.5+1.5k s


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.timeout(180)
async def test_database_outage_buffers_writes_and_the_call_goes_on(tmp_path: Path, postgres_url: str) -> None:
    url = make_url(postgres_url)
    direct = Store(url=postgres_url)  # the test's own view, not through the proxy
    try:
        with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
            proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
            settings = quiet_settings(tmp_path, database_url=proxied)
            with serve(settings, container_factory=scripted(script_of(LINES))) as server:
                user = register(server.url, "outage")
                client = await connect(server.url, user.token)
                call_id = (await client.call("start-call", {"title": "database outage"}))["call_id"]

                async def saved(n: int) -> bool:
                    return len(await direct.list_segments(viewer=Viewer.owner(user.id, user.id),
                            call_id=call_id)) >= n

                await stream(client, 0.0, 3.3)
                await until(lambda: saved(2), timeout=20, what="two saved segments")

                proxy.cut()
                cut_at = time.monotonic()
                await stream(client, 3.3, 6.3, pace=0.02)
                await eventually(lambda: len(client.finals) == 4, timeout=15, what="finals during the outage")
                assert time.monotonic() - cut_at < 12, "the call stalled while the database was down"
                async with httpx.AsyncClient(base_url=server.url) as http:
                    assert (await http.get("/api/health")).status_code == 503
                assert len(await direct.list_segments(viewer=Viewer.owner(user.id, user.id),
                        call_id=call_id)) == 2
                assert proxy.refused > 0  # the app really tried, and really failed

                proxy.restore()
                await until(lambda: saved(4), timeout=30, what="buffered segments written after the outage")
                ended = await client.call("end-call", {}, timeout=60)
                assert ended["call_id"] == call_id
                await client.disconnect()
        segments = await direct.list_segments(viewer=Viewer.owner(user.id, user.id), call_id=call_id)
        assert [s.text for s in segments] == LINES[:4]
        assert [f["id"] for f in client.finals] == [s.id for s in segments]
    finally:
        await direct.aclose()


SALES_LINES = [
    "Honestly, your price seems high. It's more than we budgeted for this year.",
    "I would also need to check with my VP before we sign anything.",
    "Does Relay integrate with Salesforce?",
]


@pytest.mark.redis
@pytest.mark.timeout(240)
async def test_redis_restart_loses_no_block_and_shows_no_insight_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from wingman.bus.redis_streams import RedisStreamsBus

    script = script_of(SALES_LINES, seconds_each=3.0, gap=2.0)  # line k: 2+5k .. 5+5k s
    with private_redis(tmp_path / "redis") as redis:
        settings = quiet_settings(tmp_path / "app", bus="redis", redis_url=redis.url, agents_in_process=True)
        with serve(settings, container_factory=scripted(script)) as server:
            user = register(server.url, "restart")
            client = await connect(server.url, user.token)
            call_id = (await client.call("start-call", {"title": "redis restart"}))["call_id"]

            def kinds() -> set[str]:
                return {i["kind"] for i in client.of("insight")}

            await stream(client, 0.0, 6.5, pace=0.01)
            await eventually(lambda: any(k.startswith("objection.price") for k in kinds()),
                             timeout=60, what="the price insight")

            redis.kill()  # mid-call: blocks can not be published, consumers lose their streams
            await stream(client, 6.5, 11.5, pace=0.01)
            await eventually(lambda: len(client.finals) == 2, timeout=15, what="the transcript goes on")
            await asyncio.sleep(1.5)  # Redis stays down a little while
            redis.start()
            # the outage was real: the call's publisher and the consumers both had to wait
            messages = {r.getMessage() for r in caplog.records}
            assert "block not published yet; will retry" in messages, messages

            await eventually(lambda: any(k.startswith("objection.authority") for k in kinds()),
                             timeout=60, what="the insight of the block said while Redis was down")
            # a publisher whose ack got lost retries: the same insight arrives twice
            shown = next(i for i in client.of("insight") if i["kind"].startswith("objection.price"))
            import redis.asyncio as aioredis

            raw = aioredis.Redis.from_url(redis.url)
            try:
                bus = RedisStreamsBus(client=raw)
                again = Insight(id=shown["id"], call_id=call_id, user_id=user.id, agent="coach",
                                category=shown["category"], kind=shown["kind"], content=shown["content"])
                await bus.publish(TOPIC_INSIGHTS, again, key=call_id)
                await bus.publish(TOPIC_INSIGHTS, again, key=call_id)
                marker = Insight(call_id=call_id, user_id=user.id, agent="system", category="Test",
                                 kind="test.marker", content="after the duplicates")
                await bus.publish(TOPIC_INSIGHTS, marker, key=call_id)  # same partition, after them
                await bus.close()
            finally:
                await raw.aclose()
            await eventually(lambda: "test.marker" in kinds(), timeout=30, what="the marker insight")
            ids = [i["id"] for i in client.of("insight")]
            assert len(ids) == len(set(ids)), ids  # nothing shown twice
            ended = await client.call("end-call", {}, timeout=60)
            assert ended["call_id"] == call_id
            await client.disconnect()
            async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
                detail = (await http.get(f"/api/calls/{call_id}")).json()
    assert [s["text"] for s in detail["transcript"]] == SALES_LINES[:2]
    saved_ids = [r["id"] for r in detail["recommendations"]]
    assert len(saved_ids) == len(set(saved_ids)) and set(saved_ids) <= set(ids)


KAFKA_LINES = [
    *SALES_LINES[:2],
    "This sounds promising. What would the next steps look like?",
]


async def committed(bootstrap: str, group: str, topic: str) -> int:
    """Offsets `group` has committed on `topic`, summed over its partitions (as the broker
    reports them: after a restart, what it kept)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    # a group member that never subscribes asks the coordinator without joining the group
    # (aiokafka's admin client cannot parse tansu's answer to OffsetFetch)
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False, request_timeout_ms=5000
    )
    await reader.start()
    try:
        await reader.topics()  # fetches the metadata partitions_for_topic reads
        partitions = reader.partitions_for_topic(topic) or set()
        offsets = [await reader.committed(TopicPartition(topic, p)) for p in sorted(partitions)]
    finally:
        await reader.stop()
    return sum(o for o in offsets if o is not None and o > 0)


@pytest.mark.kafka
@pytest.mark.timeout(300)
async def test_kafka_restart_loses_no_block_and_shows_no_insight_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """tansu killed with SIGKILL mid-call and restarted on the same port and storage: the
    call's publisher retries (the client sees no error), the agents and the gateway resume from
    the offsets they committed, every block gets its insight, none is shown twice."""
    script = script_of(KAFKA_LINES, seconds_each=3.0, gap=2.0)  # line k: 2+5k .. 5+5k s
    with persistent_tansu(tmp_path / "tansu.log") as kafka:
        settings = quiet_settings(
            tmp_path / "app", bus="kafka", kafka_bootstrap=kafka.bootstrap, agents_in_process=True
        )
        with serve(settings, container_factory=scripted(script)) as server:
            user = register(server.url, "kafka-restart")
            client = await connect(server.url, user.token)
            call_id = (await client.call("start-call", {"title": "kafka restart"}))["call_id"]

            def kinds() -> list[str]:
                return [i["kind"] for i in client.of("insight")]

            def shown(kind: str) -> bool:
                return any(k.startswith(kind) for k in kinds())

            await stream(client, 0.0, 6.5, pace=0.01)
            await eventually(lambda: shown("objection.price"), timeout=90, what="the price insight")
            await until(
                lambda: _equals(committed(kafka.bootstrap, "agents", TOPIC_BLOCKS), 1),
                timeout=20,
                what="the agents' commit of the first block",
            )

            kafka.kill()  # mid-call: blocks can not be published, consumers lose the broker
            await stream(client, 6.5, 11.5, pace=0.01)
            await eventually(lambda: len(client.finals) == 2, timeout=15, what="the transcript goes on")
            await asyncio.sleep(1.5)  # the broker stays down a little while
            assert not shown("objection.authority")  # its block could not reach the agents
            kafka.start()
            # the publisher had to retry: aiokafka's sender within its request timeout, then
            # the call pipeline's queue (retried by its ticker)
            messages = {r.getMessage() for r in caplog.records}
            assert any(m.startswith("Got error produce response") for m in messages) or (
                "block not published yet; will retry" in messages
            ), messages
            # what was committed before the kill is still there: consumers resume from it
            assert await committed(kafka.bootstrap, "agents", TOPIC_BLOCKS) >= 1

            await stream(client, 11.5, 16.5, pace=0.01)
            await eventually(
                lambda: shown("objection.authority"), timeout=90, what="the insight said while Kafka was down"
            )
            await eventually(
                lambda: len(client.finals) == 3 and len(kinds()) >= 3,
                timeout=90,
                what="the insight of the block said after the restart",
            )
            await until(
                lambda: _equals(committed(kafka.bootstrap, "agents", TOPIC_BLOCKS), 3),
                timeout=30,
                what="the agents' commit of every block",
            )
            ended = await client.call("end-call", {}, timeout=60)
            assert ended["call_id"] == call_id
            await client.disconnect()
            async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
                runs = (await http.get(f"/api/calls/{call_id}/agent-runs")).json()
                detail = (await http.get(f"/api/calls/{call_id}")).json()
    assert client.errors() == []  # nothing about the outage reached the call
    ids = [i["id"] for i in client.of("insight")]
    assert len(ids) == len(set(ids)), ids  # each insight on screen once
    assert [s["text"] for s in detail["transcript"]] == KAFKA_LINES
    # every block produced its insight, in order, each shown once
    order = kinds()
    expected = ["objection.price", "objection.authority", "signal.buying"]
    assert len(order) == 3 and all(k.startswith(e) for k, e in zip(order, expected, strict=True)), order
    # and was handled once (one run per agent), none re-read after the restart
    per_block: dict[str, list[str]] = {}
    for run in runs:
        per_block.setdefault(run["block_id"], []).append(run["agent"])
    assert len(per_block) == 3 and all(len(a) == len(set(a)) for a in per_block.values()), per_block
    saved = [r["id"] for r in detail["recommendations"]]
    assert len(saved) == len(set(saved)) and set(saved) <= set(ids)


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected
