"""A small FastAPI app made of the auth, calls and health routers over a real Store and Auth, for the
REST tests. The product's app.py/container.py are not needed: routes only see
`app.state.container` with .settings, .store, .auth, .bus and .feedback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI

from tests.integration.store_support import Clock, sqlite_url
from wingman.api import auth as auth_api
from wingman.api import calls as calls_api
from wingman.api import health as health_api
from wingman.auth import Auth
from wingman.bus.base import EventBus
from wingman.events import BusEvent
from wingman.feedback import FeedbackService
from wingman.settings import Settings
from wingman.store.records import UserRecord
from wingman.store.repos import Store


@dataclass
class RestClient:
    """An httpx client on a test app, with the app's container, that can register users."""

    http: httpx.AsyncClient
    container: Any

    async def register(self, name: str) -> dict[str, str]:
        r = await self.http.post("/api/auth/register", json={
            "email": f"{name}@example.com", "name": name.title(), "password": "correct horse"})
        assert r.status_code == 201, r.text
        return bearer(r.json()["token"])


class RecordingBus(EventBus):
    """Keeps what was published; the REST routes only publish."""

    name = "recording"

    def __init__(self) -> None:
        self.published: list[tuple[str, BusEvent, str]] = []

    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        self.published.append((topic, event, key))

    def subscribe(self, topic: str, *, group: str,
                  consumer: str | None = None) -> AsyncIterator[BusEvent]:
        raise NotImplementedError("the REST tests never subscribe")


@dataclass
class StandInContainer:
    settings: Settings
    store: Store
    auth: Auth
    bus: RecordingBus = field(default_factory=RecordingBus)

    @property
    def feedback(self) -> FeedbackService:
        """The product's feedback owner over this store and bus (what the routes call)."""
        return FeedbackService(store=self.store, bus=self.bus)


@dataclass
class Api:
    client: httpx.AsyncClient
    container: StandInContainer

    @property
    def store(self) -> Store:
        return self.container.store

    async def register(self, name: str, password: str = "correct horse") -> tuple[str, str]:
        """Register `name`@example.com; returns (user id, bearer token)."""
        r = await self.client.post("/api/auth/register", json={
            "email": f"{name}@example.com", "name": name.title(), "password": password})
        assert r.status_code == 201, r.text
        body = r.json()
        return body["user"]["id"], body["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def member(
    store: Store, admin: UserRecord, email: str, role: str, manager: str | None = None
) -> UserRecord:
    """A new member of `admin`'s workspace, by invitation, named after the email."""
    _inv, token = await store.create_invitation(workspace_id=admin.workspace_id, email=email, role=role,
                                               invited_by=admin.id, ttl_seconds=3600, manager_id=manager)
    return await store.accept_invitation(token=token, name=email.split("@")[0].title(), password_hash="x")


@dataclass
class Team:
    """Acme's admin Ada, manager Max, his rep Ria, the rep Rob (no manager), and Olga of
    another workspace, with each one's bearer header."""

    admin: UserRecord
    manager: UserRecord
    rep: UserRecord
    other_rep: UserRecord
    outsider: UserRecord
    tokens: dict[str, dict[str, str]]


async def acme_team(store: Store, auth: Auth) -> Team:
    admin = await store.create_user(email="ada@acme.test", name="Ada", password_hash="x",
                                    new_workspace="Acme")
    manager = await member(store, admin, "max@acme.test", "manager")
    rep = await member(store, admin, "ria@acme.test", "rep", manager.id)
    other = await member(store, admin, "rob@acme.test", "rep")
    outsider = await store.create_user(email="olga@other.test", name="Olga", password_hash="x")
    tokens = {u.id: bearer(auth.issue_token(u)[0]) for u in (admin, manager, rep, other, outsider)}
    return Team(admin, manager, rep, other, outsider, tokens)


async def open_api(tmp_path: Path, mode: Literal["local", "required"]) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", auth=mode, open_signup=True)  # a workspace each
    store = Store(url=sqlite_url(tmp_path), clock=Clock())
    await store.migrate()
    container = StandInContainer(settings=settings, store=store,
                                 auth=Auth(store=store, settings=settings))
    app = FastAPI(title="Wingman REST under test")
    app.include_router(auth_api.router)
    app.include_router(calls_api.router)
    app.include_router(health_api.router)
    app.state.container = container
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://wingman.test") as c:
            yield Api(client=c, container=container)
    finally:
        await store.aclose()
