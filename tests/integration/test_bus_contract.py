"""One contract, three buses: in-process, real Redis (127.0.0.1:6379) and real tansu (Kafka).

Every test publishes to topics of its own, so tests never see each other's events. Nothing
sleeps to wait: `take` awaits events under a timeout and `until` polls a condition
(tests/integration/bus_support.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tests.fakes.events import ONE_OF_EACH
from tests.integration.bus_support import (
    LEASE_MS,
    TIMEOUT,
    Backend,
    as_blocks,
    block,
    make_backend,
    seqs_by_call,
    take,
    topic_name,
    until,
)
from tests.services import free_port, tansu_broker
from wingman.bus.base import subscription
from wingman.bus.codec import KNOWN_TYPES
from wingman.bus.kafka import KafkaBus
from wingman.bus.memory import MemoryBus
from wingman.bus.redis_streams import RedisStreamsBus
from wingman.errors import ProviderConnectionError
from wingman.events import (
    BusEvent,
    TranscriptBlock,
)


@pytest.fixture(params=["memory", "redis", "kafka"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    b = make_backend(request)
    try:
        yield b
    finally:
        await b.aclose()


@pytest.fixture(params=["redis", "kafka"])
async def wire_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The backends that carry bytes, where a foreign or corrupt message can appear."""
    b = make_backend(request)
    try:
        yield b
    finally:
        await b.aclose()


