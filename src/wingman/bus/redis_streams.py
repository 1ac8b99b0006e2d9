"""Redis Streams bus for the team size (several gateway nodes, one Redis).

Layout, per topic: `partitions` streams `{prefix}:{topic}:<p>` (the `{topic}` hash tag keeps a
topic's streams in one Redis Cluster slot so multi-stream commands work), each capped with
`XADD ... MAXLEN ~ maxlen`. An event goes to stream `partition_for(key)`.

Order with several consumers: Redis hands stream entries of one consumer group to whichever
member reads first, which would interleave one call's events across members. So each member of a
group reads only the partitions it holds a lease on (`SET lease NX PX`, renewed by a heartbeat
task): partition p belongs to the (p mod n)-th live member in sorted order, members register in a
sorted set with the server's time, and a member releases partitions that are no longer its own
between batches. One partition, one reader: per-key order holds; the members share partitions.

At least once: entries are XACKed (in a batch) after the consumer asked for the next one. When a
member takes a partition over, it first XAUTOCLAIMs every pending entry of that partition (the
previous owner crashed, stopped mid-event or left), so those are delivered again, in order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Literal, TypeVar

import redis.asyncio as redis
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from wingman.bus.base import EventBus, partition_for, retry_transient
from wingman.bus.codec import DecodeError, decode, encode
from wingman.bus.redis_io import XaddBatcher, stream_entries
from wingman.errors import ProviderAuthError, ProviderConnectionError, ProviderError
from wingman.events import BusEvent

log = logging.getLogger(__name__)
T = TypeVar("T")
Entry = tuple[int, str, Any]  # partition, entry id, fields

_RENEW = """if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"""
_RELEASE = """if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) end return 0"""
# Forget a consumer name only when it has nothing pending, so no entry loses its owner.
_FORGET = """for _, s in ipairs(KEYS) do
  local ok, p = pcall(redis.call, 'XPENDING', s, ARGV[1], '-', '+', 1, ARGV[2])
  if ok and #p == 0 then pcall(redis.call, 'XGROUP', 'DELCONSUMER', s, ARGV[1], ARGV[2]) end
