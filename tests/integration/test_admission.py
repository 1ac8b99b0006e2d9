"""Admission control: a gateway over capacity refuses new calls with `busy` (and retry_after),
keeps carrying the calls it has, and says so in /api/health."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.security.support import (
    Server,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
)


def _node(server: Server) -> dict[str, Any]:
    body = httpx.get(f"{server.url}/api/health", timeout=10).json()
    node: dict[str, Any] = body["node"]
    return node


async def test_a_full_node_refuses_new_calls_with_busy_and_keeps_its_calls(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, max_calls_per_node=2, busy_retry_after_seconds=3.0)
    with serve(settings, container_factory=scripted(script_of(["hello there"]))) as server:
        user = register(server.url, "admission")
        a, b, c = [await connect(server.url, user.token) for _ in range(3)]
        try:
            first = await a.call("start-call", {"title": "one"})
            second = await b.call("start-call", {"title": "two"})
            assert "call_id" in first and "call_id" in second
            assert _node(server)["calls"] == 2 and not _node(server)["accepting"]

            refused = await c.call("start-call", {"title": "three"})
            assert refused["error"]["code"] == "busy"
            assert refused["error"]["retry_after"] == 3.0
            await eventually(lambda: bool(c.errors("busy")), what="a busy error event")
            assert c.errors("busy")[0]["retry_after"] == 3.0

            # the calls it carries go on: a reconnecting client resumes its call
            resumed = await c.call("start-call", {"call_id": first["call_id"]})
            assert resumed["call_id"] == first["call_id"]

            # a call ends: room for a new one
            ended = await b.call("end-call", {}, timeout=60)
            assert ended["call_id"] == second["call_id"]
            assert _node(server)["accepting"]
            third = await c.call("start-call", {"title": "three, later"})
            assert "call_id" in third
        finally:
            for client in (a, b, c):
                await client.disconnect()


async def test_a_saturated_event_loop_refuses_new_calls_until_it_recovers(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, max_loop_lag_seconds=0.15)
    with serve(settings, container_factory=scripted(script_of(["hello there"]))) as server:
        user = register(server.url, "lagging")
        gateway = server.app.other_asgi_app.state.gateway
        loop = server.container._tasks[0].get_loop()
        client = await connect(server.url, user.token)
        busy = threading.Event()

        def hog() -> None:  # CPU work holding the server's loop, over and over
            if busy.is_set():
                time.sleep(0.25)
                loop.call_soon(hog)

        try:
            assert "call_id" in await client.call("start-call", {"title": "before"})
            busy.set()
            loop.call_soon_threadsafe(hog)
            await eventually(lambda: gateway.lag.sustained > 0.15, what="sustained lag", timeout=10)
            refused = await client.call("start-call", {"title": "while saturated"}, timeout=30)
            assert refused["error"]["code"] == "busy"
            busy.clear()
            await eventually(lambda: gateway.lag.sustained < 0.05, what="recovery", timeout=10)
            node = _node(server)
            assert node["accepting"] and node["loop_lag"]["max"] >= 0.2
            assert "call_id" in await client.call("start-call", {"title": "after"})
        finally:
            busy.clear()
            await asyncio.sleep(0.3)
            await client.disconnect()
