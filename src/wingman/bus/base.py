"""The event bus interface.

Contract (checked by tests/integration/test_bus_contract.py on every backend):
- `publish(topic, event, key=call_id)`: events with the same key are delivered in order.
- `subscribe(topic, group=...)`: each group gets every event (fan-out between groups); members
  of one group share the events. Delivery is at least once: an event is committed (acked) only
  when the consumer asks for the next one, so a consumer that crashes mid-event sees it again.
  Consumers must therefore be idempotent (events carry ids).
- A group that re-subscribes picks up after its last committed event.

How order is kept with several consumers in one group: every backend splits a topic into
partitions chosen by a hash of the key (Kafka: its own murmur2 partitioner; memory and Redis:
`partition_for`), and a partition is read by exactly one member of a group at a time. Members
therefore share the load by partition, and one call's events always reach one member in order.
While the membership changes (a member joins or leaves) an event that was delivered but not yet
committed may be delivered again to the partition's new owner: that is the at-least-once part.

Details common to all backends:
- A group seen for the first time starts at the oldest event the bus still retains, or with
  `new_groups_start="latest"` (every backend's constructor) at the next event published.
- Commits are recorded when the consumer asks for the next event and written to the broker in
  batches, at the latest before the subscription waits for new events and when it ends. A crash
  can therefore replay a few already-handled events, never skip one.
- A subscription ends (the `async for` finishes) when the bus closes; subscribing to a closed
  bus raises `ProviderConnectionError`. A consumer that may break out of the loop should use
  `async with subscription(bus, ...) as events:` so it leaves its group promptly (otherwise that
  happens when the generator is garbage collected or the bus closes).
"""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from wingman import metrics
from wingman.errors import ProviderConnectionError
from wingman.events import BusEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


class EventBus(ABC):
    name = "base"

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once by the container."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and disconnect."""

    @abstractmethod
    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        """Publish one event; `key` (the call id) fixes ordering and partition."""

    @abstractmethod
    def subscribe(self, topic: str, *, group: str, consumer: str | None = None) -> AsyncIterator[BusEvent]:
        """Iterate events of `topic` as member `consumer` of consumer group `group`."""


@asynccontextmanager
async def subscription(
    bus: EventBus, topic: str, *, group: str, consumer: str | None = None
) -> AsyncIterator[AsyncIterator[BusEvent]]:
    """`bus.subscribe(...)`, closed on exit: the member leaves its group and an event it was
    handling when the block ended stays uncommitted (it is delivered again)."""
    events = bus.subscribe(topic, group=group, consumer=consumer)
    try:
        yield events
    finally:
        aclose: Callable[[], Awaitable[object]] | None = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def partition_for(key: str, partitions: int) -> int:
    """Stable across processes and restarts (unlike `hash()`), so every node agrees."""
    return zlib.crc32(key.encode()) % partitions


async def retry_transient(
    op: Callable[[], Awaitable[T]],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    attempts: int = 4,
    base_delay: float = 0.05,
    max_delay: float = 1.0,
) -> T:
    """Run `op`, retrying transient failures with jittered exponential backoff.

    Gives up with `ProviderConnectionError` (retryable) after `attempts` tries; errors that are
    not transient propagate unchanged on the first occurrence.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await op()
        except Exception as e:
            if not is_transient(e):
                raise
            if attempt == attempts:
                message = f"{what} failed after {attempts} attempts: {e}"
                raise ProviderConnectionError(message) from e
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            metrics.bus_retry(what)
            log.warning(
                "bus operation failed, retrying",
                extra={"what": what, "attempt": attempt, "delay": round(delay, 3), "error": repr(e)},
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
