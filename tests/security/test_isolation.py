"""Tenant isolation: user B tries every REST route and Socket.IO event on user A's ids.

A has a finished call (transcript, a recommendation, an agent run), an open call and a
knowledge-base document, all containing a word nobody else uses. B gets 404 / `not_found` for
each of A's ids, never data, and A's data is unchanged afterwards. The search cache and the
knowledge-base index are checked to be per tenant too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.support import (
    Client,
    Server,
    User,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
)
from wingman.events import AgentRun, Insight
from wingman.search.base import Search, SearchHit
from wingman.search.cache import CachedSearch
from wingman.store.repos import Store

SECRET = "zebracorn"  # appears only in A's data
LINES = [f"our {SECRET} budget is tight", "we also talk to Aircall", f"the {SECRET} team signs friday"]


@dataclass
class World:
    server: Server
    a: User
    b: User
    ended_call: str
    open_call: str
    recommendation: str
    document: str


async def _seed(server: Server, a: User) -> tuple[str, str, str, str]:
    script_end = 1.5 * len(LINES) + 0.5
    client = await connect(server.url, a.token)
    try:
        ack = await client.call("start-call", {"title": f"{SECRET} deal", "encoding": "f32le"})
        ended = ack["call_id"]
        await stream(client, 0.0, script_end)
        await eventually(lambda: len(client.finals) == len(LINES), what="A's finals")
        await client.call("end-call", {"call_id": ended}, timeout=60)
        ack = await client.call("start-call", {"title": f"{SECRET} follow-up"})
        open_call = ack["call_id"]
        await stream(client, 0.0, 2.0)
        await eventually(lambda: len(client.finals) == len(LINES) + 1, what="open call's final")
    finally:
        await client.disconnect()
    # A recommendation and an agent run, as the agents would have saved them
    store = Store(url=server.container.settings.effective_database_url)
    try:
        insight = Insight(call_id=ended, user_id=a.id, agent="coach", category="Objection Handling",
                          kind="objection.price", content=f"{SECRET} tip: anchor on value",
                          context_snippet=f"our {SECRET} budget", entity="Aircall")
        assert await store.add_recommendation(insight)
        run = AgentRun(call_id=ended, user_id=a.id, block_id="block-1", agent="coach",
                       input=f"our {SECRET} budget", rule_or_prompt="objection.price",
                       output=f"{SECRET} tip", provider="local", latency_ms=3.0)
        assert await store.add_agent_run(run)
    finally:
        await store.aclose()
    doc = f"# {SECRET} battlecard\n\nRelay beats {SECRET} on price and on SOC 2 compliance.\n".encode()
    async with httpx.AsyncClient(base_url=server.url, headers=a.headers, timeout=120) as http:
        r = await http.post("/api/knowledge", files={"file": (f"{SECRET}.md", doc, "text/markdown")})
    assert r.status_code == 201, r.text
    return ended, open_call, insight.id, r.json()["id"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    settings = quiet_settings(tmp_path_factory.mktemp("isolation"), abandon_call_seconds=3600)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        a = register(server.url, "alice")
        b = register(server.url, "bob")
        ended, open_call, rec, doc = asyncio.run(_seed(server, a))
        yield World(server, a, b, ended, open_call, rec, doc)


def _no_leak(world: World, response: httpx.Response) -> None:
    body = response.text
    secrets = (SECRET, world.ended_call, world.open_call, world.recommendation, world.document, world.a.id)
    for secret in secrets:
        assert secret not in body, f"{response.request.method} {response.request.url} leaked {secret!r}"


# Every REST route, classified. A new route fails test_every_route_is_covered until it is added.
BY_ID = {
    ("get", "/api/calls/{call_id}"),
    ("get", "/api/calls/{call_id}/agent-runs"),
    ("post", "/api/recommendations/{recommendation_id}/feedback"),
    ("delete", "/api/knowledge/{document_id}"),
    # workspaces (tests/security/test_isolation_roles.py tries these within and across them)
    ("get", "/api/calls/{call_id}/comments"), ("post", "/api/calls/{call_id}/comments"),
    ("patch", "/api/members/{member_id}"), ("delete", "/api/members/{member_id}"),
    ("delete", "/api/invitations/{invitation_id}"),
    ("get", "/api/calls/{call_id}/crm"),
    ("post", "/api/calls/{call_id}/crm/{provider}"),
    ("get", "/api/calls/{call_id}/sentiment"),
    ("get", "/api/calls/{call_id}/follow-up"),
    # the call's summary, edited on the call page (test_summary_edits.py: roles and versions)
    ("get", "/api/calls/{call_id}/summary"), ("put", "/api/calls/{call_id}/summary"),
    ("delete", "/api/calls/{call_id}/summary"),
}
TENANT_LISTS = {
    # a call's recording: read and deleted by call id (test_recordings_api.py: other tenant 404)
    ("get", "/api/calls/{call_id}/recording"), ("delete", "/api/calls/{call_id}/recording"),
    ("get", "/api/calls"), ("get", "/api/stats"), ("get", "/api/knowledge"), ("get", "/api/auth/me"),
    ("get", "/api/workspace"), ("patch", "/api/workspace"), ("get", "/api/members"),
    ("get", "/api/invitations"), ("post", "/api/invitations"), ("get", "/api/team"),
    # the workspace's playbook: versions are numbered per workspace (test_isolation_roles.py)
    ("get", "/api/playbook"), ("put", "/api/playbook"), ("get", "/api/playbook/versions"),
    ("get", "/api/playbook/versions/{version}"), ("post", "/api/playbook/versions/{version}/restore"),
    # the tenant's CRM connections (test_crm_api.py: connected per tenant, tokens sealed per tenant)
    ("get", "/api/trends"),
    # the signed-in rep's own voiceprint (speakers area)
    ("get", "/api/voiceprint"), ("post", "/api/voiceprint"), ("delete", "/api/voiceprint"),
    ("get", "/api/crm"), ("post", "/api/crm/{provider}/connect"), ("put", "/api/crm/{provider}"),
    ("delete", "/api/crm/{provider}"), ("get", "/api/crm/{provider}/search"),
}
# per-user vocabulary (contract: GET/PUT /api/vocabulary), checked once the routes exist
VOCABULARY = {("get", "/api/vocabulary"), ("put", "/api/vocabulary")}
# the tenant's company profile and its sample data
PROFILE = {("get", "/api/profile"), ("put", "/api/profile"),
           ("get", "/api/sample"), ("post", "/api/sample"), ("delete", "/api/sample")}
NO_TENANT_DATA = {
    ("post", "/api/auth/register"), ("post", "/api/auth/login"), ("post", "/api/auth/logout"),
    # the signed-in user's own account (test_accounts.py): no id of anyone else's is taken
    ("post", "/api/auth/logout-everywhere"), ("post", "/api/auth/password"),
    ("delete", "/api/auth/account"),
    # the workspace's recording settings (admin only; test_recordings_api.py covers roles)
    ("get", "/api/recordings/settings"), ("put", "/api/recordings/settings"),
    ("get", "/api/health"), ("get", "/api/providers"), ("post", "/api/knowledge"),
    # token-based: the invitation link is the credential
    ("get", "/api/invitations/lookup"), ("post", "/api/invitations/accept"),
}


def test_every_route_is_covered(world: World) -> None:
    spec = httpx.get(f"{world.server.url}/openapi.json").json()
    routes = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    known = BY_ID | TENANT_LISTS | NO_TENANT_DATA | PROFILE
    assert known <= routes <= known | VOCABULARY, (
        "a REST route was added or removed: classify it here and test it on another tenant's ids",
        sorted(routes ^ known))


def test_vocabulary_is_per_tenant(world: World) -> None:
    spec = httpx.get(f"{world.server.url}/openapi.json").json()
    if "/api/vocabulary" not in spec["paths"]:
        return  # not served yet (test_every_route_is_covered keeps this honest)
    body = spec["paths"]["/api/vocabulary"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    props = body.get("properties", {})
    field = next((name for name, prop in props.items() if prop.get("type") == "array"), None)

    def terms(values: list[str]) -> Any:
        return {field: values} if field else values

    with httpx.Client(base_url=world.server.url) as http:
        mine = http.put("/api/vocabulary", headers=world.a.headers, json=terms([SECRET.title()]))
        assert mine.status_code == 200, mine.text
        theirs = http.get("/api/vocabulary", headers=world.b.headers)
        assert theirs.status_code == 200 and SECRET not in theirs.text.lower()
        assert http.put("/api/vocabulary", headers=world.b.headers, json=terms([])).status_code == 200
        assert SECRET in http.get("/api/vocabulary", headers=world.a.headers).text.lower()


def test_profile_and_sample_data_are_per_tenant(world: World) -> None:
    profile = {"name": f"{SECRET} Inc", "sells": f"{SECRET} widgets", "competitors": [{"name": "Rivalco"}]}
    with httpx.Client(base_url=world.server.url, timeout=120) as http:
        assert http.put("/api/profile", headers=world.a.headers, json=profile).status_code == 200
        theirs = http.get("/api/profile", headers=world.b.headers)
        assert theirs.status_code == 200 and theirs.json()["profile"] is None
        _no_leak(world, theirs)
        # B trying the sample data and removing it touches none of A's documents or profile
        assert http.post("/api/sample", headers=world.b.headers).status_code == 200
        removed = http.delete("/api/sample", headers=world.b.headers)
        assert removed.status_code == 200 and removed.json()["documents"] == 8
        assert world.document in http.get("/api/knowledge", headers=world.a.headers).text
        mine = http.get("/api/profile", headers=world.a.headers).json()
        assert mine["profile"]["name"] == f"{SECRET} Inc"


def test_rest_routes_on_another_tenants_ids_are_404(world: World) -> None:
    h = world.b.headers
    with httpx.Client(base_url=world.server.url, headers=h) as http:
        attempts = [
            http.get(f"/api/calls/{world.ended_call}/comments"),
            http.post(f"/api/calls/{world.ended_call}/comments", json={"text": "peek"}),
            http.patch(f"/api/members/{world.a.id}", json={"role": "rep"}),
            http.delete(f"/api/members/{world.a.id}"),
            http.get(f"/api/calls/{world.ended_call}"),
            http.get(f"/api/calls/{world.open_call}"),
            http.get(f"/api/calls/{world.ended_call}/agent-runs"),
            http.get(f"/api/calls/{world.open_call}/agent-runs"),
            http.post(f"/api/recommendations/{world.recommendation}/feedback", json={"status": "disliked"}),
            http.delete(f"/api/knowledge/{world.document}"),
            http.get(f"/api/calls/{world.ended_call}/crm"),
            http.post(f"/api/calls/{world.ended_call}/crm/hubspot", json={}),
            http.get(f"/api/calls/{world.ended_call}/sentiment"),
            http.get(f"/api/calls/{world.ended_call}/follow-up"),
            http.get(f"/api/calls/{world.ended_call}/summary"),
            http.put(f"/api/calls/{world.ended_call}/summary", json={"text": "peek", "version": 0}),
            http.delete(f"/api/calls/{world.ended_call}/summary", params={"version": 0}),
        ]
        for r in attempts:
            assert r.status_code == 404, (r.request.method, r.request.url, r.status_code, r.text)
            _no_leak(world, r)
    # A's data is untouched
    with httpx.Client(base_url=world.server.url, headers=world.a.headers) as http:
        detail = http.get(f"/api/calls/{world.ended_call}").json()
        assert [rec["feedback_status"] for rec in detail["recommendations"]] == ["none"]
        assert world.document in http.get("/api/knowledge").text
        runs = http.get(f"/api/calls/{world.ended_call}/agent-runs").json()
        assert len(runs) == 1


def test_tenant_lists_and_stats_show_only_own_data(world: World) -> None:
    with httpx.Client(base_url=world.server.url, headers=world.b.headers) as http:
        for r in (http.get("/api/calls"), http.get("/api/calls", params={"q": SECRET}),
                  http.get("/api/stats"), http.get("/api/knowledge"), http.get("/api/auth/me"),
                  http.get("/api/workspace"), http.get("/api/members"), http.get("/api/invitations"),
                  http.get("/api/team"), http.get("/api/calls", params={"rep": world.a.id}),
                  http.get("/api/trends", params={"range": "quarter"})):
            assert r.status_code == 200, r.text
            _no_leak(world, r)
        assert http.get("/api/calls").json()["total"] == 0
        stats = http.get("/api/stats").json()
        assert stats["total_calls"] == 0 and stats["insights_shown"] == 0
    with httpx.Client(base_url=world.server.url, headers=world.a.headers) as http:
        found = http.get("/api/calls", params={"q": SECRET}).json()
        assert {c["id"] for c in found["items"]} == {world.ended_call, world.open_call}
        assert http.get("/api/stats").json()["total_calls"] == 2


async def test_socket_events_on_another_tenants_ids_are_not_found(world: World) -> None:
    b = await connect(world.server.url, world.b.token)
    try:
        for call_id in (world.open_call, world.ended_call):
            ack = await b.call("start-call", {"title": "hijack", "call_id": call_id})
            assert ack == {"error": {"code": "not_found", "message": "no such call"}}
            ended = await b.call("end-call", {"call_id": call_id})
            assert ended["error"]["code"] == "not_found"
        ack = await b.call("feedback", {"id": world.recommendation, "status": "disliked"})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found"
        # B's own call works, and B never hears anything about A's calls
        own = await b.call("start-call", {"title": "mine"})
        assert "call_id" in own
        await stream(b, 1.6, 3.4)  # the one scripted line without A's word
        await eventually(lambda: len(b.finals) == 1, what="B's own final")
        await b.call("end-call", {}, timeout=60)
        for _event, data in b.events:
            assert SECRET not in str(data)
            assert world.open_call not in str(data) and world.ended_call not in str(data)
    finally:
        await b.disconnect()
    async with httpx.AsyncClient(base_url=world.server.url, headers=world.a.headers) as http:
        assert (await http.get(f"/api/calls/{world.open_call}")).json()["end_time"] is None
        detail = (await http.get(f"/api/calls/{world.ended_call}")).json()
        assert detail["recommendations"][0]["feedback_status"] == "none"


async def test_concurrent_end_call_never_hands_one_tenant_anothers_result(world: World) -> None:
    """A ends its call while B sends end-call with the same id at the same moment: B must not
    join A's end-of-call (and get A's summary); it gets not_found. Runs last in this module:
    it ends A's open call."""
    a: Client = await connect(world.server.url, world.a.token)
    b: Client = await connect(world.server.url, world.b.token)
    try:
        results: tuple[Any, Any] = await asyncio.gather(
            a.call("end-call", {"call_id": world.open_call}, timeout=60),
            b.call("end-call", {"call_id": world.open_call}, timeout=60),
        )
        assert results[0]["call_id"] == world.open_call and "summary" in results[0]
        assert results[1] == {"error": {"code": "not_found", "message": "no such call"}}
        assert not b.of("call-ended")
    finally:
        await a.disconnect()
        await b.disconnect()


