"""Helpers for the bus contract suite: bus factories per backend and event helpers.

Nothing here sleeps to wait: `take` awaits events under a timeout and `until` polls a condition.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Literal

import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaProducer

from wingman.bus.base import EventBus, partition_for
from wingman.bus.kafka import KafkaBus
from wingman.bus.memory import MemoryBus
from wingman.bus.redis_streams import RedisStreamsBus
from wingman.events import BusEvent, TranscriptBlock

TIMEOUT = 60.0  # generous: tansu waits seconds per group join, the machine is shared
LEASE_MS = 3000  # Redis partition leases: a dead member's partitions move after this
Start = Literal["earliest", "latest"]


class Backend:
    """Makes buses of one kind; `new_bus()` is a fresh process's view of the same broker."""

    def __init__(self, kind: str, *, redis_url: str = "", bootstrap: str = "") -> None:
        self.kind = kind
        self.redis_url = redis_url
        self.bootstrap = bootstrap
        self.buses: list[EventBus] = []
        self.clients: list[redis.Redis] = []
        self._memory: MemoryBus | None = None

    async def new_bus(self, *, new_groups_start: Start = "earliest") -> EventBus:
        bus: EventBus
        if self.kind == "memory":  # in-process state: "restarting" means re-subscribing
            if new_groups_start != "earliest":
                bus = MemoryBus(new_groups_start=new_groups_start)
                self.buses.append(bus)
                return bus
            if self._memory is None:
                self._memory = MemoryBus()
                self.buses.append(self._memory)
            return self._memory
        if self.kind == "redis":
            client = redis.Redis.from_url(self.redis_url)
            self.clients.append(client)
            bus = RedisStreamsBus(
                client=client, maxlen=10_000, lease_ms=LEASE_MS, new_groups_start=new_groups_start
            )
        else:
            # tansu completes a join after max(1 s, session timeout / 2): keep tests quick.
            bus = KafkaBus(
                bootstrap=self.bootstrap,
                client_id=f"test-{uuid.uuid4().hex[:6]}",
                session_timeout_ms=4000,
                heartbeat_interval_ms=500,
                new_groups_start=new_groups_start,
            )
        await bus.start()
        self.buses.append(bus)
        return bus

    async def inject_raw(self, topic: str, key: str, data: bytes) -> None:
        """Put bytes on the wire that did not come from our codec."""
        if self.kind == "redis":
            bus = self.buses[0]
            assert isinstance(bus, RedisStreamsBus)
            stream = bus.stream_key(topic, partition_for(key, bus.partitions))
            await self.clients[0].xadd(stream, {"e": data})
        elif self.kind == "kafka":
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
            await producer.start()
            try:
                await producer.send_and_wait(topic, data, key=key.encode())
            finally:
                await producer.stop()

    async def aclose(self) -> None:
        for bus in self.buses:
            await bus.close()
        for client in self.clients:
            await client.aclose()


def make_backend(request: pytest.FixtureRequest) -> Backend:
    kind = request.param
    if kind == "redis":
        return Backend(kind, redis_url=request.getfixturevalue("redis_url"))
    if kind == "kafka":
        return Backend(kind, bootstrap=request.getfixturevalue("kafka_bootstrap"))
    return Backend(kind)


def topic_name() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"


def block(call_id: str, seq: int) -> TranscriptBlock:
    return TranscriptBlock(
        call_id=call_id,
        user_id="user-1",
        seq=seq,
        text=f"block {seq} of {call_id}",
        speaker="customer",
        start=float(seq),
        end=seq + 0.9,
        segment_ids=(f"seg-{seq}",),
        talk_seconds={"customer": seq * 0.9},
    )


async def take(events: AsyncIterator[BusEvent], n: int, timeout: float = TIMEOUT) -> list[BusEvent]:
    """The next n events; the n-th is left uncommitted (we do not ask for the one after)."""
    out: list[BusEvent] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            out.append(await anext(events))
    return out


async def until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def as_blocks(events: list[BusEvent]) -> list[TranscriptBlock]:
    assert all(isinstance(e, TranscriptBlock) for e in events)
    return [e for e in events if isinstance(e, TranscriptBlock)]


def seqs_by_call(events: list[BusEvent]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for e in events:
        assert isinstance(e, TranscriptBlock)
        out.setdefault(e.call_id, []).append(e.seq)
    return out
