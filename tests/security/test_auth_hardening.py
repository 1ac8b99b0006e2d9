"""Auth hardening: token expiry and revocation, login throttling, constant-time comparisons,
argon2 parameters, CORS, the Host check of local mode, security headers, secrets in logs."""

from __future__ import annotations

import ast
import asyncio
import logging
import re
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import socketio
from pydantic import SecretStr

from tests.security.support import (
    PASSWORD,
    Server,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
)
from wingman.app import DOCS_CSP, SECURITY_HEADERS
from wingman.auth import ARGON2_PARAMETERS, ISSUER, Auth, LoginThrottle, TooManyAttempts
from wingman.settings import Settings
from wingman.store.repos import Store

SRC = Path(__file__).resolve().parents[2] / "src" / "wingman"
SECRET_KEY = "k" * 20 + uuid.uuid4().hex  # signs the server's tokens in this module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = quiet_settings(
        tmp_path_factory.mktemp("auth"),
        secret_key=SecretStr(SECRET_KEY),
        token_ttl_seconds=600,
        login_failures_per_minute=5,
        login_failures_per_ip_per_minute=12,
        cors_origins=["https://app.example.com"],
    )
    with serve(settings, container_factory=scripted(script_of(["hello"]))) as s:
        yield s


def _token(sub: str, *, key: str = SECRET_KEY, **claims: Any) -> str:
    now = datetime.now(UTC)
    body: dict[str, Any] = {"sub": sub, "jti": uuid.uuid4().hex, "iat": int(now.timestamp()),
                            "exp": int((now + timedelta(minutes=5)).timestamp()), "iss": ISSUER}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm="HS256")


async def _socket_refused(url: str, token: str) -> bool:
    try:
        client = await connect(url, token)
    except socketio.exceptions.ConnectionError:
        return True
    await client.disconnect()
    return False


# -- tokens -------------------------------------------------------------------------------------