end return 0"""


def _transient(e: BaseException) -> bool:
    if isinstance(e, AuthenticationError | AuthorizationError):
        return False
    return isinstance(e, RedisConnectionError | RedisTimeoutError | ConnectionError)


def _provider_error(e: RedisError) -> ProviderError:
    """A Redis failure that retrying will not fix, as one of ours (no vendor type leaks)."""
    if isinstance(e, AuthenticationError | AuthorizationError):
        return ProviderAuthError(f"redis refused us: {e}")
    return ProviderError(f"redis error: {e}")


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class RedisStreamsBus(EventBus):
    """Partitioned Redis Streams with consumer groups; see the module docstring for the design.

    The client is the caller's (closed by the caller, not by `close()`). Give it a socket timeout
    above `block_ms` (or none), and a `BlockingConnectionPool` when many calls publish at once:
    redis-py's default pool raises "Too many connections" beyond 100.
    """

    name = "redis"

    def __init__(
        self,
        *,
        client: redis.Redis,
        maxlen: int = 100_000,
        partitions: int = 8,
        prefix: str = "wingman",
        batch: int = 64,
        block_ms: int = 1000,
        lease_ms: int = 10_000,
        rebalance_seconds: float = 1.0,
        publish_attempts: int = 4,
        reconnect_seconds: float = 30.0,
        new_groups_start: Literal["earliest", "latest"] = "earliest",
    ) -> None:
        self.client = client
        self.new_group_id = "0" if new_groups_start == "earliest" else "$"
        self.maxlen = maxlen
        self.partitions = partitions
        self.prefix = prefix
        self.batch = batch
        self.block_ms = block_ms
        self.lease_ms = lease_ms
        self.rebalance_seconds = rebalance_seconds
        self.publish_attempts = publish_attempts
        self.reconnect_seconds = reconnect_seconds
        self.renew = client.register_script(_RENEW)
        self.release = client.register_script(_RELEASE)
        self.forget = client.register_script(_FORGET)
        self._subs: set[_Member] = set()
        self._closed = asyncio.Event()
        self._batcher = XaddBatcher(client, maxlen=maxlen)

    def stream_key(self, topic: str, partition: int) -> str:
        return f"{self.prefix}:{{{topic}}}:{partition}"

    def group_key(self, topic: str, group: str, what: str) -> str:
        return f"{self.prefix}:{{{topic}}}:g:{group}:{what}"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def close(self) -> None:
        """Stop every subscription (acks flushed, leases released); the client stays open."""
        self._closed.set()
        await self._batcher.drain()
        for sub in list(self._subs):
            await sub.shutdown()

    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        if self.closed:
            raise ProviderConnectionError("redis bus is closed")
        stream = self.stream_key(topic, partition_for(key, self.partitions))
        data = encode(event)

        async def xadd() -> None:
            await self._batcher.xadd(stream, data)

        try:
            await retry_transient(
                xadd, what="redis XADD", is_transient=_transient, attempts=self.publish_attempts
            )
        except RedisError as e:
            raise _provider_error(e) from e

    async def subscribe(
        self, topic: str, *, group: str, consumer: str | None = None
    ) -> AsyncGenerator[BusEvent, None]:
        if self.closed:
            raise ProviderConnectionError("redis bus is closed")
        sub = _Member(self, topic, group, consumer or default_consumer_name())
        self._subs.add(sub)
        try:
            await self._resilient(sub, sub.join)
            while not self.closed:
                for p, entry_id, fields in await self._resilient(sub, sub.next_batch):
                    if self.closed:
                        return
                    if p not in sub.owned:  # lost the lease: the new owner claims it
                        continue
                    event = sub.decode(p, entry_id, fields)
                    if event is None:
                        continue
                    yield event
                    sub.done(p, entry_id)  # the consumer asked for the next one
        except _Closed:
            return
        finally:
            self._subs.discard(sub)
            await sub.shutdown()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake up as soon as the bus closes."""
        try:
            await asyncio.wait_for(self._closed.wait(), seconds)
        except TimeoutError:
            pass

    async def _resilient(self, sub: _Member, op: Callable[[], Awaitable[T]]) -> T:
        """Ride out a Redis restart: retry with backoff until `reconnect_seconds` have passed."""
        deadline = time.monotonic() + self.reconnect_seconds
        delay = 0.05
        regroup = False
        while True:
            try:
                if regroup:
                    await sub.ensure_groups()
                return await op()
            except ResponseError as e:
                if "NOGROUP" not in str(e) or regroup:
                    raise _provider_error(e) from e
                regroup = True  # the stream or group was deleted under us: create it again
            except (RedisError, ConnectionError) as e:
                if self.closed:
                    raise _Closed from e
                if isinstance(e, RedisError) and not _transient(e):
                    raise _provider_error(e) from e
                if time.monotonic() > deadline:
                    raise ProviderConnectionError(f"redis unreachable: {e}") from e
                log.warning("redis bus reconnecting", extra={"error": repr(e), "delay": delay})
                await self.sleep(delay)
                delay = min(delay * 2, 2.0)


class _Closed(Exception):
    """A connection error after the bus closed: the subscription just ends."""


