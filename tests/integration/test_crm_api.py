"""The CRM REST routes on SQLite and PostgreSQL: connect through the stand-in's consent page
and our callback (signed state; a forged or missing one refused), per-call status, sync now,
the rep's record search, disconnect, and tenant isolation (another user's call is a 404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.api_support import bearer
from tests.integration.crm_support import Crms, crm_world, finished_call, running, seed_customer
from wingman.api import auth as auth_api
from wingman.api import crm as crm_api
from wingman.auth import Auth
from wingman.crm.service import CrmService
from wingman.settings import Settings
from wingman.store.repos import Store


@dataclass
class StandIn:
    settings: Settings
    store: Store
    auth: Auth
    crm: CrmService


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Crms]]:
    async with crm_world(db_url) as crms:
        settings = Settings(data_dir=tmp_path / "data", auth="required")
        app = FastAPI()
        app.include_router(auth_api.router)
        app.include_router(crm_api.router)
        app.state.container = StandIn(
            settings, crms.store, Auth(store=crms.store, settings=settings), crms.service
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wingman.test") as client:
            yield client, crms


async def test_connect_callback_status_sync_and_disconnect(api: tuple[httpx.AsyncClient, Crms]) -> None:
    client, crms = api
    seed_customer(crms)
    r = await client.post(
        "/api/auth/register", json={"email": "ada@wingman.test", "name": "Ada", "password": "correct horse"}
    )
    user_id, auth = r.json()["user"]["id"], bearer(r.json()["token"])
    listed = (await client.get("/api/crm", headers=auth)).json()
    assert [(p["provider"], p["configured"], p["status"]) for p in listed] == [
        ("hubspot", True, "not_connected"),
        ("salesforce", True, "not_connected"),
    ]
    r = await client.post("/api/crm/hubspot/connect", headers=auth)
    consent = await crms.http.get(r.json()["authorize_url"], follow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    r = await client.get(f"{back.path}?{back.query}")  # the browser comes back: no bearer token
    assert r.status_code == 303 and r.headers["location"] == "/settings?crm=hubspot&result=connected"
    listed = (await client.get("/api/crm", headers=auth)).json()
    assert listed[0]["status"] == "connected" and listed[0]["account"] == "acme-sales.hubspot.test"
    # a forged state never connects anyone
    q = parse_qs(back.query)
    r = await client.get(f"{back.path}?code={q['code'][0]}&state=forged")
    assert r.status_code == 303 and "result=error" in r.headers["location"]
    # a call of this user: queued by "sync now", then written in the background
    call = await crms.store.create_call(workspace_id=user_id, user_id=user_id, title="Acme Corp - demo")
    await crms.store.finish_call(
        workspace_id=user_id, user_id=user_id,
        call_id=call.id,
        full_transcript="",
        summary="Demo went well.",
        action_items=["Send the deck"],
    )
    r = await client.post(f"/api/calls/{call.id}/crm/hubspot", headers=auth, json={"company": "Acme Corp"})
    assert r.status_code == 202 and r.json()[0]["status"] == "pending"
    async with running(crms.worker()):
        await crms.wait(user_id, call.id, lambda jobs: bool(jobs) and jobs[0].status == "done")
    (status,) = (await client.get(f"/api/calls/{call.id}/crm", headers=auth)).json()
    assert status["message"] == "synced to HubSpot (Acme Corp)" and status["written"] == 2
    found = (await client.get("/api/crm/hubspot/search", params={"q": "acme"}, headers=auth)).json()
    assert ("company", "Acme Corp") in [(t["kind"], t["name"]) for t in found]
    r = await client.delete("/api/crm/hubspot", headers=auth)
    assert r.status_code == 204 and crms.hubspot.oauth.refresh == set()
    assert (await client.delete("/api/crm/hubspot", headers=auth)).status_code == 404


async def test_another_tenants_call_is_not_found_and_an_open_call_is_refused(
    api: tuple[httpx.AsyncClient, Crms],
) -> None:
    client, crms = api
    _, others_call = await finished_call(crms.store, name="other")
    r = await client.post(
        "/api/auth/register", json={"email": "bo@wingman.test", "name": "Bo", "password": "correct horse"}
    )
    user_id, auth = r.json()["user"]["id"], bearer(r.json()["token"])
    assert (await client.get(f"/api/calls/{others_call}/crm", headers=auth)).status_code == 404
    assert (
        await client.post(f"/api/calls/{others_call}/crm/hubspot", headers=auth, json={})
    ).status_code == 404
    live = await crms.store.create_call(workspace_id=user_id, user_id=user_id, title="live")
    r = await client.post(f"/api/calls/{live.id}/crm/hubspot", headers=auth, json={})
    assert r.status_code == 409 and "still going on" in r.json()["detail"]
    assert (await client.get("/api/crm")).status_code == 401


async def test_only_a_workspace_admin_connects_disconnects_or_configures_a_crm(
    api: tuple[httpx.AsyncClient, Crms],
) -> None:
    """A manager or a rep sees the connections but gets a 403 naming the admin role for
    connect, auto-sync and disconnect; the admin's own connection is left as it was."""
    client, crms = api
    r = await client.post(
        "/api/auth/register", json={"email": "ada@wingman.test", "name": "Ada", "password": "correct horse"}
    )
    admin = r.json()["user"]
    admin_auth = bearer(r.json()["token"])
    auth: Auth = client._transport.app.state.container.auth  # type: ignore[attr-defined]
    tokens = {}
    for role in ("manager", "rep"):
        _invitation, token = await crms.store.create_invitation(
            workspace_id=admin["workspace_id"], email=f"{role}@wingman.test", role=role,
            invited_by=admin["id"], ttl_seconds=3600,
        )
        grant = await auth.accept_invitation(token=token, name=role.title(), password="correct horse")
        tokens[role] = bearer(grant.token)
    r = await client.post("/api/crm/hubspot/connect", headers=admin_auth)
    consent = await crms.http.get(r.json()["authorize_url"], follow_redirects=False)
    back = urlsplit(consent.headers["Location"])
    assert (await client.get(f"{back.path}?{back.query}")).status_code == 303
    for role, headers in tokens.items():
        listed = (await client.get("/api/crm", headers=headers)).json()
        assert [(p["status"], p["can_manage"]) for p in listed] == [
            ("connected", False), ("not_connected", False)
        ], role
        refused = [
            await client.post("/api/crm/salesforce/connect", headers=headers),
            await client.put("/api/crm/hubspot", headers=headers, json={"auto_sync": False}),
            await client.delete("/api/crm/hubspot", headers=headers),
        ]
        assert [x.status_code for x in refused] == [403, 403, 403], role
        assert all("only a workspace admin" in x.json()["detail"] for x in refused)
    listed = (await client.get("/api/crm", headers=admin_auth)).json()
    assert [(p["status"], p["auto_sync"], p["can_manage"]) for p in listed] == [
        ("connected", True, True), ("not_connected", True, True)
    ]
    assert crms.hubspot.oauth.refresh != set()  # the refused disconnect revoked nothing
    r = await client.put("/api/crm/hubspot", headers=admin_auth, json={"auto_sync": False})
    assert r.status_code == 200 and r.json()[0]["auto_sync"] is False


