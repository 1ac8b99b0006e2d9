"""A summary edited (or reverted) after its call reached the CRM updates the note there, on
SQLite and PostgreSQL, against the HubSpot and Salesforce stand-ins: the same note is rewritten
in place (PATCH, never a second note), through 429 / 503 retries and a lost answer; a note
deleted in the CRM is written anew; an edit during a run is not lost; a call never synced
gets nothing; the call's CRM status says the note is being updated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.fakes.crm_stub import Fault
from tests.integration.crm_support import ACTION_ITEMS, Crms, all_status, crm_world, finished_call, running
from tests.integration.crm_support import seed_customer as seed
from wingman.api.crm import CallSyncOut
from wingman.events import utcnow
from wingman.store.crm import DONE, NO_MATCH, PENDING, CrmSyncRecord
from wingman.store.records import Viewer
from wingman.store.summaries import SummaryRepo
from wingman.store.summary_edits import Editor

GENERATED = "price is the main objection"  # in finished_call's summary
EDITED = "Acme (40 agents) agreed to a 30-day pilot at $39 per seat, Zendesk first."
# an item put first: the first sync's tasks are numbered differently now
EDITED_ITEMS = ["Customer: loop in IT on SSO", *ACTION_ITEMS]
HS_NOTES = "/crm/v3/objects/notes/"
SF_TASKS = "/services/data/v62.0/sobjects/Task/"


@pytest.fixture
async def crms(db_url: str) -> AsyncIterator[Crms]:
    async with crm_world(db_url) as world:
        yield world


async def _synced(crms: Crms, providers: tuple[str, ...] = ("hubspot", "salesforce")) -> tuple[str, str]:
    tenant, call_id = await finished_call(crms.store)
    for provider in providers:
        await crms.connect(provider, tenant)
    async with running(crms.worker()):
        assert await crms.service.after_call(tenant_id=tenant, call_id=call_id) == len(providers)
        await crms.wait(tenant, call_id, all_status(DONE, count=len(providers)))
    return tenant, call_id


async def _edit(crms: Crms, tenant: str, call_id: str, version: int, text: str | None) -> None:
    saved = await SummaryRepo(crms.store).save(
        viewer=Viewer.workspace(tenant), editor=Editor(id=tenant, name="Rep"), call_id=call_id,
        base_version=version, text=text, action_items=EDITED_ITEMS if text is not None else None,
    )
    assert saved is not None and saved[0]


def _updated(jobs: list[CrmSyncRecord]) -> bool:
    return all(j.status == DONE and not j.note_behind for j in jobs) and len(jobs) == 2


def _hs_note(crms: Crms) -> str:
    notes = crms.hubspot.created("notes")
    assert len(notes) == 1  # rewritten in place, never a second note
    return str(notes[0]["properties"]["hs_note_body"])


def _sf_note(crms: Crms) -> str:
    calls = [t for t in crms.salesforce.tasks() if t.get("TaskSubtype") == "Call"]
    assert len(calls) == 1
    return str(calls[0]["Description"])


async def test_an_edit_and_a_revert_rewrite_the_note_in_both_crms_through_retries(crms: Crms) -> None:
    ids = seed(crms)
    tenant, call_id = await _synced(crms)
    hs_tasks, sf_count = len(crms.hubspot.created("tasks")), len(crms.salesforce.tasks())
    associations = crms.hubspot.created("notes")[0]["associations"]
    await _edit(crms, tenant, call_id, 0, EDITED)
    # durable: the edit's own transaction queued the update (no worker ran yet)
    jobs = await crms.service.repo.syncs(tenant_id=tenant, call_id=call_id)
    assert [(j.status, j.note_behind) for j in jobs] == [(PENDING, True), (PENDING, True)]
    shown = CallSyncOut.of(jobs[0])
    assert shown.note_behind and shown.message == "updating the HubSpot note with the edited summary"
    # HubSpot rate-limits the update, then applies one but the answer is lost; Salesforce is down
    crms.hubspot.fail_next(Fault(429, retry_after="1", path_prefix=HS_NOTES, method="PATCH"),
                           Fault(503, path_prefix=HS_NOTES, method="PATCH", after=True))
    crms.salesforce.fail_next(Fault(503, path_prefix=SF_TASKS, method="PATCH"))
    async with running(crms.worker()):
        jobs = await crms.wait(tenant, call_id, _updated)
    assert EDITED in _hs_note(crms) and GENERATED not in _hs_note(crms)
    assert f"wingman:{call_id}:note" in _hs_note(crms)  # its marker kept: found again after a crash
    assert crms.hubspot.created("notes")[0]["associations"] == associations
    assert EDITED in _sf_note(crms) and GENERATED not in _sf_note(crms)
    logged = next(t for t in crms.salesforce.tasks() if t.get("TaskSubtype") == "Call")
    assert logged["WhoId"] == ids["sf_contact"] and logged["CallObject"] == f"wingman:{call_id}:note"
    # the note lists the edited action items; the tasks stay the first sync's (none repeated)
    assert EDITED_ITEMS[0] in _hs_note(crms) and EDITED_ITEMS[0] in _sf_note(crms)
    assert (len(crms.hubspot.created("tasks")), len(crms.salesforce.tasks())) == (hs_tasks, sf_count)
    assert [r.status for r in crms.hubspot.api_requests("PATCH", HS_NOTES)] == [429, 503, 200]
    assert [r.status for r in crms.salesforce.api_requests("PATCH", SF_TASKS)] == [503, 204]
    assert all(j.note_version == j.summary_version == 1 for j in jobs)
    shown = CallSyncOut.of(jobs[0])
    assert not shown.note_behind and shown.message.startswith("synced to HubSpot")
    # revert to the generated summary: the note says it again
    await _edit(crms, tenant, call_id, 1, None)
    async with running(crms.worker()):
        await crms.wait(tenant, call_id, _updated)
    assert GENERATED in _hs_note(crms) and EDITED not in _hs_note(crms)
    assert GENERATED in _sf_note(crms) and EDITED not in _sf_note(crms)


async def test_a_note_deleted_in_the_crm_is_written_again_once_after_a_token_refresh(crms: Crms) -> None:
    seed(crms)
    tenant, call_id = await _synced(crms, ("hubspot",))
    note_id = crms.hubspot.created("notes")[0]["id"]
    del crms.hubspot.objects["notes"][note_id]
    crms.hubspot.expire_access_tokens()  # and the access token ran out meanwhile: refreshed once
    await _edit(crms, tenant, call_id, 0, EDITED)
    async with running(crms.worker()):
        jobs = await crms.wait(tenant, call_id, lambda js: js[0].status == DONE and not js[0].note_behind)
    assert EDITED in _hs_note(crms) and jobs[0].steps["note"] != note_id
    assert jobs[0].steps["note"] == crms.hubspot.created("notes")[0]["id"]
    assert [r.status for r in crms.hubspot.api_requests("PATCH", HS_NOTES)] == [401, 404]


async def test_an_edit_while_the_job_runs_is_pushed_after_that_run(crms: Crms) -> None:
    seed(crms)
    tenant, call_id = await _synced(crms, ("hubspot",))
    repo = crms.service.repo
    await repo.request(tenant_id=tenant, call_id=call_id, provider="hubspot", now=utcnow(),
                       email=None, company=None, target=None)
    job = await repo.claim(tenant_id=tenant, call_id=call_id, provider="hubspot",
                           now=utcnow() + timedelta(seconds=1), lease=timedelta(minutes=2))
    assert job is not None and job.summary_version == 0
    await _edit(crms, tenant, call_id, 0, EDITED)  # lands while that run holds the job
    await crms.worker().run_job(job)
    # the run wrote what it had read; releasing it saw the newer version: due again, not done
    (after,) = await repo.syncs(tenant_id=tenant, call_id=call_id)
    assert (after.status, after.summary_version, after.note_version) == (PENDING, 1, 0)
    async with running(crms.worker()):
        await crms.wait(tenant, call_id, lambda js: js[0].status == DONE and not js[0].note_behind)
    assert EDITED in _hs_note(crms)


async def test_a_call_never_synced_gets_nothing_from_an_edit(crms: Crms) -> None:
    tenant, call_id = await finished_call(crms.store)  # nobody in the CRM matches it
    await crms.connect("hubspot", tenant)
    async with running(crms.worker()):
        await crms.service.after_call(tenant_id=tenant, call_id=call_id)
        await crms.wait(tenant, call_id, all_status(NO_MATCH, count=1))
    before = len(crms.hubspot.requests)
    await _edit(crms, tenant, call_id, 0, EDITED)
    (job,) = await crms.service.repo.syncs(tenant_id=tenant, call_id=call_id)
    assert job.status == NO_MATCH and not job.note_behind
    assert crms.hubspot.created("notes") == [] and len(crms.hubspot.requests) == before
    # a call with no CRM job at all: the edit makes none
    other_tenant, other = await finished_call(crms.store, name="other")
    await _edit(crms, other_tenant, other, 0, EDITED)
    assert await crms.service.repo.syncs(tenant_id=other_tenant, call_id=other) == []