class _Member:
    """One subscription: its leases, backlog of claimed entries and not-yet-sent acks."""

    def __init__(self, bus: RedisStreamsBus, topic: str, group: str, name: str) -> None:
        self.bus = bus
        self.r = bus.client
        self.topic = topic
        self.group = group
        self.name = name
        self.token = f"{name}/{uuid.uuid4().hex[:8]}"  # unique even if two members share a name
        self.streams = [bus.stream_key(topic, p) for p in range(bus.partitions)]
        self.members_key = bus.group_key(topic, group, "members")
        self.owned: set[int] = set()
        self.backlog: deque[Entry] = deque()
        self.acks: dict[int, list[str]] = {}
        self.next_rebalance = 0.0
        self.heartbeat: asyncio.Task[None] | None = None
        self.stopped = False

    def lease_key(self, p: int) -> str:
        return self.bus.group_key(self.topic, self.group, f"lease:{p}")

    async def ensure_groups(self) -> None:
        for stream in self.streams:
            try:
                await self.r.xgroup_create(stream, self.group, id=self.bus.new_group_id, mkstream=True)
            except ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise

    async def join(self) -> None:
        await self.ensure_groups()
        await self.beat()
        if self.heartbeat is None:
            self.heartbeat = asyncio.create_task(self._heartbeat_loop(), name=f"lease:{self.token}")

    async def _now_ms(self) -> int:
        sec, usec = await self.r.time()  # the server's clock, shared by every node
        return int(sec) * 1000 + int(usec) // 1000

    async def beat(self) -> None:
        """Say we are alive and renew our leases; drop the ones we lost (e.g. after a stall)."""
        now = await self._now_ms()
        await self.r.zadd(self.members_key, {self.token: now})
        await self.r.pexpire(self.members_key, self.bus.lease_ms * 6)
        for p in list(self.owned):
            renewed = await self.bus.renew(keys=[self.lease_key(p)], args=[self.token, self.bus.lease_ms])
            if not renewed:
                log.warning("redis bus lost a partition lease", extra={"partition": p})
                self.owned.discard(p)

    async def _heartbeat_loop(self) -> None:
        while not self.stopped:
            await self.bus.sleep(self.bus.lease_ms / 3000)
            if self.stopped or self.bus.closed:
                return
            try:
                await self.beat()
            except (RedisError, OSError) as e:
                log.warning("redis bus heartbeat failed", extra={"error": repr(e)})

    async def rebalance(self) -> None:
        now = await self._now_ms()
        await self.r.zadd(self.members_key, {self.token: now})
        await self.r.zremrangebyscore(self.members_key, "-inf", now - self.bus.lease_ms)
        registered: list[Any] = list(await self.r.zrange(self.members_key, 0, -1))
        live = sorted({_str(m) for m in registered} | {self.token})
        index, n = live.index(self.token), len(live)
        mine = {p for p in range(self.bus.partitions) if p % n == index}
        for p in sorted(self.owned - mine):
            await self.give_up(p)
        for p in sorted(mine - self.owned):
            if await self.r.set(self.lease_key(p), self.token, nx=True, px=self.bus.lease_ms):
                self.owned.add(p)
                await self.claim(p)

    async def claim(self, p: int) -> None:
        """Take over every pending entry of partition p, oldest first, for redelivery."""
        start: bytes | str = "0-0"
        while True:
            reply = await self.r.xautoclaim(
                self.streams[p], self.group, self.name, 0, start, count=self.bus.batch
            )
            start, entries = reply[0], reply[1]
            self.backlog.extend((p, _str(eid), f) for eid, f in entries if f is not None)
            if _str(start) == "0-0":
                return

    async def give_up(self, p: int) -> None:
        await self.flush_acks()
        await self.bus.release(keys=[self.lease_key(p)], args=[self.token])
        self.owned.discard(p)
        self.backlog = deque(e for e in self.backlog if e[0] != p)

    async def next_batch(self) -> list[Entry]:
        await self.flush_acks()  # before anything that may block
        if time.monotonic() >= self.next_rebalance:
            await self.rebalance()
            self.next_rebalance = time.monotonic() + self.bus.rebalance_seconds
        if self.backlog:
            return [self.backlog.popleft() for _ in range(min(len(self.backlog), self.bus.batch))]
        if not self.owned:
            await self.bus.sleep(self.bus.rebalance_seconds)
            return []
        streams: dict[Any, Any] = {self.streams[p]: ">" for p in sorted(self.owned)}
        reply = await self.r.xreadgroup(
            self.group, self.name, streams, count=self.bus.batch, block=self.bus.block_ms
        )
        index = {s: p for p, s in enumerate(self.streams)}
        return [
            (index[_str(stream)], _str(eid), fields)
            for stream, entries in stream_entries(reply)
            for eid, fields in entries
        ]

    def decode(self, p: int, entry_id: str, fields: Any) -> BusEvent | None:
        data = fields.get(b"e", fields.get("e")) if isinstance(fields, dict) else None
        try:
            if data is None:
                raise DecodeError("stream entry has no 'e' field")
            return decode(data)
        except DecodeError as e:
            # A poison entry would block its partition forever: log it and ack it.
            log.error(
                "redis bus skipped an undecodable entry",
                extra={"stream": self.streams[p], "entry_id": entry_id, "error": str(e)},
            )
            self.done(p, entry_id)
            return None

    def done(self, p: int, entry_id: str) -> None:
        self.acks.setdefault(p, []).append(entry_id)

    async def flush_acks(self) -> None:
        if not self.acks:
            return
        acks, self.acks = self.acks, {}
        async with self.r.pipeline(transaction=False) as pipe:
            for p, ids in acks.items():
                pipe.xack(self.streams[p], self.group, *ids)
            await pipe.execute()

    async def shutdown(self) -> None:
        """Flush acks, release leases and leave the group; idempotent and best effort."""
        if self.stopped:
            return
        self.stopped = True
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            try:
                await self.heartbeat
            except asyncio.CancelledError:
                pass
        try:
            await self.flush_acks()
            for p in sorted(self.owned):
                await self.give_up(p)
            await self.r.zrem(self.members_key, self.token)
            await self.bus.forget(keys=self.streams, args=[self.group, self.name])
        except (RedisError, OSError) as e:
            log.warning("redis bus could not leave its group cleanly", extra={"error": repr(e)})
