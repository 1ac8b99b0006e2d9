"""The CRM sync worker: a background loop on every node that claims due jobs (store/crm.py)
and writes each finished call to its CRM, exactly once.

Exactly once, because: a job is claimed under a lease by one worker at a time; each write the
CRM acknowledged is recorded before the next; and a run that follows an interrupted one
(attempt > 1) first asks the CRM which of the call's markers it already holds. 429 and 5xx
put the job back with the CRM's Retry-After (else exponential backoff); 401 refreshes the
token once; a refused refresh parks the job until the CRM is reconnected. Jobs live in the
database, so a restart resumes them.

A call whose summary is edited (or reverted) after its note reached the CRM has its job made
due again (store/crm.py summary_changed): the run rewrites the note in place (never a second
note), or writes it anew if someone deleted it in the CRM, with the same retries.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from wingman.crm.base import (
    LABELS,
    CallWrite,
    CrmAuthError,
    CrmError,
    CrmNotFound,
    CrmRetryable,
    CrmTarget,
    steps_of,
)
from wingman.crm.service import CrmService, lookup_from_call
from wingman.errors import WingmanError
from wingman.events import utcnow
from wingman.store.crm import DONE, FAILED, NEEDS_RECONNECT, NO_MATCH, PENDING, CrmSyncRecord
from wingman.store.records import Viewer
from wingman.store.repos import Store

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_BACKOFF_SECONDS = 300.0


def backoff_seconds(attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """1, 2, 4 ... seconds (capped at 5 minutes), with up to 20% jitter so jobs spread out."""
    base = min(MAX_BACKOFF_SECONDS, 2.0 ** max(attempt - 1, 0))
    return base * (1.0 + 0.2 * rand())


class CrmSyncWorker:
    """Runs due CRM sync jobs until cancelled."""

    def __init__(
        self,
        *,
        service: CrmService,
        store: Store,
        link_base: str,
        poll_seconds: float = 2.0,
        max_attempts: int = 12,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._service = service
        self._store = store
        self._link_base = link_base.rstrip("/")
        self._poll = poll_seconds
        self._max_attempts = max_attempts
        self._clock = clock

    async def run(self) -> None:
        """Claim and run due jobs; sleep until the next one falls due, a poll, or a wake-up."""
        while True:
            try:
                await self.run_due()
                delay = self._poll
                next_at = await self._service.repo.next_due_at()
                if next_at is not None:
                    delay = min(delay, max(0.05, (next_at - self._clock()).total_seconds()))
            except Exception:  # the database is away: try again later, never stop
                log.exception("crm worker pass failed")
                delay = self._poll
            self._service.wake.clear()
            try:
                await asyncio.wait_for(self._service.wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def run_due(self) -> int:
        """One pass over the jobs due now; returns how many this worker ran."""
        ran = 0
        for tenant_id, call_id, provider in await self._service.repo.due(now=self._clock()):
            job = await self._service.repo.claim(
                tenant_id=tenant_id, call_id=call_id, provider=provider, now=self._clock(), lease=LEASE
            )
            if job is not None:  # else another worker took it first
                await self.run_job(job)
                ran += 1
        return ran

    async def run_job(self, job: CrmSyncRecord) -> None:
        """One attempt at writing a call to a CRM; the job row records the outcome."""
        repo, label = self._service.repo, LABELS.get(job.provider, job.provider)
        ids = {"call_id": job.call_session_id, "provider": job.provider, "attempt": job.attempts}
        release: dict[str, Any] = {
            "tenant_id": job.tenant_id,
            "call_id": job.call_session_id,
            "provider": job.provider,
        }
        try:
            status, error = await self._write(job)
            await repo.release(**release, now=self._clock(), status=status, error=error)
            log.info("crm sync finished", extra=ids | {"status": status})
        except CrmRetryable as e:
            if job.attempts >= self._max_attempts:
                await repo.release(
                    **release,
                    now=self._clock(),
                    status=FAILED,
                    error=f"{label} kept failing: {e}; press sync to try again",
                )
                return
            wait = e.retry_after if e.retry_after is not None else backoff_seconds(job.attempts)
            log.info("crm sync retrying", extra=ids | {"wait": round(wait, 2)})
            await repo.release(
                **release,
                now=self._clock(),
                status=PENDING,
                error=str(e),
                retry_at=self._clock() + timedelta(seconds=wait),
            )
        except CrmAuthError:
            await repo.release(
                **release, now=self._clock(), status=NEEDS_RECONNECT, error=f"reconnect {label}"
            )
        except CrmError as e:
            await repo.release(**release, now=self._clock(), status=FAILED, error=str(e))
        except WingmanError as e:  # our own store or a provider: retry later
            log.warning("crm sync interrupted", extra=ids | {"error": type(e).__name__})
            await repo.release(
                **release,
                now=self._clock(),
                status=PENDING,
                error="interrupted; retrying",
                retry_at=self._clock() + timedelta(seconds=backoff_seconds(job.attempts)),
            )

    async def _write(self, job: CrmSyncRecord) -> tuple[str, str | None]:
        service, repo = self._service, self._service.repo
        client = service.client(job.provider)
        tenant, provider, call_id = job.tenant_id, job.provider, job.call_session_id
        # the tenant is the workspace: the job may be for any of its members' calls
        detail = await self._store.call_detail(viewer=Viewer.workspace(tenant), call_id=call_id)
        if detail is None:
            return FAILED, "the call no longer exists"
        write = CallWrite(
            call_id=call_id,
            title=detail.title,
            summary=detail.summary or "",
            key_moments=[(m.kind, m.text, m.at) for m in detail.key_moments],
            action_items=list(detail.action_items),
            link=f"{self._link_base}/calls/{call_id}",
            occurred_at_ms=int(detail.start_time.timestamp() * 1000),
        )
        target = CrmTarget.from_dict(job.target)
        if target is None:
            email, company = lookup_from_call(detail.title, [s.text for s in detail.transcript])
            email, company = job.lookup_email or email, job.lookup_company or company
            target = await service.call_api(
                tenant_id=tenant, provider=provider, op=lambda c: client.find(c, email=email, company=company)
            )
            if target is None:
                return (
                    NO_MATCH,
                    f"no {LABELS[provider]} contact or company matched: pick one on the call page",
                )
        steps = dict(job.steps)
        if job.attempts > 1:
            # an earlier run may have written without hearing back: ask the CRM for our markers
            found = await service.call_api(
                tenant_id=tenant, provider=provider, op=lambda c: client.written(c, call_id=call_id)
            )
            steps = found | steps
        picked = target.as_dict()
        # the detail was read after the claim: it holds at least this version of the summary
        current = job.summary_version

        async def save(note_version: int | None = None) -> None:
            await repo.progress(tenant_id=tenant, call_id=call_id, provider=provider, now=self._clock(),
                                steps=steps, target=picked, note_version=note_version)

        await save()
        wanted = steps_of(write)
        if "note" in steps and job.note_version < current:
            # the summary was edited (or reverted) since the note was written: rewrite it there.
            # Tasks stay those of the first sync: edited action items are numbered anew, so
            # writing "missing" ones by position could repeat a task; the note lists them all
            wanted = ["note"]
            try:
                await service.call_api(
                    tenant_id=tenant,
                    provider=provider,
                    op=functools.partial(client.update_note, note_id=steps["note"], write=write),
                )
            except CrmNotFound:  # deleted in the CRM: written anew below, as a first sync would
                log.info("crm note gone, writing it again", extra={"call_id": call_id, "provider": provider})
                del steps["note"]
            else:
                await save(note_version=current)
        for step in wanted:
            if step in steps:
                continue
            steps[step] = await service.call_api(
                tenant_id=tenant,
                provider=provider,
                op=functools.partial(client.write_step, target=target, write=write, step=step),
            )
            # recorded before the next write: a retry never repeats this one
            await save(note_version=current if step == "note" else None)
        return DONE, None
