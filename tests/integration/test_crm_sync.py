"""CRM sync end to end against the HubSpot and Salesforce stand-ins, on SQLite and PostgreSQL:
OAuth connect, lookup by email, writes on each API's shapes, 429/503 retries honouring
Retry-After, exactly-once writes (also when an answer is lost), 401 refresh, revocation and
reconnect, a rep's pick, a crashed worker's job taken over, tokens sealed at rest."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.fakes.crm_stub import Fault
from tests.integration.crm_support import (
    ACTION_ITEMS,
    CUSTOMER_EMAIL,
    LINK_BASE,
    Crms,
    all_status,
    crm_world,
    finished_call,
    running,
    seed_customer,
)
from tests.integration.store_support import Clock
from wingman.crm.base import CrmTarget
from wingman.crm.service import lookup_from_call
from wingman.store.crm import DONE, NEEDS_RECONNECT, NO_MATCH


@pytest.fixture
async def crms(db_url: str) -> AsyncIterator[Crms]:
    async with crm_world(db_url) as world:
        yield world


async def _connected_call(crms: Crms, **kwargs: object) -> tuple[str, str]:
    tenant, call_id = await finished_call(crms.store, **kwargs)  # type: ignore[arg-type]
    await crms.connect("hubspot", tenant)
    await crms.connect("salesforce", tenant)
    return tenant, call_id


async def test_a_finished_call_reaches_both_crms_exactly_once_after_429_and_503(crms: Crms) -> None:
    ids = seed_customer(crms)
    tenant, call_id = await _connected_call(crms)
    for fake in (crms.hubspot, crms.salesforce):
        fake.fail_next(Fault(429, retry_after="1"), Fault(503))
    async with running(crms.worker()):
        assert await crms.service.after_call(tenant_id=tenant, call_id=call_id) == 2
        jobs = await crms.wait(tenant, call_id, all_status(DONE))
    assert all(j.attempts == 3 for j in jobs)  # the 429, the 503, then the writes
    # HubSpot: one note and one task per action item, each on the contact, its company and deal
    hs = crms.hubspot
    notes, tasks = hs.created("notes"), hs.created("tasks")
    assert len(notes) == 1 and len(tasks) == len(ACTION_ITEMS)
    body = notes[0]["properties"]["hs_note_body"]
    assert "price is the main objection" in body and "way too expensive" in body
    assert f"{LINK_BASE}/calls/{call_id}" in body and f"wingman:{call_id}:note" in body
    assert all(item in body for item in ACTION_ITEMS)
    linked = {("contacts", ids["hs_contact"]), ("companies", ids["hs_company"]), ("deals", ids["hs_deal"])}
    assert set(notes[0]["associations"]) == linked and all(set(t["associations"]) == linked for t in tasks)
    assert sorted(t["properties"]["hs_task_subject"] for t in tasks) == sorted(ACTION_ITEMS)
    assert all(t["properties"]["hs_task_status"] == "NOT_STARTED" for t in tasks)
    # the Retry-After was honoured: the second try came a second or more after the 429
    searches = hs.api_requests("POST", "/crm/v3/objects/contacts/search")
    assert [r.status for r in searches[:2]] == [429, 503]
    # Salesforce: a completed call Task with the notes and one open Task per action item
    sf_tasks = crms.salesforce.tasks()
    assert len(sf_tasks) == 1 + len(ACTION_ITEMS)
    logged = next(t for t in sf_tasks if t.get("TaskSubtype") == "Call")
    assert logged["Status"] == "Completed" and "price is the main objection" in logged["Description"]
    assert logged["WhoId"] == ids["sf_contact"] and logged["WhatId"] == ids["sf_opportunity"]
    assert {t["CallObject"] for t in sf_tasks} == {
        f"wingman:{call_id}:{s}" for s in ("note", "task-0", "task-1")
    }
    assert any(f"Email = '{CUSTOMER_EMAIL}'" in q for q in crms.salesforce.queries)
    # and a second end-of-call or sync-now writes nothing more
    assert await crms.service.after_call(tenant_id=tenant, call_id=call_id) == 0
    await crms.service.request_sync(tenant_id=tenant, call_id=call_id, provider="hubspot")
    async with running(crms.worker()):
        await crms.wait(tenant, call_id, all_status(DONE))
    assert len(hs.created("notes")) == 1 and len(hs.created("tasks")) == len(ACTION_ITEMS)


async def test_a_write_whose_answer_was_lost_is_found_by_its_marker_not_made_twice(crms: Crms) -> None:
    seed_customer(crms)
    tenant, call_id = await _connected_call(crms)
    # the CRM creates the note / task but the answer never arrives (a 503 after the work)
    crms.hubspot.fail_next(Fault(503, path_prefix="/crm/v3/objects/notes", method="POST", after=True))
    crms.salesforce.fail_next(Fault(502, path_prefix="/services/data/v62.0/sobjects/Task", after=True))
    async with running(crms.worker()):
        await crms.service.after_call(tenant_id=tenant, call_id=call_id)
        await crms.wait(tenant, call_id, all_status(DONE))
    assert len(crms.hubspot.created("notes")) == 1
    assert len(crms.hubspot.created("tasks")) == len(ACTION_ITEMS)
    assert len(crms.salesforce.tasks()) == 1 + len(ACTION_ITEMS)


async def test_an_expired_access_token_is_refreshed_and_the_sync_goes_on(crms: Crms) -> None:
    seed_customer(crms)
    tenant, call_id = await _connected_call(crms)
    crms.hubspot.expire_access_tokens()
    crms.salesforce.expire_access_tokens()
    async with running(crms.worker()):
        await crms.service.after_call(tenant_id=tenant, call_id=call_id)
        await crms.wait(tenant, call_id, all_status(DONE))
    for fake in (crms.hubspot, crms.salesforce):
        grants = [
            r for r in fake.api_requests("POST", fake.token_path) if b"grant_type=refresh_token" in r.body
        ]
        assert len(grants) == 1 and any(r.status == 401 for r in fake.requests)


async def test_a_revoked_grant_asks_to_reconnect_and_nothing_is_lost(crms: Crms) -> None:
    seed_customer(crms)
    tenant, call_id = await _connected_call(crms)
    crms.hubspot.revoke_all()
    async with running(crms.worker()):
        await crms.service.after_call(tenant_id=tenant, call_id=call_id)
        jobs = await crms.wait(
            tenant,
            call_id,
            lambda js: {j.provider: j.status for j in js} == {"hubspot": NEEDS_RECONNECT, "salesforce": DONE},
        )
        hubspot = next(j for j in jobs if j.provider == "hubspot")
        assert hubspot.last_error == "reconnect HubSpot"
        statuses = {s.provider: s.status for s in await crms.service.statuses(tenant_id=tenant)}
        assert statuses == {"hubspot": "needs_reconnect", "salesforce": "connected"}
        assert crms.hubspot.created("notes") == []
        await crms.connect("hubspot", tenant)  # the admin reconnects: the waiting job resumes
        await crms.wait(tenant, call_id, all_status(DONE))
    assert len(crms.hubspot.created("notes")) == 1 and len(crms.hubspot.created("tasks")) == len(ACTION_ITEMS)


async def test_no_match_waits_for_the_rep_to_pick_a_record(crms: Crms) -> None:
    company = crms.hubspot.add("companies", {"name": "Globex Industries"})
    tenant, call_id = await finished_call(crms.store, email=None, title="Untitled call")
    await crms.connect("hubspot", tenant)
    async with running(crms.worker()):
        await crms.service.after_call(tenant_id=tenant, call_id=call_id)
        (job,) = await crms.wait(tenant, call_id, all_status(NO_MATCH, count=1))
        assert "pick one" in (job.last_error or "")
        found = await crms.service.search(tenant_id=tenant, provider="hubspot", query="globex")
        assert [(t.kind, t.id, t.name) for t in found] == [("company", company, "Globex Industries")]
        await crms.service.request_sync(
            tenant_id=tenant, call_id=call_id, provider="hubspot", target=found[0]
        )
        (job,) = await crms.wait(tenant, call_id, all_status(DONE, count=1))
    assert job.target is not None and job.target["id"] == company
    assert crms.hubspot.created("notes")[0]["associations"] == [("companies", company)]


async def test_a_job_left_running_by_a_dead_worker_is_taken_over_after_its_lease(crms: Crms) -> None:
    seed_customer(crms)
    tenant, call_id = await _connected_call(crms)
    clock = Clock()
    await crms.service.repo.enqueue(tenant_id=tenant, call_id=call_id, provider="salesforce", now=clock())
    # a worker claims the job and dies (no release): the row stays "running" under its lease
    assert (
        await crms.service.repo.claim(
            tenant_id=tenant, call_id=call_id, provider="salesforce", now=clock(), lease=timedelta(minutes=2)
        )
        is not None
    )
    assert await crms.worker(clock).run_due() == 0
    clock.advance(minutes=3)
    assert await crms.worker(clock).run_due() == 1
    (job,) = await crms.service.repo.syncs(tenant_id=tenant, call_id=call_id)
    assert job.status == DONE and len(crms.salesforce.tasks()) == 1 + len(ACTION_ITEMS)


async def test_tokens_are_sealed_at_rest_and_disconnect_revokes_them(crms: Crms) -> None:
    tenant, _ = await finished_call(crms.store)
    await crms.connect("hubspot", tenant)
    (refresh,) = crms.hubspot.oauth.refresh
    engine = crms.store.router.directory()
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT refresh_token, access_token FROM crm_connections"))).all()
    assert rows and all(refresh not in json.dumps(list(r)) for r in rows)
    assert not any(a in json.dumps(list(r)) for r in rows for a in crms.hubspot.oauth.access)
    assert await crms.service.disconnect(tenant_id=tenant, provider="hubspot")
    assert crms.hubspot.oauth.refresh == set()  # revoked at HubSpot
    assert (await crms.service.statuses(tenant_id=tenant))[0].status == "not_connected"


def test_lookup_from_call_takes_the_first_email_and_the_title_company() -> None:
    texts = ["my email is [redacted email]", "it's Bob.Smith@Initech.example, thanks"]
    assert lookup_from_call("Initech — renewal", texts) == ("bob.smith@initech.example", "Initech")
    assert lookup_from_call("Untitled call", []) == (None, None)
    assert CrmTarget(kind="deal", id="1", name="x").related == {}
