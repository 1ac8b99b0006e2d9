"""Quota floods: one socket starting call after call, one user opening socket after socket,
a tenant past its minutes of the day. Each refusal is a clear error with its quota's code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import socketio

from tests.security.support import Server, connect, quiet_settings, register, script_of, scripted, serve
from wingman.errors import QuotaExceeded
from wingman.realtime.quotas import MemorySocketCounts, Quotas, RedisSocketCounts
from wingman.settings import Settings
from wingman.store.repos import Store

START = {"title": "flood", "sampleRate": 16000, "encoding": "f32le"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = quiet_settings(tmp_path_factory.mktemp("quotas"), max_calls_per_user=2,
                              max_sockets_per_user=3, socket_control_burst=40)
    with serve(settings, container_factory=scripted(script_of(["hello there"]))) as s:
        yield s


async def test_one_socket_cannot_start_call_after_call(server: Server) -> None:
    user = register(server.url, "caller")
    client = await connect(server.url, user.token)
    try:
        answers = [await client.call("start-call", START) for _ in range(20)]
        started = [a for a in answers if "callId" in a]
        refused = [a["error"] for a in answers if "error" in a]
        assert len(started) == 2 and len(refused) == 18, answers
        assert {e["code"] for e in refused} == {"calls_quota"}
        assert "limit of 2 live calls" in refused[0]["message"]
        # ending one frees a slot
        assert "error" not in await client.call("end-call", {"callId": started[0]["callId"]}, timeout=60)
        assert "callId" in await client.call("start-call", START)
    finally:
        await client.disconnect()


async def test_one_user_cannot_open_socket_after_socket(server: Server) -> None:
    user = register(server.url, "opener")
    clients = [await connect(server.url, user.token) for _ in range(3)]
    try:
        refused = socketio.AsyncClient(reconnection=False)
        reasons: list[object] = []
        refused.on("connect_error", reasons.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(server.url, auth={"token": user.token}, transports=["websocket"],
                                  wait_timeout=10)
        assert "sockets_quota" in str(reasons) and "limit of 3 open connections" in str(reasons), reasons
        other = register(server.url, "neighbour")  # another user (tenant) is not affected
        await (await connect(server.url, other.token)).disconnect()
        await clients.pop().disconnect()  # a closed socket frees its slot
        clients.append(await connect(server.url, user.token))
    finally:
        for c in clients:
            await c.disconnect()


async def test_minutes_per_day_per_tenant(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_call_minutes_per_day=30)
    store = Store.from_settings(settings)
    await store.migrate()
    try:
        now = datetime.now(UTC)
        user = await store.create_user(email="m@example.com", name="m", password_hash=None)
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="long one")
        quotas = Quotas(settings=settings, store=store, clock=lambda: now)
        await quotas.check_minutes(user.id)  # a live call that just started
        await store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                full_transcript="", summary="",
                                end_time=call.start_time + timedelta(minutes=31))
        # (the end time is set by the call's audio: 31 minutes of it, whatever the clock says)
        quotas = Quotas(settings=settings, store=store, clock=lambda: now)
        with pytest.raises(QuotaExceeded) as e:
            await quotas.check_minutes(user.id)
        assert e.value.code == "minutes_quota" and e.value.retry_after is not None
        assert 0 < e.value.retry_after <= 24 * 3600
    finally:
        await store.aclose()


# -- two nodes: socket counts in the Redis they share, call counts in the store they share


async def test_socket_quotas_hold_across_two_nodes_and_a_crashed_node_leaks_none(
    redis_url: str, tmp_path: Path
) -> None:
    import redis.asyncio as aioredis

    settings = Settings(data_dir=tmp_path, max_sockets_per_user=3, max_sockets_per_tenant=4)
    store = Store.from_settings(settings)
    counts = {
        node: RedisSocketCounts(client=aioredis.Redis.from_url(redis_url), node_id=node, lease_seconds=1.0)
        for node in ("a", "b")
    }
    a, b = (Quotas(settings=settings, store=store, sockets=counts[n]) for n in ("a", "b"))
    try:
        await a.open_socket("s1", "ada", "acme")
        await a.open_socket("s2", "ada", "acme")
        await b.open_socket("s3", "ada", "acme")
        with pytest.raises(QuotaExceeded) as user_full:
            await b.open_socket("s4", "ada", "acme")  # 2 on a + 1 on b: the user's 3
        assert user_full.value.code == "sockets_quota" and "your limit of 3" in str(user_full.value)
        await b.open_socket("s5", "ria", "acme")  # another user of the tenant: its 4th
        with pytest.raises(QuotaExceeded) as tenant_full:
            await a.open_socket("s6", "max", "acme")
        assert "your team's limit of 4" in str(tenant_full.value)
        await a.close_socket("s1", "ada", "acme")  # a closed socket frees a slot on every node
        await b.open_socket("s4", "ada", "acme")

        # node a dies: it stops renewing (and never closes s2); node b keeps renewing its own
        # sockets, and a's stop counting once their lease runs out
        if a._renewer is not None:
            a._renewer.cancel()
        for _ in range(50):
            await counts["b"].renew()
            try:
                await b.open_socket("s7", "ada", "acme")
                break
            except QuotaExceeded:
                await asyncio.sleep(0.2)
        else:
            pytest.fail("the dead node's socket kept its quota")
        with pytest.raises(QuotaExceeded):  # b's own three are still counted
            await b.open_socket("s8", "ada", "acme")
    finally:
        await a.aclose()
        await b.aclose()
        await store.aclose()


async def test_call_quotas_count_open_calls_on_every_node(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_calls_per_user=2, max_calls_per_tenant=3)
    store = Store.from_settings(settings)
    await store.migrate()
    a, b = (Quotas(settings=settings, store=store, sockets=MemorySocketCounts()) for _ in range(2))
    try:
        ada = await store.create_user(email="ada@example.com", name="Ada", password_hash=None)
        ria = await store.create_user(email="ria@example.com", name="Ria", password_hash=None,
                                      workspace_id=ada.workspace_id)
        first = await store.create_call(workspace_id=ada.workspace_id, user_id=ada.id, title="on a")
        await a.check_new_call(ada.id, ada.workspace_id)
        await store.create_call(workspace_id=ada.workspace_id, user_id=ada.id, title="on b")
        for node in (a, b):  # the user's two open calls, wherever they run
            with pytest.raises(QuotaExceeded) as full:
                await node.check_new_call(ada.id, ada.workspace_id)
            assert full.value.code == "calls_quota" and "your limit of 2 live calls" in str(full.value)
        await store.create_call(workspace_id=ada.workspace_id, user_id=ria.id, title="ria's")
        with pytest.raises(QuotaExceeded, match="your team's limit of 3"):
            await b.check_new_call(ria.id, ada.workspace_id)
        await store.finish_call(workspace_id=ada.workspace_id, user_id=ada.id, call_id=first.id,
                                full_transcript="", summary="")
        await b.check_new_call(ada.id, ada.workspace_id)  # an ended call frees its slot
    finally:
        await store.aclose()
