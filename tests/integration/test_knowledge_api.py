"""REST /api/knowledge over the real Store, Auth and knowledge base, per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.agents import shared_embedder
from tests.integration.api_support import RestClient
from tests.integration.store_support import sqlite_url
from tests.unit.test_knowledge import make_pdf
from wingman.api import auth as auth_api
from wingman.api import knowledge as knowledge_api
from wingman.auth import Auth
from wingman.errors import BadInput
from wingman.profile import ProfileService
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.repos import Store


@dataclass
class Container:
    settings: Settings
    store: Store
    auth: Auth
    knowledge: KnowledgeBase
    profiles: ProfileService


Client = RestClient


@asynccontextmanager
async def knowledge_client(tmp_path: Path, settings: Settings, *routers: APIRouter) -> AsyncIterator[Client]:
    """The auth and knowledge routers (plus `routers`) over a real Store and knowledge base."""
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    container = Container(settings=settings, store=store, auth=Auth(store=store, settings=settings),
                          knowledge=KnowledgeBase(store=store, embedder=shared_embedder()),
                          profiles=ProfileService(store=store, default_competitors=settings.competitors))
    app = FastAPI()

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, exc: BadInput) -> JSONResponse:  # as app.py maps it
        return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=400)

    for router in (auth_api.router, knowledge_api.router, *routers):
        app.include_router(router)
    app.state.container = container
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://wingman.test") as http:
            yield Client(http=http, container=container)
    finally:
        await store.aclose()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    settings = Settings(data_dir=tmp_path / "data", auth="required", max_document_bytes=50_000,
                        open_signup=True)  # a workspace each
    async with knowledge_client(tmp_path, settings) as c:
        yield c


async def test_upload_list_search_delete(client: Client) -> None:
    ana = await client.register("ana")
    bob = await client.register("bob")
    faq = b"# Whisper FAQ\n\nTeam leads can whisper to agents during live calls.\n"
    r = await client.http.post("/api/knowledge", headers=ana,
                               files={"file": ("whisper-faq.md", faq, "text/markdown")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["filename"] == "whisper-faq.md" and doc["chunk_count"] == 1
    assert doc["source"] == "upload" and doc["size_bytes"] == len(faq)
    pdf = make_pdf(["Relay keeps call recordings for 13 months by default."])
    r = await client.http.post("/api/knowledge", headers=ana,
                               files={"file": ("retention.pdf", pdf, "application/pdf")})
    assert r.status_code == 201, r.text

    listed = (await client.http.get("/api/knowledge", headers=ana)).json()
    assert [d["filename"] for d in listed["items"]] == ["whisper-faq.md", "retention.pdf"]
    assert (await client.http.get("/api/knowledge", headers=bob)).json() == {"items": [], "total": 0}

    me = (await client.http.get("/api/auth/me", headers=ana)).json()
    hits = await client.container.knowledge.search("How long are recordings kept?",
                                                   user_id=me["id"])
    assert hits[0].path == "retention.pdf"

    assert (await client.http.delete(f"/api/knowledge/{doc['id']}", headers=bob)).status_code == 404
    assert (await client.http.delete(f"/api/knowledge/{doc['id']}", headers=ana)).status_code == 204
    assert (await client.http.delete(f"/api/knowledge/{doc['id']}", headers=ana)).status_code == 404
    listed = (await client.http.get("/api/knowledge", headers=ana)).json()
    assert [d["filename"] for d in listed["items"]] == ["retention.pdf"]


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("slides.pptx", b"PK\x03\x04", 400, "unsupported_type"),
        ("empty.txt", b"\n\n", 400, "empty_document"),
        ("huge.md", b"# x\n" + b"word " * 20_000, 413, None),
    ],
)
async def test_unusable_uploads_are_refused(client: Client, name: str, data: bytes, status: int,
                                            code: str | None) -> None:
    ana = await client.register("ana")
    r = await client.http.post("/api/knowledge", headers=ana, files={"file": (name, data)})
    assert r.status_code == status, r.text
    if code:
        assert r.json()["code"] == code


async def test_requires_a_signed_in_user(client: Client) -> None:
    assert (await client.http.get("/api/knowledge")).status_code == 401
    r = await client.http.post("/api/knowledge", files={"file": ("a.md", b"# a\n\ntext")})
    assert r.status_code == 401
