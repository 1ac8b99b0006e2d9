"""Isolation within and across workspaces, by role, on SQLite and PostgreSQL.

Workspace Acme: Ada (admin), Max (manager of Ria), Ria and Rob (reps). Workspace Other: Olga
(admin). Each rep has a call. A rep cannot read another rep's call (every call route answers
404, exactly as for a missing id) unless they are that rep's manager; an admin reads every call
of their own workspace; nothing crosses workspaces, whatever the role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.security.support import PASSWORD, Server, User, connect, quiet_settings, register, serve
from tests.services import postgres_database

MISSING = "00000000-0000-4000-8000-00000000beef"


@dataclass
class Acme:
    server: Server
    ada: User
    max: User
    ria: User
    rob: User
    olga: User
    ria_call: str
    rob_call: str
    olga_call: str


def _join(url: str, admin: User, name: str, role: str, manager: str | None = None) -> User:
    email = f"{name}@acme.example"
    r = httpx.post(
        f"{url}/api/invitations",
        headers=admin.headers,
        json={"email": email, "role": role, "manager_id": manager},
    )
    assert r.status_code == 201, r.text
    token = r.json()["link"].split("token=", 1)[1]
    accepted = httpx.post(
        f"{url}/api/invitations/accept", json={"token": token, "name": name, "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["user"]["role"] == role and body["user"]["workspace_id"] == admin_workspace(url, admin)
    return User(id=body["user"]["id"], email=email, token=body["token"])


def admin_workspace(url: str, admin: User) -> str:
    return str(httpx.get(f"{url}/api/workspace", headers=admin.headers).json()["id"])


async def _call(url: str, user: User, title: str) -> str:
    client = await connect(url, user.token)
    try:
        call_id = str((await client.call("start-call", {"title": title}))["call_id"])
        await client.call("end-call", {"call_id": call_id}, timeout=60)
        return call_id
    finally:
        await client.disconnect()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def acme(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Acme]:
    tmp: Path = tmp_path_factory.mktemp(f"roles-{request.param}")

    def run(database_url: str | None) -> Iterator[Acme]:
        overrides = {"database_url": database_url} if database_url else {}
        with serve(quiet_settings(tmp, **overrides)) as server:
            url = server.url
            ada = register(url, "ada")
            mgr = _join(url, ada, "max", "manager")
            ria = _join(url, ada, "ria", "rep", mgr.id)
            rob = _join(url, ada, "rob", "rep")
            olga = register(url, "olga")  # open sign-up (quiet_settings): a workspace of her own
            calls = [asyncio.run(_call(url, u, f"{u.email} call")) for u in (ria, rob, olga)]
            yield Acme(server, ada, mgr, ria, rob, olga, *calls)

    if request.param == "postgres":
        with postgres_database() as pg:
            yield from run(pg)
    else:
        yield from run(None)


def _call_routes(http: httpx.Client, call_id: str) -> list[httpx.Response]:
    return [
        http.get(f"/api/calls/{call_id}"),
        http.get(f"/api/calls/{call_id}/agent-runs"),
        http.get(f"/api/calls/{call_id}/comments"),
        http.post(f"/api/calls/{call_id}/comments", json={"text": "coaching"}),
    ]


def test_a_rep_cannot_read_another_reps_calls_and_they_look_missing(acme: Acme) -> None:
    with httpx.Client(base_url=acme.server.url, headers=acme.rob.headers) as http:
        missing = [(r.status_code, r.json()) for r in _call_routes(http, MISSING)]
        for call_id in (acme.ria_call, acme.olga_call):
            got = [(r.status_code, r.json()) for r in _call_routes(http, call_id)]
            # reps may not write comments at all (403) on calls they see; here the call is hidden
            assert [code for code, _ in got] == [404, 404, 404, 404]
            assert got == missing
        listed = http.get("/api/calls").json()
        assert [c["id"] for c in listed["items"]] == [acme.rob_call]
        assert http.get("/api/calls", params={"rep": acme.ria.id}).json()["total"] == 0
        assert http.get("/api/team").status_code == 403 and http.get("/api/members").status_code == 403


def test_a_manager_reads_their_reps_calls_only(acme: Acme) -> None:
    with httpx.Client(base_url=acme.server.url, headers=acme.max.headers) as http:
        assert http.get(f"/api/calls/{acme.ria_call}").status_code == 200
        comment = http.post(
            f"/api/calls/{acme.ria_call}/comments", json={"text": "Nice close", "at_seconds": 3}
        )
        assert comment.status_code == 201, comment.text
        for call_id in (acme.rob_call, acme.olga_call):
            assert all(r.status_code == 404 for r in _call_routes(http, call_id))
        assert {c["id"] for c in http.get("/api/calls").json()["items"]} == {acme.ria_call}
        team = http.get("/api/team").json()
        assert [row["member"]["id"] for row in team["reps"]] == [acme.ria.id]
        assert team["reps"][0]["stats"]["total_calls"] == 1
    with httpx.Client(base_url=acme.server.url, headers=acme.ria.headers) as http:  # the rep sees it
        assert [c["text"] for c in http.get(f"/api/calls/{acme.ria_call}/comments").json()] == ["Nice close"]
        assert http.post(f"/api/calls/{acme.ria_call}/comments", json={"text": "me"}).status_code == 403


def test_an_admin_reads_their_workspace_and_nothing_of_another(acme: Acme) -> None:
    with httpx.Client(base_url=acme.server.url, headers=acme.ada.headers) as http:
        assert {c["id"] for c in http.get("/api/calls").json()["items"]} == {acme.ria_call, acme.rob_call}
        assert http.get(f"/api/calls/{acme.rob_call}").status_code == 200
        assert all(r.status_code == 404 for r in _call_routes(http, acme.olga_call))
        assert http.patch(f"/api/members/{acme.olga.id}", json={"role": "rep"}).status_code == 404
        assert http.delete(f"/api/members/{acme.olga.id}").status_code == 404
        members = {m["id"] for m in http.get("/api/members").json()}
        assert members == {acme.ada.id, acme.max.id, acme.ria.id, acme.rob.id}
    with httpx.Client(base_url=acme.server.url, headers=acme.olga.headers) as http:
        for call_id in (acme.ria_call, acme.rob_call):
            assert all(r.status_code == 404 for r in _call_routes(http, call_id))
        assert http.get("/api/calls").json()["total"] == 1
        assert {m["id"] for m in http.get("/api/members").json()} == {acme.olga.id}
        assert http.get("/api/team").json()["team"]["total_calls"] == 1


async def test_socket_resume_of_a_teammates_call_is_not_found(acme: Acme) -> None:
    manager = await connect(acme.server.url, acme.max.token)  # even the rep's manager
    try:
        ack = await manager.call("start-call", {"title": "take over", "call_id": acme.ria_call})
        assert ack == {"error": {"code": "not_found", "message": "no such call"}}
        ended = await manager.call("end-call", {"call_id": acme.ria_call})
        assert ended["error"]["code"] == "not_found"
    finally:
        await manager.disconnect()


def test_a_workspaces_playbook_versions_stay_in_it(acme: Acme) -> None:
    with httpx.Client(base_url=acme.server.url) as http:
        playbook = http.get("/api/playbook", headers=acme.ada.headers).json()
        playbook["playbook"]["objections"]["price"]["tips"] = ["Acme only: anchor on the pilot"]
        saved = http.put("/api/playbook", headers=acme.ada.headers,
                         json={"playbook": playbook["playbook"], "base_version": playbook["version"]})
        assert saved.status_code == 200, saved.text
        version = saved.json()["version"]
        assert http.get(f"/api/playbook/versions/{version}", headers=acme.ria.headers).status_code == 200
        theirs = http.get("/api/playbook", headers=acme.olga.headers).json()
        assert theirs["version"] == 0 and "Acme only" not in str(theirs)
        assert http.get(f"/api/playbook/versions/{version}", headers=acme.olga.headers).status_code == 404
        assert http.get("/api/playbook/versions", headers=acme.olga.headers).json() == []
