"""A loopback HTTP server (aiohttp) that records every request and answers from a script.

The Gemini, OpenAI, Tavily and Google stand-ins build on it: each knows its service's paths,
auth and JSON shapes; tests queue replies (`stub.reply(...)`) and then check what our client
sent (`stub.requests`).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.services import free_port


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-serialisable, or str for a raw (possibly malformed) body
    delay: float = 0.0  # seconds before answering (timeouts)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


class HttpStub:
    """Subclasses override `check()` to refuse requests the real service would refuse."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, *replies: Reply) -> None:
        """Queue the next replies; with none queued the stand-in answers `default_reply()`."""
        self._replies.extend(replies)

    def default_reply(self, request: Recorded) -> Reply:
        return Reply(500, {"error": "no reply scripted"})

    def check(self, request: Recorded) -> Reply | None:
        return None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # no access log: it would print request lines (Google's carries the key) from the fake
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()  # delayed replies end now
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=list(request.query.items()),
            headers=dict(request.headers),
            body=await request.read(),
        )
        self.requests.append(recorded)
        reply = self.check(recorded)
        if reply is None:
            reply = self._replies.popleft() if self._replies else self.default_reply(recorded)
        if reply.delay:
            try:
                await asyncio.wait_for(self._release.wait(), reply.delay)
            except TimeoutError:
                pass
        if isinstance(reply.body, str):
            return web.Response(
                status=reply.status,
                text=reply.body,
                content_type="application/json",
                headers=reply.headers,
            )
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)
