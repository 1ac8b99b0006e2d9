"""REST auth: register, login, logout, me and health, in required and local modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.api_support import Api, bearer, open_api
from tests.services import free_port
from wingman.store.repos import Store


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for a in open_api(tmp_path, "required"):
        yield a


@pytest.fixture
async def local_api(tmp_path: Path) -> AsyncIterator[Api]:
    async for a in open_api(tmp_path, "local"):
        yield a


async def test_register_me_login_logout(api: Api) -> None:
    c = api.client
    r = await c.post("/api/auth/register",
                     json={"email": "Dana@Example.com", "name": "Dana", "password": "12345678"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"]["email"] == "dana@example.com" and body["token_type"] == "bearer"
    assert "password_hash" not in body["user"]
    me = await c.get("/api/auth/me", headers=bearer(body["token"]))
    assert me.status_code == 200 and me.json()["id"] == body["user"]["id"]

    login = await c.post("/api/auth/login",
                         json={"email": "dana@example.com", "password": "12345678"})
    assert login.status_code == 200 and login.json()["user"]["id"] == body["user"]["id"]
    token = login.json()["token"]
    assert (await c.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    after = await c.get("/api/auth/me", headers=bearer(token))
    assert after.status_code == 401 and after.json() == {"detail": "this session was signed out"}
    # the first token is still good
    assert (await c.get("/api/auth/me", headers=bearer(body["token"]))).status_code == 200


async def test_errors_are_json_with_fitting_status_codes(api: Api) -> None:
    c = api.client
    await api.register("dana")
    dup = await c.post("/api/auth/register",
                       json={"email": "DANA@example.com", "name": "x", "password": "12345678"})
    # the same answer as any refused sign-up: it does not tell that the email has an account
    assert dup.status_code == 400 and dup.json()["code"] == "registration_refused"
    assert "exist" not in dup.json()["detail"]
    bad_email = await c.post("/api/auth/register",
                             json={"email": "dana", "name": "x", "password": "12345678"})
    assert bad_email.status_code == 400 and "email" in bad_email.json()["detail"]
    short = await c.post("/api/auth/register",
                         json={"email": "x@example.com", "name": "x", "password": "short"})
    assert short.status_code == 400 and "password" in short.json()["detail"]
    missing = await c.post("/api/auth/register", json={"email": "x@example.com"})
    assert missing.status_code == 422
    wrong = await c.post("/api/auth/login",
                         json={"email": "dana@example.com", "password": "wrong horse"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong email or password"}


async def test_required_mode_refuses_requests_without_a_valid_token(api: Api) -> None:
    c = api.client
    for path in ["/api/auth/me", "/api/calls", "/api/stats"]:
        r = await c.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        assert (await c.get(path, headers=bearer("nonsense"))).status_code == 401
    assert (await c.post("/api/auth/logout")).status_code == 401
    assert (await c.post("/api/auth/logout", headers=bearer("nonsense"))).status_code == 401
    health = await c.get("/api/health")  # open to load balancers
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": True, "auth": "required",
                             "version": "0.1.0", "node": None}  # no gateway in this app


async def test_local_mode_works_without_a_token(local_api: Api) -> None:
    c = local_api.client
    me = await c.get("/api/auth/me")
    local = await local_api.store.ensure_local_user()
    assert me.status_code == 200 and me.json()["id"] == local.id
    await local_api.store.create_call(workspace_id=local.workspace_id, user_id=local.id, title="laptop call")
    calls = await c.get("/api/calls")
    assert [i["title"] for i in calls.json()["items"]] == ["laptop call"]
    assert (await c.post("/api/auth/logout")).status_code == 204
    # a token that is sent must still be valid, and a registered user is not the local user
    assert (await c.get("/api/auth/me", headers=bearer("nonsense"))).status_code == 401
    user_id, token = await local_api.register("dana")
    assert (await c.get("/api/auth/me", headers=bearer(token))).json()["id"] == user_id
    assert (await c.get("/api/calls", headers=bearer(token))).json() == {"items": [], "total": 0}
    assert (await c.get("/api/health")).json()["auth"] == "local"


async def test_openapi_is_typed_and_declares_bearer_auth(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    for path in ["/api/auth/register", "/api/auth/login", "/api/auth/logout", "/api/auth/me",
                 "/api/health", "/api/calls", "/api/calls/{call_id}",
                 "/api/calls/{call_id}/agent-runs", "/api/stats",
                 "/api/recommendations/{recommendation_id}/feedback"]:
        assert path in spec["paths"], path
    schemas = spec["components"]["schemas"]
    assert {"TokenOut", "CallListOut", "CallDetailOut", "Stats", "AgentRunRecord",
            "FeedbackIn"} <= set(schemas)
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listed = spec["paths"]["/api/calls"]["get"]
    assert listed["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CallListOut"}


async def test_health_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    async for api in open_api(tmp_path, "required"):
        down = Store(url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
        api.container.store = down
        try:
            r = await api.client.get("/api/health")
        finally:
            await down.aclose()
        assert r.status_code == 503
        assert r.json()["status"] == "degraded" and r.json()["database"] is False
