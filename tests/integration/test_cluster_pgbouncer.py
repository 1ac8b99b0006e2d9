"""The Store through deploy/cluster's PgBouncer in transaction pooling mode.

asyncpg prepares (and by default caches, under generated names) every statement; behind a
transaction pooler the next transaction may run on another server connection, where the name
does not exist or already exists. The documented configuration is the database URL parameter
`?prepared_statement_cache_size=0` (deploy/README.md): these tests drive the real Store with it,
from several "processes" (Store instances) at once, against primary + replica + shards.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.test_cluster import cluster_cli
from wingman.events import TranscriptFragment
from wingman.settings import ShardUrls
from wingman.store.lag import LagLimits
from wingman.store.records import UserRecord, Viewer
from wingman.store.repos import Store
from wingman.store.routing import make_engine

pytestmark = [pytest.mark.postgres]

PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
POOLED = "?prepared_statement_cache_size=0"


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """Databases, PgBouncer, Redis and Kafka from `deploy/cluster up --infra-only`; the ports."""
    state = tmp_path_factory.mktemp("cluster-infra")
    try:
        cluster_cli(state, "up", "--infra-only")
        status = json.loads(cluster_cli(state, "status", "--json").stdout)
        yield {k: int(v) for k, v in status["info"]["ports"].items()}
    finally:
        subprocess.run([str(Path(__file__).resolve().parents[2] / "deploy" / "cluster"),
                        "--state-dir", str(state), "down", "--purge"], capture_output=True, timeout=120)


def pooled_urls(ports: dict[str, int]) -> dict[str, Any]:
    base = f"postgresql+asyncpg://wingman@127.0.0.1:{ports['pgbouncer']}"
    return {
        "url": f"{base}/wingman{POOLED}",
        "replica_urls": (f"{base}/wingman_replica{POOLED}",),
        "shards": {name: ShardUrls(primary=f"{base}/wingman_{name.replace('-', '_')}{POOLED}",
                                   replicas=(f"{base}/wingman_{name.replace('-', '_')}_replica{POOLED}",))
                   for name in ("shard-1", "shard-2")},
    }


def admin(ports: dict[str, int], command: str) -> list[dict[str, str]]:
    """A PgBouncer admin console command (simple query protocol: psql, not asyncpg)."""
    out = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(ports["pgbouncer"]), "-U", "postgres",
                          "-d", "pgbouncer", "-AF", "|", "-P", "footer=off", "-c", command],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    header, *rows = [line.split("|") for line in out.stdout.splitlines()]
    return [dict(zip(header, row, strict=True)) for row in rows]


def wingman_pools(ports: dict[str, int]) -> dict[str, dict[str, int]]:
    """Client and server connection counts per Wingman database."""
    out = {}
    for row in admin(ports, "SHOW POOLS"):
        if row["database"].startswith("wingman"):
            out[row["database"]] = {
                "clients": int(row["cl_active"]) + int(row["cl_waiting"]),
                "servers": sum(int(row[k]) for k in ("sv_active", "sv_idle", "sv_used",
                                                     "sv_tested", "sv_login")),
            }
    return out


@pytest.fixture
async def stores(infra: dict[str, int]) -> AsyncIterator[list[Store]]:
    direct = (f"postgresql+asyncpg://wingman@127.0.0.1:{infra['postgres-primary']}/wingman")
    migrator = Store(url=direct, shards={
        "shard-1": f"postgresql+asyncpg://wingman@127.0.0.1:{infra['postgres-primary']}"
                   "/wingman_shard_1",
        "shard-2": f"postgresql+asyncpg://wingman@127.0.0.1:{infra['postgres-shard-2']}"
                   "/wingman_shard_2"})
    try:
        await migrator.migrate()
    finally:
        await migrator.aclose()
    # three Stores = three gateway/agent processes, each with its own pool, one PgBouncer
    opened = [Store(**pooled_urls(infra)) for _ in range(3)]
    try:
        yield opened
    finally:
        for store in opened:
            await store.aclose()


def fragment(call_id: str, n: int) -> TranscriptFragment:
    return TranscriptFragment(call_id=call_id, text=f"utterance number {n}", is_final=True,
                              speaker="customer", channel=1, start=float(n), end=n + 0.9)


async def test_store_works_through_transaction_pooling_under_concurrency(
    stores: list[Store], infra: dict[str, int]
) -> None:
    config = {row["key"]: row["value"] for row in admin(infra, "SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"
    users = [await stores[0].create_user(email=f"rep{i}@example.com", name=f"Rep {i}",
                                         password_hash=None) for i in range(6)]

    async def one_call(worker: int) -> tuple[str, str]:
        store, user = stores[worker % len(stores)], users[worker % len(users)]
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title=f"call {worker}")
        for n in range(8):
            assert await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                                           fragment=fragment(call.id, n))
            assert await store.get_call(viewer=Viewer.own(user), call_id=call.id) is not None
        # the same fragment twice (the bus delivers at least once): stored once
        again = fragment(call.id, 0)
        await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                fragment=again)
        await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                fragment=again)
        segments = await store.list_segments(viewer=Viewer.own(user), call_id=call.id)
        assert len(segments) == 9
        await store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                full_transcript="...",
                                summary="done", key_moments=[], action_items=[], end_time=None)
        return user.id, call.id

    # watch PgBouncer's pools while the load runs
    peak = {"clients": 0, "servers": 0}
    loaded = asyncio.Event()

    async def watch() -> None:
        while not loaded.is_set():
            pools = await asyncio.to_thread(wingman_pools, infra)
            for key in peak:
                peak[key] = max(peak[key], sum(p[key] for p in pools.values()))
            caps = [p["servers"] for p in pools.values()]
            assert max(caps, default=0) <= cap, pools

    cap = int(config["default_pool_size"]) + int(config["reserve_pool_size"])
    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        done = await asyncio.gather(*(one_call(w) for w in range(60)))
    finally:
        loaded.set()
        await watcher
    # more client connections than PostgreSQL backends: PgBouncer multiplexed them, and no
    # database ever got more than default_pool_size + reserve_pool_size server connections
    assert peak["clients"] > peak["servers"], peak
    # every call is on its tenant's shard, complete
    for user_id, call_id in done:
        call = await stores[2].get_call(viewer=Viewer.owner(user_id, user_id), call_id=call_id)
        assert call is not None and call.end_time is not None


async def test_no_prepared_statement_outlives_its_transaction(infra: dict[str, int]) -> None:
    """Behind a transaction pooler a named prepared statement left on a server connection is
    never used again (the next transaction there belongs to someone else) but stays until the
    connection is recycled: memory that grows with traffic on every PostgreSQL backend."""
    url = pooled_urls(infra)["url"]
    engines = [make_engine(url) for _ in range(4)]

    async def traffic(engine: AsyncEngine, k: int) -> None:
        for i in range(150):
            async with engine.begin() as conn:
                await conn.execute(text(f"select {i % 17} + :x + {k}"), {"x": i})

    async def leftovers(engine: AsyncEngine) -> int:
        # held open a little so that concurrent probes land on different server connections
        async with engine.begin() as conn:
            result = await conn.execute(
                text("select count(*) from pg_prepared_statements, pg_sleep(0.05)"))
            return int(result.scalar_one())

    try:
        await asyncio.gather(*(traffic(e, k) for k, e in enumerate(engines)))
        counts = await asyncio.gather(*(leftovers(engines[i % 4]) for i in range(12)))
    finally:
        for engine in engines:
            await engine.dispose()
    assert max(counts) == 0, f"prepared statements left on server connections: {counts}"


def psql(port: int, sql: str, db: str = "postgres") -> str:
    out = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db,
                          "-Atqc", sql], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def caught_up(primary: int, replica: int) -> None:
    """Wait (at most 10 s) until the replica has replayed everything the primary wrote so far."""
    lsn = psql(primary, "select pg_current_wal_lsn()")
    psql(replica, "do $$ begin for i in 1..100 loop exit when pg_last_wal_replay_lsn() >= "
         f"'{lsn}'::pg_lsn; perform pg_sleep(0.1); end loop; end $$")


async def user_on_shard_2(store: Store, prefix: str) -> UserRecord:
    for n in range(100):
        user = await store.create_user(email=f"{prefix}-{n}@example.com", name=prefix,
                                       password_hash=None)
        if store.router.home(user.id) == "shard-2":
            return user
    raise AssertionError("no user hashed to shard-2")


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    """Poll `check` (real replication has no event to wait on)."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.1)


