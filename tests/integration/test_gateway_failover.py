"""Two gateway nodes (two app instances sharing Redis and one PostgreSQL store): a client whose
connection to node A drops resumes its call on node B, which takes over the call's owner lease.
Node A, still alive, lets the call go instead of finalizing it when its abandon timeout passes,
even while the call is quiet on B (no transcript proving it moved); only B finalizes it, once."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.security.support import (
    call_detail,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
)
from wingman.realtime.gateway import Gateway
from wingman.realtime.lease import KEY_PREFIX

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

LINES = [f"line number {n} of the call" for n in range(1, 7)]  # line k: 0.5+1.5k .. 1.5+1.5k s
ABANDON = 1.0


async def test_after_a_failover_only_the_node_holding_the_lease_finalizes(
    tmp_path: Path, postgres_url: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wingman.realtime.upkeep")

    def node(name: str) -> Any:
        settings = quiet_settings(
            tmp_path / name,
            node_id=name,
            database_url=postgres_url,
            bus="redis",
            redis_url=redis_url,
            socketio_redis=True,
            secret_key="s" * 40,
            abandon_call_seconds=ABANDON,
        )
        return serve(settings, container_factory=scripted(script_of(LINES)))

    redis = aioredis.Redis.from_url(redis_url)
    with node("gateway-a") as a, node("gateway-b") as b:
        gateway_a: Gateway = a.app.other_asgi_app.state.gateway
        user = register(a.url, "roamer")
        first = await connect(a.url, user.token)
        call_id = (await first.call("start-call", {"title": "failover"}))["call_id"]
        assert await redis.get(KEY_PREFIX + call_id) == b"gateway-a"
        await stream(first, 0.0, 5.3)  # stops in the middle of line 4
        await eventually(lambda: len(first.finals) == 3, what="three finals on A")
        await first.sio.eio.disconnect(abort=True)  # A's client is gone; A itself lives on

        second = await connect(b.url, user.token)
        ack = await second.call("start-call", {"title": "failover", "call_id": call_id})
        assert ack == {"call_id": call_id, "audio_seconds": 4.5, "features": ["received"]}
        assert await redis.get(KEY_PREFIX + call_id) == b"gateway-b"
        # the customer is on hold: nothing is said on B for longer than A's abandon timeout
        await eventually(lambda: call_id not in gateway_a.calls, timeout=10, what="A lets go")
        await asyncio.sleep(ABANDON * 2)
        assert call_detail(b.url, call_id, user.headers)["end_time"] is None
        assert await redis.get(KEY_PREFIX + call_id) == b"gateway-b"

        # B carries on from A's last saved final (line 3 ends at 4.5 s): the client resends
        # from there what A had heard of line 4
        await stream(second, ack["audio_seconds"], 9.6)
        await eventually(lambda: len(second.finals) == 3, what="three finals on B")
        await second.sio.eio.disconnect(abort=True)  # B's client leaves without end-call too
        deadline = asyncio.get_running_loop().time() + 20
        while not (detail := call_detail(b.url, call_id, user.headers))["end_time"]:
            assert asyncio.get_running_loop().time() < deadline, "B never finalized the call"
            await asyncio.sleep(0.1)
        assert [seg["text"] for seg in detail["transcript"]] == LINES  # no gap, no duplicate
        await eventually(lambda: b.app.other_asgi_app.state.gateway.calls == {}, what="B done")
        deadline = asyncio.get_running_loop().time() + 10
        while await redis.get(KEY_PREFIX + call_id) is not None:  # released on finalizing
            assert asyncio.get_running_loop().time() < deadline, "the lease outlived the call"
            await asyncio.sleep(0.05)
    await redis.aclose()

    finalized = [
        r
        for r in caplog.records
        if r.getMessage() == "finalizing abandoned call" and getattr(r, "call_id", None) == call_id
    ]
    moved = [
        r
        for r in caplog.records
        if r.getMessage() == "call moved to another node" and getattr(r, "call_id", None) == call_id
    ]
    assert len(finalized) == 1 and len(moved) == 1, (finalized, moved)