async def test_an_admin_demoted_or_removed_before_the_callback_connects_nothing(
    api: tuple[httpx.AsyncClient, Crms],
) -> None:
    """The signed state outlives the role: an admin who starts the consent, is made a manager
    (or is removed) by another admin, then comes back from the CRM connects nothing."""
    client, crms = api
    r = await client.post(
        "/api/auth/register", json={"email": "ada@wingman.test", "name": "Ada", "password": "correct horse"}
    )
    ada = r.json()["user"]
    auth: Auth = client._transport.app.state.container.auth  # type: ignore[attr-defined]
    admins = []
    for name in ("cy", "di"):  # Di stays admin: a workspace always keeps one
        _invitation, token = await crms.store.create_invitation(
            workspace_id=ada["workspace_id"], email=f"{name}@wingman.test", role="admin",
            invited_by=ada["id"], ttl_seconds=3600,
        )
        admins.append(await auth.accept_invitation(token=token, name=name, password="correct horse"))
    cy = admins[0]
    backs = {}
    for provider, who in (("hubspot", bearer(r.json()["token"])), ("salesforce", bearer(cy.token))):
        started = await client.post(f"/api/crm/{provider}/connect", headers=who)
        consent = await crms.http.get(started.json()["authorize_url"], follow_redirects=False)
        backs[provider] = urlsplit(consent.headers["Location"])
    await crms.store.update_member(workspace_id=ada["workspace_id"], user_id=ada["id"], role="manager")
    await crms.store.remove_member(workspace_id=ada["workspace_id"], user_id=cy.user.id)
    for back in backs.values():
        r = await client.get(f"{back.path}?{back.query}")
        assert r.status_code == 303 and "result=error" in r.headers["location"]
        assert "only+a+workspace+admin" in r.headers["location"]
    assert await crms.store.get_user(user_id=ada["id"]) is not None
    statuses = await crms.service.statuses(tenant_id=ada["workspace_id"])
    assert [s.status for s in statuses] == ["not_connected", "not_connected"]
    assert crms.hubspot.oauth.refresh == set()  # no code was traded for tokens