async def test_events_with_one_key_arrive_in_order(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    calls = [f"call-{i}" for i in range(3)]
    for seq in range(30):
        for call in calls:
            await bus.publish(topic, block(call, seq), key=call)
    async with subscription(bus, topic, group="agents") as events:
        got = await take(events, 90)
    assert seqs_by_call(got) == {call: list(range(30)) for call in calls}


async def test_every_group_gets_every_event(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    sent = [block(f"call-{i % 4}", i) for i in range(20)]
    for event in sent:
        await bus.publish(topic, event, key=event.call_id)
    async with (
        subscription(bus, topic, group="coach") as coach,
        subscription(bus, topic, group="search") as search,
    ):
        got_coach, got_search = await asyncio.gather(take(coach, 20), take(search, 20))
    ids = sorted(e.id for e in sent)
    assert sorted(e.id for e in as_blocks(got_coach)) == ids
    assert sorted(e.id for e in as_blocks(got_search)) == ids


async def test_members_of_one_group_share_the_load_without_duplicates(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    received: dict[str, list[BusEvent]] = {"a": [], "b": []}

    async def member(name: str) -> None:
        async with subscription(bus, topic, group="qa", consumer=name) as events:
            async for event in events:
                received[name].append(event)

    def total() -> int:
        return len(received["a"]) + len(received["b"])

    def received_at_least(n: int) -> bool:
        return total() >= n

    calls = [f"call-{i}" for i in range(16)]
    async with asyncio.TaskGroup() as tasks:
        for name in received:
            tasks.create_task(member(name))
        # Warm up until the group has settled with both members holding partitions.
        sent = 0
        async with asyncio.timeout(TIMEOUT):
            while not (received["a"] and received["b"]):
                call = calls[sent % len(calls)]
                await bus.publish(topic, block(call, 10_000 + sent), key=call)
                sent += 1
                await until(functools.partial(received_at_least, sent))
        mark = {name: len(events) for name, events in received.items()}
        batch = [block(call, seq) for seq in range(10) for call in calls]
        for event in batch:
            await bus.publish(topic, event, key=event.call_id)
        await until(lambda: total() >= sent + len(batch))
        await bus.close()  # ends both subscriptions
    steady = {name: received[name][mark[name] :] for name in received}
    ids = [e.id for events in steady.values() for e in as_blocks(events)]
    assert sorted(ids) == sorted(e.id for e in batch)  # everything, nothing twice
    assert steady["a"] and steady["b"], "both members got a share"
    for events in steady.values():  # each call went to one member, in order
        for seqs in seqs_by_call(events).values():
            assert seqs == sorted(seqs)
    assert not set(seqs_by_call(steady["a"])) & set(seqs_by_call(steady["b"]))


async def test_unfinished_event_is_redelivered_and_group_resumes(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    sent = [block("call-1", seq) for seq in range(6)]
    for event in sent:
        await bus.publish(topic, event, key="call-1")
    async with subscription(bus, topic, group="coach", consumer="first") as events:
        first = await take(events, 3)  # handled 0 and 1; "crashes" while handling 2
    assert [e.id for e in as_blocks(first)] == [e.id for e in sent[:3]]

    restarted = await backend.new_bus()
    async with subscription(restarted, topic, group="coach", consumer="second") as events:
        again = await take(events, 4)
    # 2 comes again (at least once); 0 and 1 were committed and are not replayed.
    assert [e.id for e in as_blocks(again)] == [e.id for e in sent[2:]]


async def test_a_consumer_that_breaks_out_leaves_and_its_event_comes_back(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    for seq in range(3):
        await bus.publish(topic, block("call-1", seq), key="call-1")
    async with asyncio.timeout(TIMEOUT):
        async for event in bus.subscribe(topic, group="g"):  # no aclosing: dropped on break
            assert isinstance(event, TranscriptBlock)
            if event.seq == 1:
                break
    async with subscription(bus, topic, group="g") as events:
        assert [e.seq for e in as_blocks(await take(events, 2))] == [1, 2]


CHILD = """
import asyncio, os, sys
import redis.asyncio as redis
from wingman.bus.kafka import KafkaBus
from wingman.bus.redis_streams import RedisStreamsBus

async def main(kind, address, topic, lease_ms):
    if kind == "redis":
        bus = RedisStreamsBus(client=redis.Redis.from_url(address), lease_ms=int(lease_ms))
    else:
        bus = KafkaBus(bootstrap=address, session_timeout_ms=4000, heartbeat_interval_ms=500)
    await bus.start()
    async for event in bus.subscribe(topic, group="crash", consumer="doomed"):
        print(event.seq, flush=True)
        if event.seq == 1:
            os._exit(0)  # killed mid-event: no ack or commit flushed, no goodbye to the group

asyncio.run(main(*sys.argv[1:]))
"""


async def test_events_of_a_killed_consumer_are_redelivered(wire_backend: Backend) -> None:
    backend = wire_backend
    bus, topic = await backend.new_bus(), topic_name()
    sent = [block("call-1", seq) for seq in range(5)]
    for event in sent:
        await bus.publish(topic, event, key="call-1")
    address = backend.redis_url if backend.kind == "redis" else backend.bootstrap
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        backend.kind,
        address,
        topic,
        str(LEASE_MS),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(child.communicate(), TIMEOUT)
    assert out.split() == [b"0", b"1"]
    # The dead member's partitions move once its lease (Redis) or session (Kafka) runs out.
    async with subscription(bus, topic, group="crash", consumer="heir") as events:
        got = [e.seq for e in as_blocks(await take(events, 4))]
        if got[0] == 0:  # 0 was handled but its commit had not been flushed: also allowed
            got = got[1:] + [e.seq for e in as_blocks(await take(events, 1))]
    assert got == [1, 2, 3, 4]


async def test_a_new_group_can_start_at_the_latest_event(backend: Backend) -> None:
    bus, topic = await backend.new_bus(new_groups_start="latest"), topic_name()
    await bus.publish(topic, block("call-1", 0), key="call-1")  # before the group exists
    got: list[BusEvent] = []

    async def consume() -> None:
        async with subscription(bus, topic, group="late") as events:
            async for event in events:
                got.append(event)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(consume())
        seq = 0
        async with asyncio.timeout(TIMEOUT):  # the group may take a while to join (Kafka)
            while not got:
                seq += 1
                await bus.publish(topic, block("call-1", seq), key="call-1")
                with contextlib.suppress(AssertionError):
                    await until(lambda: bool(got), timeout=0.5)
        await bus.close()
    seqs = [e.seq for e in got if isinstance(e, TranscriptBlock)]
    assert 0 not in seqs and seqs == sorted(seqs)


async def test_every_event_type_crosses_the_bus(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    sent = ONE_OF_EACH
    assert {e.type for e in sent} == set(KNOWN_TYPES)
    for event in sent:
        await bus.publish(topic, event, key="c")
    async with subscription(bus, topic, group="store") as events:
        got = await take(events, len(sent))
    assert got == sent


async def test_undecodable_message_is_skipped(wire_backend: Backend) -> None:
    backend = wire_backend
    bus, topic = await backend.new_bus(), topic_name()
    await bus.publish(topic, block("c", 0), key="c")
    await backend.inject_raw(topic, "c", b'{"type": "os.system", "cmd": "rm -rf /"}')
    await backend.inject_raw(topic, "c", b"\xff not json")
    await bus.publish(topic, block("c", 1), key="c")
    async with subscription(bus, topic, group="g") as events:
        got = await take(events, 2)
    assert seqs_by_call(got) == {"c": [0, 1]}


async def test_subscription_ends_when_the_bus_closes(backend: Backend) -> None:
    bus, topic = await backend.new_bus(), topic_name()
    got: list[BusEvent] = []

    async def consume() -> None:
        async for event in bus.subscribe(topic, group="g"):
            got.append(event)

    task = asyncio.create_task(consume())
    await bus.publish(topic, block("c", 0), key="c")
    await until(lambda: len(got) == 1)
    await bus.close()
    await asyncio.wait_for(task, TIMEOUT)  # returns, no exception
    with pytest.raises(ProviderConnectionError):
        await bus.publish(topic, block("c", 1), key="c")
    with pytest.raises(ProviderConnectionError):  # a retry loop around subscribe cannot spin
        await anext(bus.subscribe(topic, group="g"))


async def test_memory_bus_keeps_only_unconsumed_events() -> None:
    bus, topic = MemoryBus(partitions=4, max_retained=50), topic_name()
    async with subscription(bus, topic, group="a") as a:
        for seq in range(20):
            await bus.publish(topic, block(f"c{seq % 5}", seq), key=f"c{seq % 5}")
        await take(a, 20)
        assert bus.retained(topic) == 1  # only the one still being handled
    for seq in range(500):  # a group that never comes back does not pin memory forever
        await bus.publish(topic, block("c", seq), key="c")
    assert bus.retained(topic) <= 4 * 50
    await bus.close()


async def test_redis_stream_length_is_capped(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    bus = RedisStreamsBus(client=client, maxlen=100, partitions=1)
    try:
        for seq in range(1000):
            await bus.publish("capped", block("c", seq), key="c")
        # MAXLEN ~ trims whole radix-tree nodes (100 entries by default), so allow one node.
        assert await client.xlen(bus.stream_key("capped", 0)) <= 200
    finally:
        await bus.close()
        await client.aclose()


async def test_redis_publish_gives_up_with_provider_error() -> None:
    # No retries inside redis-py (its default is 10), so the bus's own backoff is what we test.
    client = redis.Redis(host="127.0.0.1", port=free_port(), retry=Retry(NoBackoff(), 0))
    bus = RedisStreamsBus(client=client, publish_attempts=3)
    try:
        with pytest.raises(ProviderConnectionError, match="after 3 attempts"):
            await bus.publish("t", block("c", 0), key="c")
    finally:
        await client.aclose()


async def test_kafka_start_gives_up_with_provider_error() -> None:
    bus = KafkaBus(bootstrap=f"127.0.0.1:{free_port()}", request_timeout_ms=1000)
    with pytest.raises(ProviderConnectionError):
        await bus.start()
    await bus.close()


async def test_kafka_publish_gives_up_when_the_broker_is_gone() -> None:
    with tansu_broker() as bootstrap:
        bus = KafkaBus(bootstrap=bootstrap, request_timeout_ms=1000, publish_attempts=2)
        await bus.start()
        await bus.publish("t", block("c", 0), key="c")
    try:  # the broker is gone now
        with pytest.raises(ProviderConnectionError):
            await asyncio.wait_for(bus.publish("t", block("c", 1), key="c"), TIMEOUT)
    finally:
        await bus.close()


async def test_kafka_bus_closing_during_a_commit_ends_the_subscription(kafka_bootstrap: str) -> None:
    # aiokafka retries a commit until a coordinator answers, which never happens once the
    # consumer stopped: a close racing the commit of the last event used to hang for ever.
    bus = KafkaBus(bootstrap=kafka_bootstrap, session_timeout_ms=4000, heartbeat_interval_ms=500)
    await bus.start()
    topic = topic_name()
    events = bus.subscribe(topic, group="g")
    await bus.publish(topic, block("c", 0), key="c")
    assert isinstance(await asyncio.wait_for(anext(events), TIMEOUT), TranscriptBlock)
    following = asyncio.ensure_future(anext(events, None))  # commits event 0 first
    await asyncio.sleep(0)
    await asyncio.wait_for(bus.close(), TIMEOUT)
    assert await asyncio.wait_for(following, TIMEOUT) is None
