"""Background care of a node's live calls: owner leases, abandoned calls and orphans. Part of
the call lifecycle (realtime/lifecycle.py), which owns the registry this reads.

- One node carries a call at a time: it holds the call's owner lease (realtime/lease.py) from
  start or resume (taken by the lifecycle), renews it every reaper round (here) and releases
  it on end-call or shutdown. A detached call whose lease another node took over (its client
  resumed it there) is let go without being touched.
- A call whose client left without end-call and did not come back within
  `abandon_after_seconds` is finalized by the node holding its lease.
- At start-up and every `settings.orphan_sweep_seconds`, open calls without transcript
  activity for `settings.orphan_call_seconds` (left by a crashed node) are finalized, unless
  another live node holds their lease; and account deletions a failure left half done (a
  shard down between their steps) are finished (store/account_store.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from wingman.container import Container
from wingman.errors import NotFound
from wingman.events import utcnow

if TYPE_CHECKING:
    from wingman.realtime.lifecycle import CallLifecycle

log = logging.getLogger(__name__)


class CallUpkeep:
    """Lease renewal, the abandoned-call reaper and the orphan sweep of one `CallLifecycle`:
    it reads the owner's registry and acts through the owner's methods (`drop`, `end`)."""

    def __init__(
        self,
        *,
        container: Container,
        calls: CallLifecycle,
        abandon_after_seconds: float,
    ) -> None:
        self.c = container
        self.owner = calls
        self.abandon_after_seconds = abandon_after_seconds

    async def renew(self) -> None:
        """Keep this node's leases alive. A detached call whose lease another node took over
        (its client resumed it there) is no longer this node's to touch."""
        calls = self.owner.calls
        held = list(calls)
        try:
            lost = await self.c.leases.renew(held)
            for call_id in held:  # ended while the renewal was on its way: it took the lease again
                if call_id not in calls and call_id not in lost:
                    await self.c.leases.release(call_id)
        except Exception:
            log.warning("call leases not renewed")
            return
        for call_id in lost:
            live = calls.get(call_id)
            if live is not None and live.detached_at is not None and not live.pipeline.finishing:
                await self._let_go(call_id)

    async def _let_go(self, call_id: str) -> None:
        log.info("call moved to another node", extra={"call_id": call_id})
        await self.owner.drop(call_id)

    async def reap_abandoned(self, interval: float | None = None) -> None:
        """Finalize calls whose clients left without end-call and did not come back within
        `abandon_after_seconds` (settings.abandon_call_seconds)."""
        if interval is None:
            interval = min(5.0, max(0.05, self.abandon_after_seconds / 4))
        while True:
            await asyncio.sleep(interval)
            await self.renew()  # every round: the lease lasts several rounds
            now = time.monotonic()
            for call_id, live in list(self.owner.calls.items()):
                if live.detached_at is not None and now - live.detached_at > self.abandon_after_seconds:
                    try:
                        if not await self.c.leases.claim(call_id):
                            await self._let_go(call_id)  # resumed on a live node
                            continue
                        log.info("finalizing abandoned call", extra={"call_id": call_id})
                        await self.owner.end(live.pipeline.workspace_id, live.pipeline.user_id, call_id)
                    except NotFound:  # deleted meanwhile (retention): nothing left to finish
                        await self.owner.drop(call_id)
                    except Exception:  # the database may be down: try again next round
                        log.exception("abandoned call not finalized", extra={"call_id": call_id})

    async def sweep_orphans(self, *, every: float | None = None) -> None:
        """At start-up, then every `every` seconds (None: once): finalize open calls (any
        tenant) with no transcript activity for settings.orphan_call_seconds, left behind by
        a crashed node or a client that never came back. (Calls live on a healthy node have
        activity, or are reaped by that node.)"""
        while True:
            await self._sweep_once()
            if every is None:
                return
            await asyncio.sleep(every)

    async def _sweep_once(self) -> None:
        try:
            await self.c.store.finish_deletions()  # its calls must not count as orphans
        except Exception:
            log.exception("unfinished account deletions not swept")
        idle = timedelta(seconds=self.c.settings.orphan_call_seconds)
        try:
            stale = await self.c.store.idle_open_calls(idle_since=utcnow() - idle)
        except Exception:
            log.exception("orphaned calls not swept")
            return
        for workspace_id, user_id, call_id in stale:
            if call_id in self.owner.calls:
                continue
            try:
                if not await self.c.leases.claim(call_id):
                    continue  # a quiet call another live node carries
                log.info("finalizing orphaned call", extra={"call_id": call_id})
                await self.owner.end(workspace_id, user_id, call_id)
            except Exception:
                log.exception("orphaned call not finalized", extra={"call_id": call_id})
