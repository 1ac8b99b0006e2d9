"""The event bus interface.

Contract (checked by tests/integration/test_bus_contract.py on every backend):
- `publish(topic, event, key=call_id)`: events with the same key are delivered in order.
- `subscribe(topic, group=...)`: each group gets every event (fan-out between groups); members
  of one group share the events. Delivery is at least once: an event is committed (acked) only
  when the consumer asks for the next one, so a consumer that crashes mid-event sees it again.
  Consumers must therefore be idempotent (events carry ids).
- A group that re-subscribes picks up after its last committed event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator

from wingman.events import BusEvent


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
