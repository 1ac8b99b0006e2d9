"""`SummaryRepo`: reading and editing a call's summary over the Store's tenant routing.

Who may edit is who may see the call (store.common.visible): a rep their own calls, a manager
their reps', an admin the workspace's; another's call looks missing (None). An edit of a call
already in a CRM queues, in the same transaction, the update of its note there (store/crm.py
summary_changed: durable like every CRM sync job)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from wingman.events import utcnow
from wingman.store.common import visible
from wingman.store.crm import summary_changed
from wingman.store.records import Viewer
from wingman.store.repos import Store
from wingman.store.summary_edits import Editor, SummaryRecord, clean_items, summary_of, write_edit


class SummaryRepo:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    async def get(self, *, viewer: Viewer, call_id: str) -> SummaryRecord | None:
        async with self._store.tenant_tx(viewer.workspace_id, write=False) as s:
            return await summary_of(s, scope=visible(viewer), call_id=call_id)

    async def save(
        self,
        *,
        viewer: Viewer,
        editor: Editor,
        call_id: str,
        base_version: int,
        text: str | None,
        action_items: Sequence[str] | None,
    ) -> tuple[bool, SummaryRecord] | None:
        """Edit the summary (text None: revert to the generated one) if it is still at
        `base_version`: (True, the new summary); (False, the current one) when it is not;
        None when `viewer` may not see the call."""
        scope = visible(viewer)
        async with self._store.tenant_tx(viewer.workspace_id, write=True) as s:
            current = await summary_of(s, scope=scope, call_id=call_id)
            if current is None:
                return None
            if current.version != base_version:
                return False, current
            ok = await write_edit(
                s,
                call_id=call_id,
                base_version=base_version,
                text=text.strip() if text is not None else None,
                action_items=clean_items(action_items) if action_items is not None else None,
                editor=editor,
                now=self._clock(),
            )
            after = await summary_of(s, scope=scope, call_id=call_id)
            if ok and after is not None:
                await summary_changed(s, call_id=call_id, version=after.version, now=self._clock())
        assert after is not None  # seen in this transaction; the call's cascade needs a delete
        return ok, after