async def in_recovery(engine: AsyncEngine) -> bool:
    """Whether `engine` reaches a standby (through PgBouncer, as the app does)."""
    async with engine.connect() as conn:
        return bool((await conn.execute(text("select pg_is_in_recovery()"))).scalar_one())


async def test_reads_leave_a_paused_replica_and_follow_own_writes(
    infra: dict[str, int], stores: list[Store]
) -> None:
    """shard-2's standby with its WAL replay paused (real lag). Node A, whose lag limit is
    never reached, reads its own write from the primary; node B, which does not know of the
    write, leaves the standby once its check sees it more than 1 s behind; after the replay
    resumes, both read from the standby again."""
    replica = infra["postgres-shard-2-replica"]
    node_a = Store(**pooled_urls(infra), lag_limits=LagLimits(
        check_seconds=0.2, max_seconds=3600, max_bytes=1 << 40))
    node_b = Store(**pooled_urls(infra), lag_limits=LagLimits(
        check_seconds=0.2, max_seconds=1.0, max_bytes=1 << 40))
    a, b = node_a.router.shard("shard-2"), node_b.router.shard("shard-2")
    try:
        user = await user_on_shard_2(node_a, "lag")

        async def on_replica() -> bool:  # A once the standby has replayed A's writes
            return all([await a.reader(user.id) is a.replicas[0],
                        await b.reader(user.id) is b.replicas[0]])

        await until(on_replica)
        psql(replica, "select pg_wal_replay_pause()")
        paused = time.monotonic()
        try:
            call = await node_a.create_call(workspace_id=user.workspace_id, user_id=user.id,
                    title="just ended")
            await node_a.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                    full_transcript="...",
                                     summary="done")
            assert psql(replica, f"select count(*) from call_sessions where id = '{call.id}'",
                        db="wingman_shard_2") == "0"  # the standby really lacks it
            # (a) read-your-own-writes: history, stats and runs of A's tenant from the primary
            assert [c.id for c in (await node_a.list_calls(viewer=Viewer.own(user))).items] == [call.id]
            assert (await node_a.stats(viewer=Viewer.own(user))).total_calls == 1
            assert await a.reader(user.id) is a.primary
            # (b) node B: the standby serves until B's check measures it behind by over 1 s
            assert (await node_b.list_calls(viewer=Viewer.own(user))).total == 0

            async def b_sees_it() -> bool:
                return (await node_b.list_calls(viewer=Viewer.own(user))).total == 1

            await until(b_sees_it)
            assert time.monotonic() - paused > 1.0  # not before the lag was over the limit
            assert await b.reader() is b.primary and b.lag is not None
            assert b.lag.states == ["lagging"]
            assert a.lag is not None and a.lag.states == ["ok"]  # A never hit its limit
            assert await a.reader(user.id) is a.primary  # ... its own write kept it off
        finally:
            psql(replica, "select pg_wal_replay_resume()")
        # (c) replayed: both nodes read from the standby again, and it has the call
        await until(on_replica)
        for node, engines in ((node_a, a), (node_b, b)):
            served_by = await engines.reader(user.id)
            assert await in_recovery(served_by)
            assert [c.id for c in (await node.list_calls(viewer=Viewer.own(user))).items] == [call.id]
    finally:
        await node_a.aclose()
        await node_b.aclose()