# -- search cache and knowledge-base index ----------------------------------------------------


class TenantEcho(Search):
    """A web search that answers differently per tenant, counting provider calls."""

    name = "echo"

    def __init__(self) -> None:
        self.calls = 0

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        self.calls += 1
        return [SearchHit(title=f"for {user_id}", snippet=f"{user_id}'s result", source="echo")]


@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_search_cache_is_per_tenant(backend: str, request: pytest.FixtureRequest) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url")) if backend == "redis" else None
    inner = TenantEcho()
    cache = CachedSearch(inner=inner, redis=client)
    try:
        assert cache.key("pricing", limit=5, user_id="a") != cache.key("pricing", limit=5, user_id="b")
        first = await cache.search("Aircall pricing", user_id="tenant-a")
        again = await cache.search("aircall   PRICING", user_id="tenant-a")  # normalized: a hit
        other = await cache.search("Aircall pricing", user_id="tenant-b")
        assert [h.title for h in first] == [h.title for h in again] == ["for tenant-a"]
        assert [h.title for h in other] == ["for tenant-b"]
        assert inner.calls == 2
        if client is not None:  # the raw query never sits in Redis
            keys = [k.decode() if isinstance(k, bytes) else k for k in await client.keys("wingman:search:*")]
            assert len(keys) == 2 and not any("pricing" in k.lower() for k in keys)
    finally:
        if client is not None:
            await client.aclose()


