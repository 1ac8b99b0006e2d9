"""Hostile input: floods are throttled per connection without slowing other calls; sizes,
call length, titles, documents and file types are limited; every malformed Socket.IO payload
and REST body gets a clear error and the connection (and the server) carry on."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import time
from collections.abc import Iterator
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

LINES = ["first line here", "second line here", "third line here", "fourth line here"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = quiet_settings(tmp_path_factory.mktemp("hostile"), max_document_bytes=50_000,
                              max_chunk_bytes=64 * 1024, max_title_chars=80, socket_control_burst=40,
                              web_dist=_web(tmp_path_factory.mktemp("web")))
    with serve(settings, container_factory=scripted(script_of(LINES))) as s:
        yield s


def _web(root: Path) -> Path:
    dist = root / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>Wingman</title>")
    (root / "secret.txt").write_text("TOP SECRET outside the web root")
    return dist


@pytest.fixture(scope="module")
def users(server: Server) -> tuple[User, User]:
    return register(server.url, "mallory"), register(server.url, "victor")


# -- floods -------------------------------------------------------------------------------------


async def test_a_flood_is_throttled_per_connection_without_slowing_other_calls(
    server: Server, users: tuple[User, User]
) -> None:
    attacker, victim = users
    x = await connect(server.url, attacker.token)
    y = await connect(server.url, victim.token)
    try:
        assert "call_id" in await x.call("start-call", {"title": "flood"})
        assert "call_id" in await y.call("start-call", {"title": "honest call"})
        chunk = struct.pack("<1600f", *([0.0] * 1600))  # 100 ms of silence
        latencies: list[float] = []

        async def flood() -> None:
            for i in range(3000):
                await x.emit("audio-chunk", chunk)
                if i % 100 == 0:
                    await asyncio.sleep(0)  # let the client's own loop breathe
            for _ in range(100):
                await x.emit("feedback", {"id": "nope", "status": "liked"})
                await x.emit("no-such-event", {"x": 1})

        async def honest() -> None:
            await stream(y, 0.0, 1.8, pace=0.01)
            for _ in range(10):
                start = time.monotonic()
                ack = await y.call("feedback", {"id": "unknown-rec", "status": "liked"})
                latencies.append(time.monotonic() - start)
                assert ack["error"]["code"] == "not_found"

        await asyncio.gather(flood(), honest())
        await eventually(lambda: len(y.finals) == 1, what="the honest call's final")
        await eventually(lambda: bool(x.errors("rate_limited")), what="rate_limited")
        # a flood gets a trickle of errors back, not a flood: at most one a second per bucket
        assert len(x.errors("rate_limited")) <= 10, len(x.errors("rate_limited"))
        assert not y.errors("rate_limited"), y.errors()
        # refused audio is refused: the flood did not turn into minutes of transcribed audio
        # (a control event the bucket refilled for in the meantime gets its own answer)
        allowed = {"rate_limited", "audio_backpressure", "unknown_event", "not_found"}
        assert {e["code"] for e in x.errors()} <= allowed, x.errors()[:3]
        assert max(latencies) < 2.0, latencies
        # the attacker's connection survives and works again once it slows down
        await asyncio.sleep(1.2)
        ack = await x.call("feedback", {"id": "nope", "status": "liked"})
        assert ack["error"]["code"] in ("not_found", "rate_limited")
    finally:
        await x.disconnect()
        await y.disconnect()


async def test_control_events_have_their_own_tighter_bucket(server: Server, users: tuple[User, User]) -> None:
    attacker, _ = users
    x = await connect(server.url, attacker.token)
    try:
        acks = await asyncio.gather(*(x.call("feedback", {"id": f"r{i}", "status": "liked"})
                                      for i in range(60)))
        codes = [a["error"]["code"] for a in acks]
        assert all(a["ok"] is False for a in acks)
        # a burst of 40 (this server's setting), then about 5 a second
        assert 40 <= codes.count("not_found") <= 50 and codes.count("rate_limited") >= 10, codes
    finally:
        await x.disconnect()


# -- sizes and lengths --------------------------------------------------------------------------


async def test_chunk_size_call_length_and_title_limits(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, max_chunk_bytes=64 * 1024, max_call_seconds=5, max_title_chars=80)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        user = register(server.url, "limits")
        call_id = await _limits_call(server, user)
        async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
            detail = (await http.get(f"/api/calls/{call_id}")).json()
    assert len(detail["title"]) <= 80 and detail["title"].startswith("evil")
    assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in detail["title"])
    assert detail["transcript"] and max(seg["end"] for seg in detail["transcript"]) <= 5.0


async def _limits_call(server: Server, user: User) -> str:
    c = await connect(server.url, user.token)
    try:
        title = "\x00evil\x1b[31m title\u202e " + "x" * 10_000
        ack = await c.call("start-call", {"title": title})
        call_id = ack["call_id"]
        await c.emit("audio-chunk", b"\x00" * (64 * 1024 + 4))
        await eventually(lambda: bool(c.errors("audio_too_large")), what="audio_too_large")
        await stream(c, 0.0, 6.0)  # the limit is 5 s of audio
        await eventually(lambda: bool(c.errors("call_too_long")), what="call_too_long")
        ended = await c.call("end-call", {}, timeout=60)
        assert ended["call_id"] == call_id
        # one call_too_long a second, not one per refused chunk
        assert 1 <= len(c.errors("call_too_long")) <= 3
    finally:
        await c.disconnect()
    return str(call_id)


def test_document_size_and_types(server: Server, users: tuple[User, User]) -> None:
    user, _ = users
    url = f"{server.url}/api/knowledge"

    def upload(name: str, data: bytes, ctype: str = "application/octet-stream") -> httpx.Response:
        return httpx.post(url, headers=user.headers, files={"file": (name, data, ctype)}, timeout=60)

    big = upload("big.md", b"# big\n\n" + b"word " * 20_000, "text/markdown")
    assert big.status_code == 413, big.text
    for name, data, ctype in [
        ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/octet-stream"),
        ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        ("page.html", b"<script>alert(1)</script>", "text/html"),
        ("notes", b"MZ\x90\x00 binary without an extension", "application/octet-stream"),
        ("fake.pdf", b"not really a pdf", "application/pdf"),
        ("empty.md", b"", "text/markdown"),
        ("blank.txt", b"   \n\n  ", "text/plain"),
    ]:
        r = upload(name, data, ctype)
        assert r.status_code == 400, (name, r.status_code, r.text)
        assert r.json()["detail"]
    ok = upload("../../../etc/passwd.md", b"# Notes\n\nRelay pricing starts at thirty dollars.\n",
                "text/markdown")
    assert ok.status_code == 201, ok.text
    assert ok.json()["filename"] == "passwd.md"


def test_oversize_bodies_are_refused_before_they_are_read(server: Server, users: tuple[User, User]) -> None:
    user, _ = users
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /api/knowledge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {user.token}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000000000\r\n\r\n"
            + b"--xyz\r\n"
        )
        head = s.recv(4096)  # answered at once, not after 5 GB
    assert head.startswith(b"HTTP/1.1 413"), head[:200]

    def endless() -> Iterator[bytes]:  # chunked, no Content-Length
        yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.md\"\r\n\r\n"
        for _ in range(200):
            yield b"a" * 65536

    r = httpx.post(f"{server.url}/api/knowledge", content=endless(), timeout=30,
                   headers={**user.headers, "Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 413


def test_static_files_cannot_escape_the_web_root(server: Server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    for raw in ("/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
                "//secret.txt", "/static/..%2f..%2fsecret.txt"):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(f"GET {raw} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        assert b"TOP SECRET" not in data, raw


# -- malformed payloads -------------------------------------------------------------------------

BAD_START = [
    ("not an object", "bad_payload"),
    (["a", "list"], "bad_payload"),
    (42, "bad_payload"),
    ({"title": 5}, "bad_payload"),
    ({"title": ""}, "bad_payload"),
    ({"title": "x", "sample_rate": 1000}, "bad_payload"),
    ({"title": "x", "sample_rate": "fast"}, "bad_payload"),
    ({"title": "x", "sample_rate": 10**30}, "bad_payload"),
    ({"title": "x", "encoding": "mp3"}, "bad_payload"),
    ({"title": "x", "channels": 3}, "bad_payload"),
    ({"title": "x", "call_id": "y" * 65}, "bad_payload"),
    ({"title": "x", "call_id": 7}, "bad_payload"),
    ({"title": "x", "call_id": "not-a-call"}, "not_found"),
    ({"title": "x\ud800"}, "bad_payload"),
]
BAD_FEEDBACK = [
    (None, "bad_payload"),
    ("liked", "bad_payload"),
    ({"id": "x"}, "bad_payload"),
    ({"id": "x", "status": "love"}, "bad_payload"),
    ({"id": "", "status": "liked"}, "bad_payload"),
    ({"id": "x" * 65, "status": "liked"}, "bad_payload"),
    ({"id": {"$ne": None}, "status": "liked"}, "bad_payload"),
    ({"id": "' OR 1=1 --", "status": "liked"}, "not_found"),
]


async def _fresh(server: Server, user: User) -> Client:
    return await connect(server.url, user.token)


async def test_every_malformed_socket_payload_gets_a_clear_error(
    server: Server, users: tuple[User, User]
) -> None:
    user, _ = users
    c = await _fresh(server, user)
    try:
        for payload, code in BAD_START:
            ack = await c.call("start-call", payload)
            assert ack["error"]["code"] == code, (payload, ack)
            assert ack["error"]["message"]
        for payload, code in BAD_FEEDBACK:
            ack = await c.call("feedback", payload)
            assert ack["ok"] is False and ack["error"]["code"] == code, (payload, ack)
        for payload, code in [({}, "no_call"), ({"call_id": "nope"}, "not_found"),
                              ({"call_id": "z" * 5000}, "bad_payload"), ("text", "no_call")]:
            ack = await c.call("end-call", payload)
            assert ack["error"]["code"] == code, (payload, ack)
        ack = await c.call("no-such-event", {"a": 1})
        assert ack["error"]["code"] == "unknown_event"
        # audio before a call, then in a call: every bad frame gets its own reason
        await c.emit("audio-chunk", b"\x00" * 640)
        await eventually(lambda: bool(c.errors("no_call")), what="no_call")
        assert "call_id" in await c.call("start-call", {"title": "frames", "encoding": "f32le"})
        nan = struct.pack("<4f", math.nan, 0.0, 0.0, 0.0)
        huge = struct.pack("<4f", 1e9, 0.0, 0.0, 0.0)
        for frame, code in [("text", "bad_payload"), ({"pcm": [1, 2]}, "bad_payload"),
                            ([1, 2, 3], "bad_payload"),
                            (b"", "audio_empty"), (b"\x00\x00\x00", "audio_misaligned"),
                            (nan, "audio_not_finite"), (huge, "audio_out_of_range")]:
            await c.emit("audio-chunk", frame)
            await eventually(lambda code=code: bool(c.errors(code)), what=code)  # type: ignore[misc]
        await c.sio.emit("audio-chunk", (b"\x00" * 64, "extra", "args"))  # extra arguments
        await c.sio.emit("start-call", ({"title": "a"}, {"title": "b"}))
        # the connection and the call survived all of it
        ended = await c.call("end-call", {}, timeout=60)
        assert "call_id" in ended, ended
    finally:
        await c.disconnect()


def test_malformed_rest_bodies_get_clear_4xx(server: Server, users: tuple[User, User]) -> None:
    user, _ = users
    h = user.headers
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/auth/register", {"content": b"{not json"}),
        ("POST", "/api/auth/register", {"content": b"[]", "headers": {"Content-Type": "application/json"}}),
        ("POST", "/api/auth/register", {"json": {"email": "a@b.co"}}),
        ("POST", "/api/auth/register", {"json": {"email": "x" * 10_000, "password": "p" * 10, "name": "n"}}),
        ("POST", "/api/auth/register", {"json": {"email": "not-an-email", "password": "p" * 10,
                                                 "name": "n"}}),
        ("POST", "/api/auth/register", {"json": {"email": "a@b.co", "password": "short", "name": "n"}}),
        ("POST", "/api/auth/register", {"json": {"email": "a@b.co", "password": "p" * 100_000, "name": "n"}}),
        ("POST", "/api/auth/login", {"json": {"email": 5, "password": None}}),
        ("POST", "/api/auth/login", {"content": b"email=a&password=b",
                                     "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("POST", "/api/recommendations/x/feedback", {"json": {"status": "love"}, "headers": h}),
        ("POST", "/api/recommendations/x/feedback", {"content": b"\xff\xfe", "headers": h}),
        ("GET", "/api/calls?limit=100000", {"headers": h}),
        ("GET", "/api/calls?limit=-1&offset=-5", {"headers": h}),
        ("GET", "/api/calls?q=" + "a" * 300, {"headers": h}),
        ("POST", "/api/knowledge", {"headers": h}),
        ("POST", "/api/knowledge", {"headers": h, "data": {"file": "not a file"}}),
    ]
    with httpx.Client(base_url=server.url) as http:
        for method, path, kwargs in cases:
            r = http.request(method, path, **kwargs)
            assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json"), (method, path)
            assert json.loads(r.text)["detail"], (method, path)
        # odd but valid searches are answered, not crashed on
        for q in ('"', "*", "NEAR(", "a OR b", "\x01", "%", "'; DROP TABLE call_sessions; --", "ü" * 50):
            r = http.get("/api/calls", params={"q": q}, headers=h)
            assert r.status_code == 200, (q, r.text)


async def test_clients_cannot_fire_the_lifecycle_events(tmp_path: Path) -> None:
    """python-socketio hands a client's event named "connect" or "disconnect" to the lifecycle
    handlers: a fake disconnect would detach the call and reset the connection's limits, a
    fake connect would re-run sign-in for a live connection."""
    settings = quiet_settings(tmp_path, socket_control_burst=10, socket_control_per_second=0.01)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        user, other = register(server.url, "life"), register(server.url, "cycle")
        x = await connect(server.url, user.token)
        try:
            assert "call_id" in await x.call("start-call", {"title": "lifecycle"})
            acks = await asyncio.gather(*(x.call("feedback", {"id": f"r{i}", "status": "liked"})
                                          for i in range(12)))
            assert [a["error"]["code"] for a in acks].count("rate_limited") == 3
            # refused (and, this connection being over its limits, rate limited) not obeyed
            fake_disconnect = await x.call("disconnect", "client disconnect")
            fake_connect = await x.sio.call("connect", ({"HTTP_HOST": "x"}, {"token": other.token}))
            for ack in (fake_disconnect, fake_connect):
                assert ack["error"]["code"] in ("unknown_event", "rate_limited"), ack
            ack = await x.call("feedback", {"id": "r-after", "status": "liked"})
            assert ack["error"]["code"] == "rate_limited"  # the limits were not reset
            gateway = server.app.other_asgi_app.state.gateway  # the call is still attached
            assert gateway.calls and all(c.sids for c in gateway.calls.values())
        finally:
            await x.disconnect()


@pytest.mark.postgres
async def test_nul_and_control_characters_never_reach_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """SQLite stores NUL in text, PostgreSQL refuses it (even in a WHERE): every way in must
    turn it into a clear 4xx or a cleaned value, never a 500."""
    settings = quiet_settings(tmp_path, database_url=postgres_url)
    with serve(settings, container_factory=scripted(script_of(LINES))) as server:
        user = register(server.url, "nul")
        async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
            answers = [
                await http.post("/api/auth/register", json={"email": "a\x00b@example.com",
                                                            "password": "x" * 10, "name": "n"}),
                await http.post("/api/auth/login", json={"email": "a\x00b@example.com",
                                                         "password": "x" * 10}),
                await http.get("/api/calls/a%00b"),
                await http.get("/api/calls", params={"q": "a\x00b"}),
                await http.post("/api/recommendations/a%00b/feedback", json={"status": "liked"}),
                await http.delete("/api/knowledge/a%00b"),
            ]
            for r in answers:
                assert 400 <= r.status_code < 500 or (r.status_code == 200 and "items" in r.text), (
                    r.request.url, r.status_code, r.text)
            named = await http.post("/api/auth/register", json={
                "email": "ctl@example.com", "password": "x" * 10, "name": "Eve\x00\x1b[2J"})
            assert named.status_code == 201 and named.json()["user"]["name"] == "Eve[2J"
            doc = ("a\x00b.md", b"# Hi\n\nsome words \x00 here", "text/markdown")
            up = await http.post("/api/knowledge", files={"file": doc})
            assert up.status_code == 201 and "\x00" not in up.json()["filename"], up.text
        c = await connect(server.url, user.token)
        try:
            ack = await c.call("start-call", {"title": "nul\x00 title", "call_id": "a\x00b"})
            assert ack["error"]["code"] == "bad_payload"
            ack = await c.call("feedback", {"id": "a\x00b", "status": "liked"})
            assert ack["error"]["code"] == "bad_payload"
            ack = await c.call("end-call", {"call_id": "a\x00b"})
            assert ack["error"]["code"] == "bad_payload"
            ack = await c.call("start-call", {"title": "nul\x00 title"})
            assert "call_id" in ack, ack
            await c.call("end-call", {}, timeout=60)
        finally:
            await c.disconnect()
