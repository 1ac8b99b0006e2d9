"""Who is asking, and from which page: trusted proxies, local mode's peer check, and the
Origin / Sec-Fetch-Site check of state-changing requests (CSRF).

- resolve_client: the client address is the TCP peer, unless the peer is one of
  `trusted_proxies` (addresses or CIDRs: the nginx hosts); then it is the right-most address of
  X-Forwarded-For that is not itself a trusted proxy. The app writes it into `scope["client"]`, so the
  login throttle, sign-up quota and logs see the real client everywhere (REST and Socket.IO).
- local_peer_ok: local mode serves a user without a token, so only to this machine: the peer
  must be loopback, and so must every address a proxy forwarded (behind a same-host proxy the
  peer is loopback for everyone).
- origin_ok: a browser sends cookies-less requests cross-site happily (a multipart form POST
  needs no CORS preflight), so a page the rep visits could drive the token-less local user.
  A state-changing request (POST, PUT, PATCH, DELETE) and every Socket.IO handshake must come
  from this server's own origin or one of `cors_origins`: Origin when present, else
  Sec-Fetch-Site; requests with neither (curl, the CLI, server-to-server) are not from a
  browser page and pass.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from wingman.api.guards import Scope, Send, send_json

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORWARDING_HEADERS = (b"x-forwarded-for", b"x-real-ip", b"forwarded")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _headers(scope: Scope, name: bytes) -> list[str]:
    return [bytes(v).decode("latin-1") for k, v in scope.get("headers") or () if k.lower() == name]


def _header(scope: Scope, name: bytes) -> str | None:
    values = _headers(scope, name)
    return values[0] if values else None


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or plain addresses ("10.0.0.5", "10.0.2.0/24", "::1")."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _in(ip: Any, networks: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


def forwarded_chain(scope: Scope) -> list[str]:
    """Every address in X-Forwarded-For (all such headers, in order), then X-Real-IP."""
    chain: list[str] = []
    for value in _headers(scope, b"x-forwarded-for"):
        chain.extend(part.strip() for part in value.split(",") if part.strip())
    return chain


def resolve_client(scope: Scope, trusted: tuple[Network, ...]) -> str | None:
    """The client address of `scope` given the trusted proxies (None: keep the peer)."""
    peer = (scope.get("client") or (None,))[0]
    if not trusted or not _in(_ip(peer or ""), trusted):
        return None
    for hop in reversed(forwarded_chain(scope)):
        ip = _ip(hop)
        if ip is None:
            return None  # a garbled chain: keep the proxy's own address
        if not _in(ip, trusted):
            return str(ip)
    return None


def local_peer_ok(scope: Scope) -> bool:
    """The peer and every forwarded address are loopback (local mode serves only this machine)."""
    peer = _ip((scope.get("client") or ("",))[0] or "")
    if peer is None or not peer.is_loopback:
        return False
    forwarded = forwarded_chain(scope) + [v for v in _headers(scope, b"x-real-ip")]
    for value in _headers(scope, b"forwarded"):
        for part in value.replace(",", ";").split(";"):
            key, _, val = part.strip().partition("=")
            if key.lower() == "for":
                forwarded.append(val)
    return all((ip := _ip(hop)) is not None and ip.is_loopback for hop in forwarded)


def _origin_netloc(origin: str) -> str | None:
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def origin_checker(cors_origins: Iterable[str]) -> Any:
    """A function scope -> bool: may this request change state, judged by its page's origin?"""
    allowed = {o for o in (_origin_netloc(x) for x in cors_origins if x != "*") if o}
    any_origin = "*" in cors_origins

    def same_origin(scope: Scope, netloc: str) -> bool:
        # browsers leave the default port out of both Origin and Host
        host = _header(scope, b"host")
        return host is not None and urlsplit(netloc).netloc == host.strip().lower()

    def ok(scope: Scope) -> bool:
        is_socket = scope["type"] == "websocket" or scope.get("path", "").startswith("/socket.io")
        if scope["type"] == "http" and not is_socket and scope.get("method", "GET") not in STATE_CHANGING:
            return True
        origin = _header(scope, b"origin")
        if origin is not None:
            netloc = _origin_netloc(origin)  # "null" (sandboxed frames, file://) has none
            return netloc is not None and (any_origin or netloc in allowed or same_origin(scope, netloc))
        site = (_header(scope, b"sec-fetch-site") or "none").lower()
        return site in ("same-origin", "none")

    return ok


async def refuse(scope: Scope, send: Send, status: int, detail: str, code: str) -> None:
    """Answer an HTTP request with a JSON error, or close a WebSocket with policy violation."""
    if scope["type"] == "http":
        await send_json(send, status, {"detail": detail, "code": code})
    else:
        await send({"type": "websocket.close", "code": 1008})
