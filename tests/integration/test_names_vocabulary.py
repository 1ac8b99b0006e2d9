"""The vocabulary over real services: user terms in the Store (SQLite and PostgreSQL), the
vocabulary service over the Store and the knowledge base, and GET/PUT /api/vocabulary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.agents import shared_embedder
from tests.integration.api_support import bearer
from tests.integration.store_support import sqlite_url
from wingman.agents.playbook import PlaybookSource
from wingman.api import auth as auth_api
from wingman.api import vocabulary as vocabulary_api
from wingman.auth import Auth
from wingman.errors import BadInput, NotFound
from wingman.sample import sample_profile
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.repos import Store
from wingman.vocabulary import MAX_TERM_CHARS, MAX_USER_TERMS, VocabularyService

TALKDESK = Path(__file__).resolve().parents[1] / "fixtures" / "names" / "battlecard-talkdesk.md"


async def test_user_terms_are_stored_per_tenant_in_order(store: Store) -> None:
    sam = await store.create_user(email="sam@relay.example", name="Sam", password_hash=None)
    ann = await store.create_user(email="ann@relay.example", name="Ann", password_hash=None)
    assert await store.list_vocabulary_terms(workspace_id=sam.workspace_id) == []
    terms = ["Talkdesk", " Five9 ", "talkdesk", "Nextiva"]
    saved = await store.set_vocabulary_terms(workspace_id=sam.workspace_id, user_id=sam.id, terms=terms)
    assert saved == ["Talkdesk", "Five9", "Nextiva"]
    assert await store.list_vocabulary_terms(workspace_id=sam.workspace_id) == ["Talkdesk", "Five9",
            "Nextiva"]
    assert await store.list_vocabulary_terms(workspace_id=ann.workspace_id) == [
            ]  # another tenant sees nothing
    await store.set_vocabulary_terms(workspace_id=ann.workspace_id, user_id=ann.id, terms=["Genesys"])
    # replacing keeps no old row; the same term again is fine
    replaced = await store.set_vocabulary_terms(workspace_id=sam.workspace_id, user_id=sam.id, terms=[
            "Nextiva", "TALKDESK"])
    assert replaced == ["Nextiva", "TALKDESK"]
    assert await store.list_vocabulary_terms(workspace_id=sam.workspace_id) == ["Nextiva", "TALKDESK"]
    assert await store.list_vocabulary_terms(workspace_id=ann.workspace_id) == ["Genesys"]
    assert await store.set_vocabulary_terms(workspace_id=sam.workspace_id, user_id=sam.id, terms=[]) == []
    assert await store.list_vocabulary_terms(workspace_id=sam.workspace_id) == []


async def test_bad_terms_and_unknown_users_are_refused(store: Store) -> None:
    sam = await store.create_user(email="sam@relay.example", name="Sam", password_hash=None)
    for bad in ("", "   ", "x" * (MAX_TERM_CHARS + 1)):
        with pytest.raises(BadInput):
            await store.set_vocabulary_terms(workspace_id=sam.workspace_id, user_id=sam.id, terms=["Fine",
                    bad])
    assert await store.list_vocabulary_terms(workspace_id=sam.workspace_id) == []
    with pytest.raises(NotFound):
        await store.set_vocabulary_terms(workspace_id=sam.workspace_id, user_id="no-such-user", terms=[
                "Talkdesk"])


@dataclass
class Tenant:
    store: Store
    knowledge: KnowledgeBase
    vocabulary: VocabularyService
    user_id: str


@pytest.fixture
async def tenant(tmp_path: Path) -> AsyncIterator[Tenant]:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    try:
        user = await store.create_user(email="sam@relay.example", name="Sam", password_hash=None)
        knowledge = KnowledgeBase(store=store, embedder=shared_embedder())
        await knowledge.load_sample(user.id)
        settings = Settings(data_dir=tmp_path)
        service = VocabularyService(
            store=store, knowledge=knowledge, competitors=sample_profile().competitor_names,
            playbooks=PlaybookSource(settings.effective_playbook_path))
        yield Tenant(store, knowledge, service, user.id)
    finally:
        await store.aclose()


async def test_the_vocabulary_follows_the_knowledge_base_and_the_user(tenant: Tenant) -> None:
    vocabulary = await tenant.vocabulary.get(tenant.user_id)
    assert vocabulary.texts[:4] == ("Relay", "Aircall", "Dialpad", "RingCentral")
    assert "Talkdesk" not in vocabulary.texts

    doc = await tenant.knowledge.add_document(tenant.user_id, TALKDESK.name, TALKDESK.read_bytes(),
                                              "text/markdown")
    sources = {t.text: t.source for t in (await tenant.vocabulary.get(tenant.user_id)).terms}
    assert sources["Talkdesk"] == "competitor"

    vocabulary = await tenant.vocabulary.set_user_terms(tenant.user_id, ["Nextiva", " nextiva", "Five9"])
    assert vocabulary.user_terms == ("Nextiva", "Five9")
    assert vocabulary.texts[:3] == ("Nextiva", "Five9", "Relay")
    assert await tenant.vocabulary.for_call(tenant.user_id) == vocabulary.texts

    await tenant.knowledge.delete_document(tenant.user_id, doc.id)
    assert "Talkdesk" not in (await tenant.vocabulary.get(tenant.user_id)).texts


async def test_a_call_starts_with_the_competitor_list_when_the_store_fails(tmp_path: Path) -> None:
    broken = Store(url=f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'wingman.db'}")
    service = VocabularyService(store=broken, competitors=["Aircall", "Dialpad"])
    try:
        assert await service.for_call("user-1") == ("Aircall", "Dialpad")
    finally:
        await broken.aclose()


# -- REST -----------------------------------------------------------------------------------------


@dataclass
class Container:
    settings: Settings
    store: Store
    auth: Auth
    vocabulary: VocabularyService


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path / "data", auth="required", open_signup=True)
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    app = FastAPI()

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:  # as app.py maps it
        return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=400)

    app.include_router(auth_api.router)
    app.include_router(vocabulary_api.router)
    app.state.container = Container(settings, store, Auth(store=store, settings=settings),
                                     VocabularyService(
                                         store=store, competitors=sample_profile().competitor_names))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            yield client
    finally:
        await store.aclose()


async def _register(http: httpx.AsyncClient, name: str) -> dict[str, str]:
    r = await http.post("/api/auth/register", json={
        "email": f"{name}@example.com", "name": name.title(), "password": "correct horse"})
    assert r.status_code == 201, r.text
    return bearer(r.json()["token"])


async def test_get_and_put_vocabulary_per_user(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/vocabulary")).status_code == 401
    sam, ann = await _register(http, "sam"), await _register(http, "ann")

    r = await http.get("/api/vocabulary", headers=sam)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_terms"] == [] and body["max_user_terms"] == MAX_USER_TERMS
    assert {"text": "Aircall", "source": "competitor"} in body["terms"]

    r = await http.put("/api/vocabulary", headers=sam,
                       json={"user_terms": ["Talkdesk", "", "talkdesk", "Five9"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user_terms"] == ["Talkdesk", "Five9"]
    assert body["terms"][:2] == [{"text": "Talkdesk", "source": "user"}, {"text": "Five9", "source": "user"}]
    assert (await http.get("/api/vocabulary", headers=sam)).json()["user_terms"] == ["Talkdesk", "Five9"]
    assert (await http.get("/api/vocabulary", headers=ann)).json()["user_terms"] == []


async def test_put_vocabulary_refuses_bad_terms(http: httpx.AsyncClient) -> None:
    sam = await _register(http, "sam")
    r = await http.put("/api/vocabulary", headers=sam, json={"user_terms": ["ok", "bell\x07"]})
    assert r.status_code == 400 and r.json()["code"] == "bad_term"
    r = await http.put("/api/vocabulary", headers=sam, json={"user_terms": ["x" * (MAX_TERM_CHARS + 1)]})
    assert r.status_code == 422
    r = await http.put("/api/vocabulary", headers=sam,
                       json={"user_terms": [f"T{i}" for i in range(MAX_USER_TERMS + 1)]})
    assert r.status_code == 422
    r = await http.put("/api/vocabulary", headers=sam, json={"user_terms": "Talkdesk"})
    assert r.status_code == 422
    assert (await http.get("/api/vocabulary", headers=sam)).json()["user_terms"] == []
