"""REST for workspaces on the real app: the first account creates the workspace and sign-up
closes behind it, invitations (emailed to a loopback SMTP server, single-use), members admin
with its refusals, and the team's call history filters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.security.support import PASSWORD, quiet_settings, serve
from tests.services import free_port
from wingman.events import Insight
from wingman.store.repos import Store


class Inbox:
    """aiosmtpd handler: keeps every message delivered to the loopback SMTP server."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@dataclass
class Signed:
    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _signed(r: httpx.Response) -> Signed:
    assert r.status_code == 201, r.text
    return Signed(r.json()["user"]["id"], r.json()["token"])


def test_the_first_account_creates_the_workspace_then_sign_up_is_by_invitation(tmp_path: Path) -> None:
    with (
        serve(quiet_settings(tmp_path, open_signup=False)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        ada = _signed(
            http.post(
                "/api/auth/register",
                json={
                    "email": "ada@acme.example",
                    "name": "Ada",
                    "password": PASSWORD,
                    "workspace_name": "Acme",
                },
            )
        )
        me = http.get("/api/workspace", headers=ada.headers).json()
        assert me["name"] == "Acme" and me["role"] == "admin" and me["open_signup"] is False
        late = http.post("/api/auth/register", json={"email": "bob@acme.example", "password": PASSWORD})
        assert late.status_code == 403 and "invitation" in late.json()["detail"]
        assert (
            http.post("/api/auth/login", json={"email": "bob@acme.example", "password": PASSWORD}).status_code
            == 401
        )
        renamed = http.patch("/api/workspace", headers=ada.headers, json={"name": "Acme Sales"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Acme Sales"


def test_an_emailed_invitation_works_once(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = quiet_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        public_url="http://wingman.example",
    )
    with serve(settings) as server, httpx.Client(base_url=server.url) as http:
        ada = _signed(
            http.post(
                "/api/auth/register", json={"email": "ada@acme.example", "name": "Ada", "password": PASSWORD}
            )
        )
        created = http.post(
            "/api/invitations", headers=ada.headers, json={"email": "Ria@Acme.example", "role": "rep"}
        )
        assert created.status_code == 201, created.text
        out = created.json()
        assert out["emailed"] is True and out["link"].startswith("http://wingman.example/join?token=")
        token = out["link"].split("token=", 1)[1]
        [(to, message)] = inbox.messages
        assert to == ["ria@acme.example"] and "Ada invited you" in message["Subject"]
        assert out["link"] in message.get_payload(decode=True).decode()
        lookup = http.get("/api/invitations/lookup", params={"token": token}).json()
        assert lookup["email"] == "ria@acme.example" and lookup["role"] == "rep"
        assert [i["email"] for i in http.get("/api/invitations", headers=ada.headers).json()] == [
            "ria@acme.example"
        ]

        ria = _signed(
            http.post("/api/invitations/accept", json={"token": token, "name": "Ria", "password": PASSWORD})
        )
        me = http.get("/api/auth/me", headers=ria.headers).json()
        assert (
            me["role"] == "rep"
            and me["workspace_id"] == http.get("/api/workspace", headers=ada.headers).json()["id"]
        )
        again = http.post(
            "/api/invitations/accept", json={"token": token, "name": "Eve", "password": PASSWORD}
        )
        assert again.status_code == 410 and again.json()["code"] == "invitation_used"
        assert http.get("/api/invitations/lookup", params={"token": token}).status_code == 410
        bogus = http.post(
            "/api/invitations/accept", json={"token": "x" * 40, "name": "Eve", "password": PASSWORD}
        )
        assert bogus.status_code == 400 and bogus.json()["code"] == "invitation_invalid"
        assert len(http.get("/api/members", headers=ada.headers).json()) == 2


def test_members_admin_refuses_what_would_leave_no_admin(tmp_path: Path) -> None:
    with serve(
        quiet_settings(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False)
    ) as server:
        with httpx.Client(base_url=server.url) as http:
            ada = _signed(
                http.post("/api/auth/register", json={"email": "ada@acme.example", "password": PASSWORD})
            )
            created = http.post(
                "/api/invitations", headers=ada.headers, json={"email": "max@acme.example", "role": "manager"}
            )
            # the mail server is away: the invitation stands and its link is in the answer
            assert created.status_code == 201 and created.json()["emailed"] is False
            assert created.json()["email_error"]
            token = created.json()["link"].split("token=", 1)[1]
            mgr = _signed(http.post("/api/invitations/accept", json={"token": token, "password": PASSWORD}))

            demote = http.patch(f"/api/members/{ada.id}", headers=ada.headers, json={"role": "rep"})
            assert demote.status_code == 409 and demote.json()["code"] == "last_admin"
            remove = http.delete(f"/api/members/{ada.id}", headers=ada.headers)
            assert remove.status_code == 409
            assert http.get("/api/auth/me", headers=ada.headers).json()["role"] == "admin"  # unchanged
            assert (
                http.patch(f"/api/members/{ada.id}", headers=mgr.headers, json={"role": "rep"}).status_code
                == 403
            )
            # managers invite reps to their own team, nothing else
            admin_invite = http.post(
                "/api/invitations", headers=mgr.headers, json={"email": "x@acme.example", "role": "admin"}
            )
            assert admin_invite.status_code == 403
            rep_invite = http.post(
                "/api/invitations", headers=mgr.headers, json={"email": "rep@acme.example"}
            )
            assert rep_invite.status_code == 201 and rep_invite.json()["invitation"]["manager_id"] == mgr.id
            withdrawn = rep_invite.json()["invitation"]["id"]
            assert http.delete(f"/api/invitations/{withdrawn}", headers=mgr.headers).status_code == 204
            assert http.delete(f"/api/invitations/{withdrawn}", headers=mgr.headers).status_code == 404

            assert http.delete(f"/api/members/{mgr.id}", headers=ada.headers).status_code == 204
            assert http.get("/api/auth/me", headers=mgr.headers).status_code == 401  # removed: signed out
            login = http.post("/api/auth/login", json={"email": "max@acme.example", "password": PASSWORD})
            assert login.status_code == 401
            assert [m["id"] for m in http.get("/api/members", headers=ada.headers).json()] == [ada.id]


def test_the_team_history_filters_by_rep_date_competitor_and_objection(tmp_path: Path) -> None:
    with serve(quiet_settings(tmp_path)) as server, httpx.Client(base_url=server.url) as http:
        ada = _signed(
            http.post("/api/auth/register", json={"email": "ada@acme.example", "password": PASSWORD})
        )
        created = http.post("/api/invitations", headers=ada.headers, json={"email": "ria@acme.example"})
        ria = _signed(
            http.post(
                "/api/invitations/accept",
                json={"token": created.json()["link"].split("token=", 1)[1], "password": PASSWORD},
            )
        )
        workspace = http.get("/api/workspace", headers=ada.headers).json()["id"]

        async def seed() -> dict[str, str]:
            store = Store(url=server.container.settings.effective_database_url)
            try:
                ids = {}
                for who, title, kind, entity in (
                    (ada.id, "ada aircall", "competitor.aircall", "Aircall"),
                    (ria.id, "ria price", "objection.price", None),
                    (ria.id, "ria dialpad", "competitor.dialpad", "Dialpad"),
                ):
                    call = await store.create_call(workspace_id=workspace, user_id=who, title=title)
                    insight = Insight(
                        call_id=call.id,
                        user_id=who,
                        workspace_id=workspace,
                        agent="coach",
                        category="Tip",
                        kind=kind,
                        content="tip",
                        entity=entity,
                    )
                    assert await store.add_recommendation(insight)
                    ids[title] = call.id
                return ids
            finally:
                await store.aclose()

        ids = asyncio.run(seed())

        def titles(**params: str) -> set[str]:
            r = http.get("/api/calls", headers=ada.headers, params=params)
            assert r.status_code == 200, r.text
            return {c["title"] for c in r.json()["items"]}

        assert titles() == set(ids)
        assert titles(rep=ria.id) == {"ria price", "ria dialpad"}
        assert titles(competitor="aircall") == {"ada aircall"}
        assert titles(objection="price") == {"ria price"}
        assert titles(rep=ria.id, competitor="Aircall") == set()
        assert titles(since="2999-01-01T00:00:00Z") == set()
        assert titles(until="2999-01-01T00:00:00Z") == set(ids)
        team = http.get("/api/team", headers=ada.headers).json()
        assert {row["member"]["id"]: row["stats"]["total_calls"] for row in team["reps"]} == {
            ada.id: 1,
            ria.id: 2,
        }
        assert team["team"]["top_objections"] == [{"name": "price", "count": 1}]
        assert http.get("/api/calls", headers=ria.headers).json()["total"] == 2  # the rep: own calls
