"""The gateway side of the bus: agents' insights and metrics are saved and sent to the call.

All gateways share one consumer group, so each insight is handled once; the room emit reaches
the client whichever node it is connected to (Redis manager in the scaled sizes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from wingman import metrics
from wingman.bus.base import EventBus
from wingman.events import TOPIC_INSIGHTS, CallMetrics, Insight
from wingman.realtime.outgoing import MetricsMessage, Outbox
from wingman.store.repos import Store
from wingman.store.writer import StoreWriter

log = logging.getLogger(__name__)


class InsightSink:
    def __init__(
        self,
        *,
        bus: EventBus,
        store: Store,
        writer: StoreWriter,
        outbox: Outbox,
        redact: Callable[[Insight], Insight] | None = None,
    ) -> None:
        self._bus = bus
        self._redact = redact  # WINGMAN_REDACT: applied before an insight is saved or shown
        self._store = store
        self._writer = writer
        self._outbox = outbox
        self._seen: dict[str, None] = {}  # recent insight ids: a redelivery is not shown twice

    def _first_time(self, insight_id: str) -> bool:
        if insight_id in self._seen:
            return False
        self._seen[insight_id] = None
        if len(self._seen) > 10_000:
            self._seen.pop(next(iter(self._seen)))
        return True

    async def run(self) -> None:
        """Consume until the bus closes; a broken subscription is re-opened after a pause."""
        while True:
            try:
                async for event in self._bus.subscribe(TOPIC_INSIGHTS, group="gateway"):
                    try:
                        await self.handle(event)
                    except Exception:  # one bad event never stops the others
                        log.exception("insight not delivered")
                return  # the subscription ended: the bus is closing
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("insight subscription failed; resubscribing")
                await asyncio.sleep(1.0)

    async def handle(self, event: object) -> None:
        if isinstance(event, Insight):
            if not self._first_time(event.id):
                return
            metrics.insight_received(event)
            if self._redact is not None:
                event = self._redact(event)
            self._writer.save_insight(event)  # journaled, then stored (store/writer.py)
            await self._outbox.insight(event)  # emitted and timed (realtime/outgoing.py)
        elif isinstance(event, CallMetrics):
            await self._outbox.to_call(event.call_id, MetricsMessage.of(event))
