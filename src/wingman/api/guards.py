"""ASGI guards in front of everything: request body size and, in local mode, the Host header.

- BodyLimit: a REST body larger than `max_bytes` gets 413 as soon as that is known (from
  Content-Length before a byte is read, or while streaming), so nobody can fill the disk or
  memory with a huge "document" before the route gets to check its size; a URL holding a NUL
  character (which PostgreSQL cannot store or compare) gets 400.
- host_checker: local mode serves the token-less local user, so a web page that gets the
  browser to send requests to 127.0.0.1 under its own domain name (DNS rebinding) must not be
  served. Only loopback names (and `allowed_hosts`) are accepted as Host there.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import HTTPException, status

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json(
    send: Send, status_code: int, body: dict[str, Any], headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


class BodyLimit:
    """Pure ASGI middleware: 413 for HTTP request bodies over `max_bytes`, 400 for URLs with
    NUL characters."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in bytes(scope.get("query_string") or b"").lower():
            # no database stores NUL in text (PostgreSQL refuses it): refuse it at the door
            body = {"detail": "NUL in the URL", "code": "bad_url"}
            await send_json(send, status.HTTP_400_BAD_REQUEST, body)
            return
        too_large = {"detail": f"the request body exceeds {self.max_bytes} bytes", "code": "too_large"}
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_json(send, status.HTTP_400_BAD_REQUEST, {"detail": "bad Content-Length"})
                return
            if length > self.max_bytes:
                await send_json(send, status.HTTP_413_CONTENT_TOO_LARGE, too_large)
                return
        received = 0
        started = False

        async def counted_receive() -> Any:
            nonlocal received
            message = await receive()
            if message.get("type") == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPExceptions from body reading as they are
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, too_large["detail"])
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except HTTPException as exc:
            if started or exc.status_code != status.HTTP_413_CONTENT_TOO_LARGE:
                raise
            await send_json(send, exc.status_code, too_large)


def host_name(host_header: str) -> str:
    """The name part of a Host header ("[::1]:8000" -> "::1", "Example.com:80" -> "example.com")."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_checker(*, local_mode: bool, allowed_hosts: Iterable[str]) -> Callable[[Scope], bool] | None:
    """A Host-header check for `scope`, or None when every host is accepted."""
    allowed = {host_name(h) for h in allowed_hosts if h}
    if not local_mode and not allowed:
        return None

    def ok(scope: Scope) -> bool:
        header = _header(scope, b"host")
        if header is None:
            return not local_mode  # HTTP/1.0 without Host: refuse it in local mode
        name = host_name(header)
        return name in allowed or (local_mode and is_loopback_name(name))

    return ok