async def test_replica_serves_reads_through_pgbouncer(infra: dict[str, int],
                                                      stores: list[Store]) -> None:
    # team layout: one database (the directory one, migrated above) and its streaming replica
    urls = pooled_urls(infra)
    store = Store(url=urls["url"], replica_urls=urls["replica_urls"])
    try:
        user = await store.create_user(email="team@example.com", name="Team", password_hash=None)
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title="read me from the replica")
        caught_up(infra["postgres-primary"], infra["postgres-replica"])
        before = wingman_pools(infra).get("wingman_replica", {"clients": 0})["clients"]
        page = await store.list_calls(viewer=Viewer.own(user))  # a lag-tolerant read: the replica
        assert [c.id for c in page.items] == [call.id]
        # the read went through PgBouncer's replica database (our pool keeps its connection)
        assert wingman_pools(infra)["wingman_replica"]["clients"] >= before + 1
    finally:
        await store.aclose()


async def test_each_shard_reads_from_its_own_streaming_replica(infra: dict[str, int],
                                                                stores: list[Store]) -> None:
    """shard-2 is its own server with its own hot standby: a tenant there gets its history
    from that standby, its live reads from shard-2's primary."""
    store = Store(**pooled_urls(infra), placement_ttl=0)
    try:
        user = await user_on_shard_2(store, "s2")
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title="history from the shard replica")
        assert psql(infra["postgres-shard-2-replica"], "select pg_is_in_recovery()") == "t"
        caught_up(infra["postgres-shard-2"], infra["postgres-shard-2-replica"])
        pools = wingman_pools(infra)
        before = {db: pools.get(db, {"clients": 0})["clients"]
                  for db in ("wingman_shard_2_replica", "wingman_shard_1_replica")}
        assert [c.id for c in (await store.list_calls(viewer=Viewer.own(user))).items] == [call.id]
        assert (await store.stats(viewer=Viewer.own(user))).total_calls == 1
        after = wingman_pools(infra)
        assert after["wingman_shard_2_replica"]["clients"] >= before["wingman_shard_2_replica"] + 1
        assert after.get("wingman_shard_1_replica", {"clients": 0})["clients"] == \
            before["wingman_shard_1_replica"]
        # the tenant's rows are on shard-2's servers only
        assert psql(infra["postgres-shard-2-replica"],
                    f"select count(*) from call_sessions where id = '{call.id}'",
                    db="wingman_shard_2") == "1"
    finally:
        await store.aclose()