def test_tokens_expire_and_forged_tokens_are_refused(server: Server) -> None:
    user = register(server.url, f"exp-{uuid.uuid4().hex[:6]}")
    me = httpx.get(f"{server.url}/api/auth/me", headers=user.headers)
    assert me.status_code == 200
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    bad = {
        "expired": _token(user.id, iat=int(long_ago.timestamp()),
                          exp=int((long_ago + timedelta(hours=1)).timestamp())),
        "wrong key": _token(user.id, key="not-the-server-key-" + "x" * 20),
        "no jti": _token(user.id, jti=None),
        "no exp": _token(user.id, exp=None),
        "other issuer": _token(user.id, iss="someone-else"),
        "alg none": jwt.encode({"sub": user.id, "jti": "x", "iat": 1, "exp": 2**31, "iss": ISSUER},
                               key="", algorithm="none"),
        "unknown user": _token(str(uuid.uuid4())),
        "garbage": "not.a.token",
    }
    for what, token in bad.items():
        r = httpx.get(f"{server.url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, what
        assert r.headers["www-authenticate"] == "Bearer"
        assert asyncio.run(_socket_refused(server.url, token)), what
    r = httpx.get(f"{server.url}/api/auth/me", headers={"Authorization": f"Bearer {bad['expired']}"})
    assert "expired" in r.json()["detail"]
    # the TTL is the configured one
    login = httpx.post(f"{server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD})
    expires = datetime.fromisoformat(login.json()["expires_at"])
    assert timedelta(seconds=590) < expires - datetime.now(UTC) <= timedelta(seconds=601)


def test_logout_revokes_the_token_for_rest_and_sockets(server: Server) -> None:
    user = register(server.url, f"out-{uuid.uuid4().hex[:6]}")
    other = httpx.post(f"{server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD})
    other_headers = {"Authorization": f"Bearer {other.json()['token']}"}
    assert httpx.post(f"{server.url}/api/auth/logout", headers=user.headers).status_code == 204
    r = httpx.get(f"{server.url}/api/auth/me", headers=user.headers)
    assert r.status_code == 401 and "signed out" in r.json()["detail"]
    assert asyncio.run(_socket_refused(server.url, user.token))
    # signing out one session leaves the user's other sessions alone
    assert httpx.get(f"{server.url}/api/auth/me", headers=other_headers).status_code == 200
    # logging out twice is harmless, and still no way back in
    assert httpx.post(f"{server.url}/api/auth/logout", headers=user.headers).status_code == 204
    assert httpx.get(f"{server.url}/api/auth/me", headers=user.headers).status_code == 401


def test_logout_closes_sockets_already_open_and_keeps_their_call(server: Server) -> None:
    """A socket opened before the logout is told, refused and disconnected by the node that
    handled the logout; its call is detached, not lost: the user's other session resumes it."""
    user = register(server.url, f"live-{uuid.uuid4().hex[:6]}")
    second = httpx.post(f"{server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD})
    second_token = second.json()["token"]

    async def scenario() -> None:
        signed_out = await connect(server.url, user.token)
        bystander = await connect(server.url, second_token)  # same user, another session
        call_id = (await signed_out.call("start-call", {"title": "logout mid-call"}))["call_id"]
        await stream(signed_out, 0.0, 2.0)
        await eventually(lambda: len(signed_out.finals) == 1, what="the final before the logout")
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.post("/api/auth/logout", headers=user.headers)
            assert r.status_code == 204
        await eventually(lambda: not signed_out.sio.connected, timeout=5, what="the socket closed")
        assert [e["code"] for e in signed_out.errors()] == ["unauthorized"]
        assert bystander.sio.connected
        resumed = await bystander.call("start-call", {"title": "resume", "call_id": call_id})
        assert resumed["call_id"] == call_id
        await bystander.call("end-call", {}, timeout=60)
        await bystander.disconnect()
        async with httpx.AsyncClient(base_url=server.url) as http:
            detail = (
                await http.get(f"/api/calls/{call_id}", headers={"Authorization": f"Bearer {second_token}"})
            ).json()
        assert [s["text"] for s in detail["transcript"]] == ["hello"]
        assert detail["end_time"] is not None

    asyncio.run(scenario())


@pytest.mark.postgres
def test_logout_on_one_node_closes_the_socket_on_another(tmp_path: Path, postgres_url: str) -> None:
    """Two gateway nodes sharing the database: the logout reaches node A, the socket lives on
    node B, which finds the revocation at its next check; its call is then abandoned and
    finalized with what was said before."""
    common = {"secret_key": SecretStr(SECRET_KEY), "database_url": postgres_url}
    script = scripted(script_of(["hello"]))
    with (
        serve(quiet_settings(tmp_path / "a", **common), container_factory=script) as node_a,
        serve(
            quiet_settings(tmp_path / "b", **common, revocation_check_seconds=0.2, abandon_call_seconds=0.5),
            container_factory=script,
        ) as node_b,
    ):
        user = register(node_a.url, f"nodes-{uuid.uuid4().hex[:6]}")

        async def scenario() -> str:
            client = await connect(node_b.url, user.token)
            call_id: str = (await client.call("start-call", {"title": "two nodes"}))["call_id"]
            await stream(client, 0.0, 2.0)
            await eventually(lambda: len(client.finals) == 1, what="the final before the logout")
            async with httpx.AsyncClient(base_url=node_a.url) as http:
                assert (await http.post("/api/auth/logout", headers=user.headers)).status_code == 204
            await eventually(lambda: not client.sio.connected, timeout=5, what="node B closed the socket")
            assert [e["code"] for e in client.errors()] == ["unauthorized"]
            return call_id

        call_id = asyncio.run(scenario())
        grant = httpx.post(f"{node_a.url}/api/auth/login", json={"email": user.email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {grant.json()['token']}"}
        deadline = time.monotonic() + 30
        while (detail := httpx.get(f"{node_a.url}/api/calls/{call_id}", headers=headers).json())[
            "end_time"
        ] is None:
            assert time.monotonic() < deadline, "the signed-out call was never finalized"
            time.sleep(0.2)
        assert [s["text"] for s in detail["transcript"]] == ["hello"]


def test_a_socket_is_closed_when_its_token_expires(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, secret_key=SecretStr(SECRET_KEY), token_ttl_seconds=2,
                              revocation_check_seconds=0.2)
    with serve(settings, container_factory=scripted(script_of(["hello"]))) as node:
        user = register(node.url, f"ttl-{uuid.uuid4().hex[:6]}")

        async def scenario() -> None:
            client = await connect(node.url, user.token)
            await client.call("start-call", {"title": "token runs out"})
            # the next check after exp (whole seconds) closes it; the call is detached, not lost
            await eventually(lambda: not client.sio.connected, timeout=15, what="the socket closed")
            assert [e["message"] for e in client.errors()] == ["this session expired; sign in again"]

        asyncio.run(scenario())


async def test_token_sessions_refuse_before_disconnecting(tmp_path: Path) -> None:
    """The registry itself: only sockets of the revoked token, refused before any await, and a
    check against the store finds revocations made elsewhere."""
    from wingman.realtime.sessions import TokenSessions

    store = Store(url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await store.migrate()
    try:
        seen: list[tuple[str, bool]] = []
        sessions: TokenSessions

        async def sign_out(sid: str, why: str) -> None:
            seen.append((sid, sessions.refused(sid)))

        sessions = TokenSessions(store=store, sign_out=sign_out)
        for sid, jti in (("s1", "a"), ("s2", "a"), ("s3", "b"), ("s4", "c")):
            sessions.add(sid, jti)
        assert await sessions.revoke("a") == 2
        assert seen == [("s1", True), ("s2", True)]
        assert not sessions.refused("s3")
        in_an_hour = datetime.now(UTC) + timedelta(hours=1)
        await store.revoke_token(jti="c", expires_at=in_an_hour)  # "another node" logged it out
        assert await sessions.check() == 1
        assert seen[-1] == ("s4", True) and not sessions.refused("s3")
        for sid in ("s1", "s2", "s4"):
            sessions.forget(sid)
        assert not sessions.refused("s1")
        assert await sessions.check() == 0  # nothing revoked among what is left
    finally:
        await store.aclose()


async def test_token_sessions_close_sockets_whose_token_expired(tmp_path: Path) -> None:
    from wingman.realtime.sessions import TokenSessions

    store = Store(url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await store.migrate()
    now = datetime.now(UTC)
    try:
        told: list[tuple[str, str]] = []

        async def sign_out(sid: str, why: str) -> None:
            told.append((sid, why))

        sessions = TokenSessions(store=store, sign_out=sign_out, clock=lambda: now)
        sessions.add("old", "a", now - timedelta(seconds=1))
        sessions.add("fresh", "b", now + timedelta(hours=1))
        sessions.add("local", "c")  # no expiry known
        assert await sessions.check() == 1
        assert told == [("old", "this session expired; sign in again")]
        assert sessions.refused("old") and not sessions.refused("fresh")
    finally:
        await store.aclose()


def test_every_route_but_sign_in_needs_a_token(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    public = {("post", "/api/auth/register"), ("post", "/api/auth/login"), ("get", "/api/health"),
              # the invitation link's token is the credential (tests/integration/test_api_workspace.py)
              ("get", "/api/invitations/lookup"), ("post", "/api/invitations/accept")}
    with httpx.Client(base_url=server.url) as http:
        for path, ops in spec["paths"].items():
            for method in ops:
                if (method, path) in public:
                    continue
                concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
                kwargs: dict[str, Any] = {"json": {"status": "liked"}} if method in ("post", "put") else {}
                if path == "/api/knowledge" and method == "post":
                    kwargs = {"files": {"file": ("a.md", b"# hi\n\nsome words here", "text/markdown")}}
                r = http.request(method.upper(), concrete, **kwargs)
                assert r.status_code == 401, (method, path, r.status_code)


# -- login throttling ---------------------------------------------------------------------------


def test_login_failures_are_throttled_per_email_and_address(server: Server) -> None:
    user = register(server.url, f"brute-{uuid.uuid4().hex[:6]}")
    login = f"{server.url}/api/auth/login"
    for _ in range(5):
        r = httpx.post(login, json={"email": user.email, "password": "wrong password!"})
        assert r.status_code == 401
    r = httpx.post(login, json={"email": user.email, "password": "wrong password!"})
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # throttled before the password is checked: the right one is refused too (no oracle)
    r = httpx.post(login, json={"email": user.email.upper(), "password": PASSWORD})
    assert r.status_code == 429
    # another account from the same address still gets its own attempts ...
    other = register(server.url, f"bystander-{uuid.uuid4().hex[:6]}")
    ok = httpx.post(login, json={"email": other.email, "password": PASSWORD})
    assert ok.status_code == 200
    # ... until the address as a whole is over its limit (12 failures a minute here)
    codes = [httpx.post(login, json={"email": f"spray{i}@example.com", "password": "x" * 8}).status_code
             for i in range(8)]
    assert codes[:6] == [401] * 6 and codes[-1] == 429, codes


def test_login_throttle_window_slides() -> None:
    now = [1000.0]
    throttle = LoginThrottle(per_email_ip=3, per_ip=100, clock=lambda: now[0])
    for _ in range(3):
        throttle.check("a@x.io", "1.2.3.4")
        throttle.failed("a@x.io", "1.2.3.4")
        now[0] += 1
    with pytest.raises(TooManyAttempts) as exc:
        throttle.check("a@x.io", "1.2.3.4")
    assert exc.value.retry_after == 57  # failures at 0, 1, 2 s; now 3 s: the first leaves at 60 s
    throttle.check("a@x.io", "5.6.7.8")  # another address is not affected
    now[0] += 56
    with pytest.raises(TooManyAttempts):
        throttle.check("a@x.io", "1.2.3.4")
    now[0] += 1
    throttle.check("a@x.io", "1.2.3.4")  # the oldest failure left the window
    throttle.succeeded("a@x.io", "1.2.3.4")
    assert ("a@x.io", "1.2.3.4") not in throttle._failures  # its count per email + address is gone


# -- passwords and comparisons ------------------------------------------------------------------


async def test_passwords_use_documented_argon2id_parameters(tmp_path: Path) -> None:
    store = Store(url=f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}")
    await store.migrate()
    try:
        auth = Auth(store=store, settings=Settings(data_dir=tmp_path, auth="required"))
        await auth.register(email="pw@example.com", name="pw", password=PASSWORD)
        user = await store.get_user_by_email("pw@example.com")
        assert user is not None and user.password_hash is not None
        p = ARGON2_PARAMETERS
        assert (p.memory_cost, p.time_cost, p.parallelism, p.salt_len, p.hash_len) >= (65536, 3, 4, 16, 32)
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert PASSWORD not in user.password_hash
    finally:
        await store.aclose()


async def test_unknown_email_takes_as_long_as_a_wrong_password(tmp_path: Path) -> None:
    """Login response times must not tell which emails have accounts."""
    from wingman.errors import Unauthorized

    store = Store(url=f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await store.migrate()
    try:
        auth = Auth(store=store, settings=Settings(data_dir=tmp_path, auth="required",
                                                   login_failures_per_minute=1000,
                                                   login_failures_per_ip_per_minute=1000))
        await auth.register(email="known@example.com", name="k", password=PASSWORD)

        async def timed(email: str) -> float:
            start = time.perf_counter()
            with pytest.raises(Unauthorized):
                await auth.login(email=email, password="not the password")
            return time.perf_counter() - start

        await timed("warm@example.com")
        known = [await timed("known@example.com") for _ in range(5)]
        unknown = [await timed(f"nobody{i}@example.com") for i in range(5)]
        ratio = statistics.median(unknown) / statistics.median(known)
        assert 0.3 < ratio < 3.0, (known, unknown)  # without the dummy check: ~0.01
    finally:
        await store.aclose()


SECRETISH = re.compile(r"(token|secret|password|passwd|api_key|apikey|credential|digest|hmac)", re.I)


def _names(node: ast.AST) -> Iterator[str]:
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, ast.Attribute):
            yield n.attr
        elif isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant):
            if isinstance(n.slice.value, str):
                yield n.slice.value


def _is_sql_column(node: ast.AST) -> bool:
    """`Model.column == x` builds SQL; it compares nothing in Python."""
    return (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper())


def test_no_secret_is_compared_with_equality_in_src() -> None:
    """`==` on secrets leaks, through timing, how much of a guess was right: secrets are only
    compared by argon2, PyJWT (hmac.compare_digest) or hmac.compare_digest itself."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(o, ast.Eq | ast.NotEq) for o in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands) or any(_is_sql_column(o) for o in operands):
                continue
            if any(SECRETISH.search(name) for o in operands for name in _names(o)):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, offenders


def test_only_settings_read_the_environment() -> None:
    # alembic's own entry point; the container HEALTHCHECK, which must not import the app
    allowed = {"settings.py", "store/migrations/env.py", "healthcheck.py"}
    readers = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text())]
    assert set(readers) <= allowed, readers


# -- CORS, Host, headers ------------------------------------------------------------------------


def test_cors_allows_only_configured_origins(server: Server) -> None:
    good, evil = "https://app.example.com", "https://evil.example"
    pre = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    ok = httpx.options(f"{server.url}/api/calls", headers={"Origin": good, **pre})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == good
    bad = httpx.options(f"{server.url}/api/calls", headers={"Origin": evil, **pre})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
    simple = httpx.get(f"{server.url}/api/health", headers={"Origin": evil})
    assert "access-control-allow-origin" not in simple.headers

    async def sockets() -> None:
        user = register(server.url, f"cors-{uuid.uuid4().hex[:6]}")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(server.url, user.token, headers={"Origin": evil})
        client = await connect(server.url, user.token, headers={"Origin": good})
        await client.disconnect()

    asyncio.run(sockets())


def test_local_mode_serves_only_loopback_hosts_and_same_origin_sockets(tmp_path: Path) -> None:
    """DNS rebinding and cross-site WebSocket hijacking against the token-less local user."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Wingman</title>")
    settings = quiet_settings(tmp_path, auth="local", web_dist=web)
    with serve(settings, container_factory=scripted(script_of(["hi"]))) as s:
        port = s.url.rsplit(":", 1)[1]
        for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}"):
            r = httpx.get(f"{s.url}/api/calls", headers={"Host": host})
            assert r.status_code == 421, host
            assert "items" not in r.text
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert httpx.get(f"{s.url}/api/calls", headers={"Host": host}).status_code == 200, host

        async def sockets() -> None:
            with pytest.raises(socketio.exceptions.ConnectionError):
                await connect(s.url, headers={"Origin": "https://evil.example"})
            with pytest.raises(socketio.exceptions.ConnectionError):
                await connect(s.url, headers={"Host": f"evil.example:{port}"})
            client = await connect(s.url, headers={"Origin": s.url})
            await client.disconnect()

        asyncio.run(sockets())


def test_security_headers_on_the_web_app_and_api(tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Wingman</title>")
    with serve(quiet_settings(tmp_path, auth="local", web_dist=web),
               container_factory=scripted(script_of(["hi"]))) as s:
        for path in ("/", "/calls/some-call", "/api/health", "/api/calls"):
            r = httpx.get(f"{s.url}{path}")
            assert r.status_code == 200, path
            for name, value in SECURITY_HEADERS.items():
                assert r.headers[name] == value, (path, name)
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self';" in csp
            assert "unsafe-eval" not in csp
        assert httpx.get(f"{s.url}/api/calls").headers["cache-control"] == "no-store"
        for path in ("/docs", "/redoc"):
            docs = httpx.get(f"{s.url}{path}")
            assert docs.headers["content-security-policy"] == DOCS_CSP
            # the pages' scripts and styles come from this server (they work offline)
            assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', docs.text)
            assert assets, path
            for asset in assets:
                assert asset.startswith("/"), (path, asset)
                r = httpx.get(f"{s.url}{asset}")
                assert r.status_code == 200 and len(r.content) > 10_000, asset


# -- secrets never logged -----------------------------------------------------------------------


def test_secrets_never_reach_logs_settings_or_responses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, api_key = "signing-" + uuid.uuid4().hex * 2, "sk-" + uuid.uuid4().hex
    dg_key = "dg-" + uuid.uuid4().hex
    settings = quiet_settings(
        tmp_path, secret_key=SecretStr(key), llm="openai", openai_base_url="http://127.0.0.1:9/v1",
        openai_api_key=SecretStr(api_key), deepgram_api_key=SecretStr(dg_key),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
    )
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert key not in text and api_key not in text and dg_key not in text
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="wingman")
    secrets = [key, api_key, dg_key, PASSWORD, "wrong password 123"]
    with serve(settings, container_factory=scripted(script_of(["my card is 4242 please"]))) as s:
        user = register(s.url, "logme")
        secrets.append(user.token)
        httpx.post(f"{s.url}/api/auth/login", json={"email": user.email, "password": "wrong password 123"})
        grant = httpx.post(f"{s.url}/api/auth/login", json={"email": user.email, "password": PASSWORD})
        secrets.append(grant.json()["token"])
        providers = httpx.get(f"{s.url}/api/providers", headers=user.headers)
        assert providers.status_code == 200
        for secret in (key, api_key, dg_key):
            assert secret not in providers.text

        async def call() -> None:
            client = await connect(s.url, user.token)
            await client.call("start-call", {"title": "log test"})
            await stream(client, 0.0, 2.0)
            await eventually(lambda: len(client.finals) == 1, what="final")
            await client.call("end-call", {}, timeout=60)  # the summary tries the dead LLM first
            await client.disconnect()
            with pytest.raises(socketio.exceptions.ConnectionError):
                await connect(s.url, "forged-" + key)

        asyncio.run(call())
        httpx.post(f"{s.url}/api/auth/logout", headers=user.headers)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for record in caplog.records:
        text = " ".join([record.getMessage(), str(record.args), str(record.__dict__),
                         record.exc_text or "", str(record.exc_info or "")])
        for secret in secrets:
            assert secret not in text, f"{record.name}: a secret in the log: {record.getMessage()}"