async def test_knowledge_index_is_per_tenant(tmp_path: Path) -> None:
    from tests.fakes.agents import shared_embedder
    from wingman.search.knowledge import KnowledgeBase

    store = Store(url=f"sqlite+aiosqlite:///{tmp_path / 'kb.db'}")
    await store.migrate()
    try:
        a = await store.create_user(email="a@example.com", name="A", password_hash=None)
        b = await store.create_user(email="b@example.com", name="B", password_hash=None)
        kb = KnowledgeBase(store=store, embedder=shared_embedder())
        await kb.add_document(a.id, "battlecard-zebracorn.md",
                              b"# Battlecard: Relay vs Zebracorn\n\nZebracorn charges 90 dollars per seat "
                              b"and has no Salesforce integration. Relay wins on price.\n", "text/markdown")
        await kb.add_document(b.id, "faq.md",
                              b"# FAQ\n\nRelay integrates with HubSpot and Salesforce out of the box.\n",
                              "text/markdown")
        a_docs = {d.id for d in await store.list_documents(workspace_id=a.workspace_id)}
        mine = await kb.retrieve(a.id, "Zebracorn price per seat")
        assert mine and mine[0].document_id in a_docs
        theirs = await kb.retrieve(b.id, "Zebracorn price per seat")
        assert theirs and not {p.document_id for p in theirs} & a_docs
        assert all("Zebracorn" not in p.body for p in theirs)
        hits = await kb.search("Zebracorn", user_id=b.id)
        assert all("Zebracorn" not in h.snippet for h in hits)
        assert await kb.search("Zebracorn") == []  # no tenant, no knowledge base
        assert "zebracorn" in await kb.entities(a.id)
        assert "zebracorn" not in await kb.entities(b.id)
    finally:
        await store.aclose()
