"""In-process bus for the embedded size: asyncio only, no network, same contract as the others.

Each topic is split into `partitions` logs (chosen by `partition_for(key)`); each consumer group
keeps a committed offset per partition and hands each partition to one of its live members, so
per-key order holds with several members. A group exists from its first `subscribe()` call.
Memory stays bounded: events every existing group has committed are dropped (so a group that
appears later starts at the oldest event still held), and each partition keeps at most
`max_retained` events even if a group lags (that group then skips the dropped events, with a
warning, like Redis MAXLEN).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncGenerator
from typing import Literal

from wingman.bus.base import EventBus, partition_for
from wingman.errors import ProviderConnectionError
from wingman.events import BusEvent

log = logging.getLogger(__name__)
_member_ids = itertools.count(1)


class _Partition:
    __slots__ = ("base", "events")

    def __init__(self) -> None:
        self.base = 0  # offset of events[0]
        self.events: deque[BusEvent] = deque()

    @property
    def end(self) -> int:
        return self.base + len(self.events)

    def drop_before(self, offset: int) -> None:
        while self.base < offset and self.events:
            self.events.popleft()
            self.base += 1


class _Member:
    __slots__ = ("name", "positions", "cursor")

    def __init__(self, name: str) -> None:
        self.name = name
        self.positions: dict[int, int] = {}  # owned partition -> next offset to deliver
        self.cursor = 0  # round-robin over owned partitions, so one busy call starves no other

    def next_event(self, parts: list[_Partition]) -> tuple[int, int, BusEvent] | None:
        owned = sorted(self.positions)
        for i in range(len(owned)):
            p = owned[(self.cursor + i) % len(owned)]
            part = parts[p]
            offset = max(self.positions[p], part.base)
            if offset < part.end:
                self.positions[p] = offset + 1
                self.cursor = (self.cursor + i + 1) % len(owned)
                return p, offset, part.events[offset - part.base]
        return None


class _Group:
    def __init__(self, name: str, parts: list[_Partition], *, latest: bool) -> None:
        self.name = name
        self.committed = [part.end if latest else part.base for part in parts]
        self.members: list[_Member] = []

    def rebalance(self) -> None:
        """Partition p goes to the (p mod n)-th member; a moved partition restarts at its commit."""
        n = len(self.members)
        for i, member in enumerate(self.members):
            mine = {p for p in range(len(self.committed)) if p % n == i}
            member.positions = {p: member.positions.get(p, self.committed[p]) for p in sorted(mine)}


class _Topic:
    def __init__(self, partitions: int) -> None:
        self.parts = [_Partition() for _ in range(partitions)]
        self.groups: dict[str, _Group] = {}
        self.changed = asyncio.Event()

    def notify(self) -> None:
        # Wake every waiter once; later waiters wait on the fresh event.
        self.changed.set()
        self.changed = asyncio.Event()


class MemoryBus(EventBus):
    """The in-process bus: fan-out per group, per-partition commits, bounded retention."""

    name = "memory"

    def __init__(
        self,
        *,
        partitions: int = 8,
        max_retained: int = 10_000,
        new_groups_start: Literal["earliest", "latest"] = "earliest",
    ) -> None:
        if partitions < 1 or max_retained < 1:
            raise ValueError("partitions and max_retained must be positive")
        self._latest = new_groups_start == "latest"
        self._partitions = partitions
        self._max_retained = max_retained
        self._topics: dict[str, _Topic] = {}
        self._closed = False

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(self._partitions)
        return topic

    def retained(self, topic: str) -> int:
        """How many events of `topic` the bus still holds (all partitions)."""
        t = self._topics.get(topic)
        return sum(len(part.events) for part in t.parts) if t else 0

    async def close(self) -> None:
        """End every subscription: waiting ones at once, others when they ask for more."""
        self._closed = True
        for topic in self._topics.values():
            topic.notify()

    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        if self._closed:
            raise ProviderConnectionError("memory bus is closed")
        t = self._topic(topic)
        p = partition_for(key, self._partitions)
        part = t.parts[p]
        part.events.append(event)
        if len(part.events) > self._max_retained:
            lagging = [g.name for g in t.groups.values() if g.committed[p] <= part.base]
            if lagging:
                log.warning(
                    "memory bus dropped an unconsumed event",
                    extra={"topic": topic, "groups": lagging},
                )
            part.drop_before(part.base + 1)
        t.notify()

    def subscribe(
        self, topic: str, *, group: str, consumer: str | None = None
    ) -> AsyncGenerator[BusEvent, None]:
        # The group is registered now, not at the first `anext`, so events published from here
        # on are kept for it even if another group consumes them first.
        t = self._topic(topic)
        g = t.groups.get(group)
        if g is None:
            g = t.groups[group] = _Group(group, t.parts, latest=self._latest)
        return self._consume(t, g, consumer or f"{group}-{next(_member_ids)}")

    async def _consume(self, t: _Topic, g: _Group, name: str) -> AsyncGenerator[BusEvent, None]:
        if self._closed:
            raise ProviderConnectionError("memory bus is closed")
        member = _Member(name)
        g.members.append(member)
        g.rebalance()
        t.notify()  # members that lost or gained partitions re-check
        pending: tuple[int, int] | None = None
        try:
            while True:
                if pending is not None:  # the consumer asked for the next event: commit
                    self._commit(t, g, *pending)
                    pending = None
                if self._closed:
                    return
                item = member.next_event(t.parts)
                if item is None:
                    await t.changed.wait()
                    continue
                p, offset, event = item
                pending = (p, offset)
                yield event
        finally:
            g.members.remove(member)
            if g.members:
                g.rebalance()
                t.notify()

    def _commit(self, t: _Topic, g: _Group, p: int, offset: int) -> None:
        g.committed[p] = max(g.committed[p], offset + 1)
        t.parts[p].drop_before(min(other.committed[p] for other in t.groups.values()))
