"""Editing a call's summary on the call page, through the REST API on SQLite and PostgreSQL:
who may edit (whoever may see the call: the rep, their manager, an admin; anyone else gets the
404 of a missing call), the optimistic version (a stale edit gets 409 with the current summary,
by body `version` or If-Match), revert to the generated summary, and the edited summary in the
call detail, the call lists and search (found by the edit's words, not the replaced summary's),
the follow-up email draft and the CRM note."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.api_support import acme_team
from tests.integration.crm_support import Crms, all_status, crm_world, finished_call, running, seed_customer
from tests.integration.store_support import Clock, open_store
from wingman.api import analysis as analysis_api
from wingman.api import calls as calls_api
from wingman.api import summary as summary_api
from wingman.auth import Auth
from wingman.settings import Settings
from wingman.store.crm import DONE
from wingman.store.records import UserRecord, Viewer
from wingman.store.repos import Store
from wingman.store.summaries import SummaryRepo
from wingman.store.summary_edits import Editor

GENERATED = "Northwind needs call routing for 12 agents; price is the main objection."
GENERATED_ITEMS = ["Rep: send the pilot offer by Friday"]
EDITED = "Northwind (12 agents) wants routing and Zendesk; agreed to a 30-day pilot at $39/seat."
EDITED_ITEMS = ["Rep: send the pilot contract by Friday", "Customer: loop in IT on SSO"]


@dataclass
class World:
    http: httpx.AsyncClient
    store: Store
    admin: UserRecord
    manager: UserRecord
    rep: UserRecord  # reports to the manager
    other_rep: UserRecord
    outsider: UserRecord  # another workspace
    tokens: dict[str, dict[str, str]]

    def auth(self, user: UserRecord) -> dict[str, str]:
        return self.tokens[user.id]


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async for store in open_store(db_url, Clock()):
        settings = Settings(data_dir=tmp_path / "data", auth="required")
        auth = Auth(store=store, settings=settings)
        app = FastAPI()
        for router in (summary_api.router, calls_api.router, analysis_api.router):
            app.include_router(router)
        app.state.container = type("C", (), {"settings": settings, "store": store, "auth": auth})()
        t = await acme_team(store, auth)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wingman.test") as http:
            yield World(http, store, t.admin, t.manager, t.rep, t.other_rep, t.outsider, t.tokens)


async def _call(w: World, user: UserRecord, *, finished: bool = True) -> str:
    call = await w.store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                                     title="Northwind - discovery")
    if finished:
        await w.store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                                  full_transcript="", summary=GENERATED, action_items=GENERATED_ITEMS)
    return call.id


async def test_the_rep_edits_their_summary_and_everything_reads_the_edit(world: World) -> None:
    w = world
    call_id = await _call(w, w.rep)
    url = f"/api/calls/{call_id}/summary"
    r = await w.http.get(url, headers=w.auth(w.rep))
    assert r.status_code == 200 and r.headers["ETag"] == '"0"'
    first = r.json()
    assert (first["version"], first["edited"], first["text"], first["action_items"]) == (
        0, False, GENERATED, GENERATED_ITEMS)
    r = await w.http.put(url, headers=w.auth(w.rep),
                         json={"text": f"  {EDITED}\n", "action_items": [*EDITED_ITEMS, "  "], "version": 0})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert (saved["version"], saved["edited"], saved["text"], saved["action_items"]) == (
        1, True, EDITED, EDITED_ITEMS)
    assert saved["edited_by_name"] == "Ria" and saved["edited_at"] is not None
    assert (saved["generated_text"], saved["generated_action_items"]) == (GENERATED, GENERATED_ITEMS)
    # the call page, the follow-up email and (test below) the CRM read the edit
    detail = (await w.http.get(f"/api/calls/{call_id}", headers=w.auth(w.rep))).json()
    assert (detail["summary"], detail["action_items"]) == (EDITED, EDITED_ITEMS)
    draft = (await w.http.get(f"/api/calls/{call_id}/follow-up", headers=w.auth(w.rep))).json()
    assert EDITED in draft["body"] and GENERATED not in draft["body"]
    assert all(item in draft["body"] for item in EDITED_ITEMS)
    # revert to generated: the edit goes, the version still grows
    r = await w.http.delete(url, headers={**w.auth(w.rep), "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    back = r.json()
    assert (back["version"], back["edited"], back["text"], back["action_items"]) == (
        2, False, GENERATED, GENERATED_ITEMS)
    detail = (await w.http.get(f"/api/calls/{call_id}", headers=w.auth(w.rep))).json()
    assert (detail["summary"], detail["action_items"]) == (GENERATED, GENERATED_ITEMS)


async def test_a_stale_edit_gets_409_with_the_current_summary(world: World) -> None:
    w = world
    call_id = await _call(w, w.rep)
    url = f"/api/calls/{call_id}/summary"
    r = await w.http.put(url, headers=w.auth(w.manager),
                         json={"text": EDITED, "action_items": [], "version": 0})
    assert r.status_code == 200 and r.json()["edited_by_name"] == "Max"
    # the rep opened the page before the manager saved
    r = await w.http.put(url, headers={**w.auth(w.rep), "If-Match": 'W/"0"'},
                         json={"text": "mine", "action_items": ["x"]})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "summary_changed" and "Max changed this summary" in body["detail"]
    assert (body["current"]["version"], body["current"]["text"]) == (1, EDITED)
    r = await w.http.delete(url, headers=w.auth(w.rep), params={"version": 0})
    assert r.status_code == 409 and r.json()["current"]["version"] == 1
    r = await w.http.put(url, headers=w.auth(w.rep), json={"text": "no version", "action_items": []})
    assert r.status_code == 428
    # after a reload the rep's edit goes through
    r = await w.http.put(url, headers=w.auth(w.rep),
                         json={"text": "mine", "action_items": ["x"], "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2


async def test_only_who_sees_the_call_edits_it_and_not_while_it_runs(world: World) -> None:
    w = world
    call_id = await _call(w, w.rep)
    url = f"/api/calls/{call_id}/summary"
    for who in (w.other_rep, w.outsider):
        assert (await w.http.get(url, headers=w.auth(who))).status_code == 404
        r = await w.http.put(url, headers=w.auth(who),
                             json={"text": "peek", "action_items": [], "version": 0})
        assert r.status_code == 404 and "peek" not in r.text
        assert (await w.http.delete(url, headers=w.auth(who), params={"version": 0})).status_code == 404
    r = await w.http.put(url, headers=w.auth(w.admin), json={"text": "by the admin", "version": 0})
    assert r.status_code == 200 and r.json()["text"] == "by the admin"
    live = await _call(w, w.rep, finished=False)
    r = await w.http.put(f"/api/calls/{live}/summary", headers=w.auth(w.rep),
                         json={"text": "early", "version": 0})
    assert r.status_code == 409 and "still going on" in r.json()["detail"]
    r = await w.http.put(url, headers=w.auth(w.rep), json={"text": "x" * 20_001, "version": 1})
    assert r.status_code == 422


@pytest.fixture
async def crms(db_url: str) -> AsyncIterator[Crms]:
    async with crm_world(db_url) as world:
        yield world


async def test_the_crm_note_carries_the_edited_summary(crms: Crms) -> None:
    seed_customer(crms)
    tenant, call_id = await finished_call(crms.store)
    await crms.connect("hubspot", tenant)
    repo = SummaryRepo(crms.store)
    result = await repo.save(viewer=Viewer.workspace(tenant), editor=Editor(id=tenant, name="Rep"),
                             call_id=call_id, base_version=0, text=EDITED, action_items=EDITED_ITEMS)
    assert result is not None and result[0]
    async with running(crms.worker()):
        assert await crms.service.after_call(tenant_id=tenant, call_id=call_id) == 1
        await crms.wait(tenant, call_id, all_status(DONE, count=1))
    notes, tasks = crms.hubspot.created("notes"), crms.hubspot.created("tasks")
    body = notes[0]["properties"]["hs_note_body"]
    assert EDITED in body and "price is the main objection" not in body
    assert sorted(t["properties"]["hs_task_subject"] for t in tasks) == sorted(EDITED_ITEMS)


async def _listed(w: World, user: UserRecord, q: str | None = None) -> dict[str, dict[str, object]]:
    r = await w.http.get("/api/calls", headers=w.auth(user), params={"q": q} if q else {})
    assert r.status_code == 200, r.text
    return {c["id"]: c for c in r.json()["items"]}


def _marked(item: dict[str, object]) -> str:
    parts = item["snippet"]
    assert isinstance(parts, list)
    return "".join(p["text"] for p in parts if p["match"]).lower()


async def test_lists_and_search_show_and_find_the_edit_not_the_replaced_summary(world: World) -> None:
    w = world
    call_id, untouched = await _call(w, w.rep), await _call(w, w.rep)
    url = f"/api/calls/{call_id}/summary"
    edit = {"text": EDITED, "action_items": EDITED_ITEMS, "version": 0}
    assert (await w.http.put(url, headers=w.auth(w.rep), json=edit)).status_code == 200
    # the history list, for the rep and for their manager (team view), shows the edit
    for who in (w.rep, w.manager):
        listed = await _listed(w, who)
        assert listed[call_id]["summary"] == EDITED and listed[untouched]["summary"] == GENERATED
    # words of the edit find it, with the edit's words marked in the snippet
    found = await _listed(w, w.rep, "zendesk pilot")
    assert list(found) == [call_id] and found[call_id]["summary"] == EDITED
    assert "zendesk" in _marked(found[call_id])
    # words only in the replaced generated summary find the untouched call alone
    assert list(await _listed(w, w.rep, "objection")) == [untouched]
    # the title (not the summary) still finds both
    assert set(await _listed(w, w.rep, "discovery")) == {call_id, untouched}
    # revert: the generated summary is shown and searched again, the edit's words no longer
    assert (await w.http.delete(url, headers=w.auth(w.rep), params={"version": 1})).status_code == 200
    assert (await _listed(w, w.rep))[call_id]["summary"] == GENERATED
    assert await _listed(w, w.rep, "zendesk") == {}
    found = await _listed(w, w.rep, "objection")
    assert set(found) == {call_id, untouched} and "objection" in _marked(found[call_id])
    # an edit again after the revert (the row's text set back from NULL) is searchable again
    assert (await w.http.put(url, headers=w.auth(w.rep),
                             json={"text": "Routing only; SSO later.", "version": 2})).status_code == 200
    assert list(await _listed(w, w.rep, "sso")) == [call_id]
    assert list(await _listed(w, w.rep, "objection")) == [untouched]
