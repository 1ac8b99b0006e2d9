"""Quota floods: one socket starting call after call, one user opening socket after socket,
a tenant past its minutes of the day. Each refusal is a clear error with its quota's code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import socketio

from tests.integration.store_support import BACKENDS, backend_url
from tests.security.support import Server, connect, quiet_settings, register, script_of, scripted, serve
from wingman.errors import QuotaExceeded
from wingman.realtime.quotas import MemorySocketCounts, Quotas, RedisSocketCounts
from wingman.settings import Settings
from wingman.store.repos import Store
from wingman.store.usage import open_calls

START = {"title": "flood", "sample_rate": 16000, "encoding": "f32le"}


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
        started = [a for a in answers if "call_id" in a]
        refused = [a["error"] for a in answers if "error" in a]
        assert len(started) == 2 and len(refused) == 18, answers
        assert {e["code"] for e in refused} == {"calls_quota"}
        assert "limit of 2 live calls" in refused[0]["message"]
        # ending one frees a slot
        assert "error" not in await client.call("end-call", {"call_id": started[0]["call_id"]}, timeout=60)
        assert "call_id" in await client.call("start-call", START)
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


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(request, tmp_path)


async def _start(quotas: Quotas, store: Store, user_id: str, tenant: str) -> str:
    """What start-call does with the quotas: the slot taken with the call's row, atomically."""
    async with quotas.call_slot(tenant) as admit:
        call = await store.create_call(workspace_id=tenant, user_id=user_id, title="race", admit=admit)
    return call.id


@pytest.mark.parametrize("nodes", [1, 2])
async def test_two_simultaneous_starts_take_the_last_slot_once(
    db_url: str, tmp_path: Path, nodes: int
) -> None:
    settings = Settings(data_dir=tmp_path, max_calls_per_user=2, max_calls_per_tenant=10)
    stores = [Store(url=db_url) for _ in range(nodes)]  # a node each: its own engine and pool
    await stores[0].migrate()
    quotas = [Quotas(settings=settings, store=s, sockets=MemorySocketCounts()) for s in stores]
    try:
        ada = await stores[0].create_user(email="ada@example.com", name="Ada", password_hash=None)
        await _start(quotas[0], stores[0], ada.id, ada.workspace_id)  # one slot left
        for round_ in range(3):  # each round: two starts at once, then the winner's call ends
            both = await asyncio.gather(
                *(_start(quotas[i % nodes], stores[i % nodes], ada.id, ada.workspace_id) for i in range(2)),
                return_exceptions=True,
            )
            refused = [r for r in both if isinstance(r, QuotaExceeded)]
            started = [r for r in both if isinstance(r, str)]
            assert len(refused) == 1 and len(started) == 1, (round_, both)
            assert refused[0].code == "calls_quota"
            await stores[0].finish_call(workspace_id=ada.workspace_id, user_id=ada.id,
                                        call_id=started[0], full_transcript="", summary="")
        assert await open_calls(stores[0], workspace_id=ada.workspace_id, user_id=ada.id) == (1, 1)
        assert all(not q._slot_locks for q in quotas)  # no lock kept for a tenant not starting
    finally:
        for s in stores:
            await s.aclose()
