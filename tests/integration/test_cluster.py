"""The org-size stack from `deploy/cluster up`: calls through nginx, a gateway killed mid-call,
and the streaming replica.

One cluster per module (nginx, 2 gateways, 1 agent worker, tansu, Redis, PostgreSQL primary +
replica + shard, PgBouncer), local speech: one short call at a time is what 2 cores carry.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import pytest
import socketio
import yarl

from bench.load import Caller, read_wav
from wingman.demo import run_demo
from wingman.settings import DATA_DIR

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.kafka, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "cluster"
SAMPLE = DATA_DIR / "demo" / "sample_call.wav"
PSQL = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def cluster_cli(state: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run deploy/cluster against `state`; the whole output goes into the failure message."""
    result = subprocess.run([str(CLUSTER), "--state-dir", str(state), *args],
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0 and args[0] != "status":
        raise AssertionError(f"deploy/cluster {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@dataclass
class RunningCluster:
    state: Path
    front: str
    up_output: str

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(cluster_cli(self.state, "status", "--json").stdout)
        return data

    def port(self, role: str) -> int:
        return int(self.status()["info"]["ports"][role])

    def psql(self, role: str, sql: str, db: str = "postgres") -> str:
        out = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(self.port(role)), "-U", "postgres",
                              "-d", db, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    state = tmp_path_factory.mktemp("cluster")
    try:
        up = cluster_cli(state, "up", "--gateways", "2", "--agents", "1")
        front = up.stdout.strip().splitlines()[-1]
        assert front.startswith("http://127.0.0.1:"), up.stdout
        yield RunningCluster(state=state, front=front, up_output=up.stdout)
    finally:
        down = subprocess.run([str(CLUSTER), "--state-dir", str(state), "down", "--purge"],
                              capture_output=True, text=True, timeout=180)
        print(down.stdout, down.stderr)


def short_wav(tmp_path: Path, seconds: float) -> Path:
    """The first `seconds` of the sample call (stereo: rep, customer)."""
    frames, rate, channels = read_wav(SAMPLE)
    out = tmp_path / f"sample_{seconds:.0f}s.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames[: int(seconds * rate) * channels * 2])
    return out


def test_status_lists_every_role_alive(cluster: RunningCluster) -> None:
    out = cluster_cli(cluster.state, "status")
    assert out.returncode == 0, out.stdout
    roles = {line.split()[0]: line for line in out.stdout.splitlines()}
    for role in ("nginx", "gateway-1", "gateway-2", "agent-1", "redis", "kafka",
                 "postgres-primary", "postgres-replica", "postgres-shard-2",
                 "postgres-shard-2-replica", "pgbouncer"):
        assert role in roles and " alive" in roles[role], out.stdout
    assert cluster.up_output.strip().splitlines()[-1] == cluster.front
    health = httpx.get(f"{cluster.front}/api/health", timeout=10)
    assert health.status_code == 200 and health.json()["database"] is True


async def test_browser_origin_checks_hold_through_nginx(cluster: RunningCluster) -> None:
    # nginx passes the client's Host (with its port), so the gateways' same-origin check sees
    # what a browser on the front URL sends, and still refuses other sites
    async def connects(origin: str) -> bool:
        sio = socketio.AsyncClient(reconnection=False)
        try:
            await sio.connect(cluster.front, headers={"Origin": origin}, transports=["websocket"],
                              wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return False
        await sio.disconnect()
        return True

    assert await connects(cluster.front)
    assert not await connects("http://evil.example")


async def test_long_polling_sessions_stick_to_one_gateway(cluster: RunningCluster) -> None:
    """Browser-like clients on HTTP long-polling (several requests per session, each of which
    must reach the node holding the engine.io sid) with nginx's sticky cookie: every session
    works, stays on one gateway, and the sessions spread over both gateways."""
    # fixed cookies: nginx's hash spreads these over both gateways every run (random ones
    # could all land on one); every session is the one local user, whose sockets are capped
    # (max_sockets_per_user, 10), so at most 5 run at once
    cookies = [f"polling-session-{n}" for n in range(12)]
    at_once = asyncio.Semaphore(5)

    async def session(cookie: str) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: cookies for an IP address host
        jar.update_cookies({"wingman_sticky": cookie}, yarl.URL(cluster.front))
        async with at_once, aiohttp.ClientSession(cookie_jar=jar) as http:
            sio = socketio.AsyncClient(reconnection=False, http_session=http)
            await sio.connect(cluster.front, transports=["polling"], wait_timeout=10)
            for _ in range(3):  # each ack is another round of polling requests
                ack = await sio.call("no-such-event", {}, timeout=10)
                assert ack["error"]["code"] == "unknown_event"
            await sio.disconnect()

    await asyncio.gather(*(session(c) for c in cookies))
    access = (cluster.state / "logs" / "nginx-access.log").read_text()
    upstreams: dict[str, set[str]] = {c: set() for c in cookies}
    for line in access.splitlines():
        # the key is the line's last field; matched whole ("polling-session-1" is a prefix of
        # "polling-session-10"); a retried request logs "up=a, b" and so counts both nodes
        key = line.rsplit(" sticky=", 1)[-1].strip()
        if key in upstreams and "/socket.io/" in line:
            addrs = line.split(" up=")[1].split(" rt=")[0]
            upstreams[key].update(a.strip() for a in addrs.split(","))
    assert all(len(u) == 1 for u in upstreams.values()), upstreams
    assert len(set().union(*upstreams.values())) == 2, upstreams


async def test_call_through_nginx_gets_transcript_and_insights(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    # utterances 1-6: greeting, the team size, Aircall (competitor), price (objection)
    result = await run_demo(url=cluster.front, audio=short_wav(tmp_path, 32.0), speed=1.0,
                            title="cluster: call through nginx", tail_seconds=4.0)
    texts = " ".join(f["text"] for f in result.finals).lower()
    assert len(result.finals) >= 4, texts
    assert "aircall" in texts or "price" in texts, texts
    assert result.insights, f"no insight for: {texts}"
    assert result.ended.get("call_id") == result.call_id
    assert not result.of("error"), [e.data for e in result.of("error")]
    async with httpx.AsyncClient(base_url=cluster.front, timeout=30) as client:
        detail = (await client.get(f"/api/calls/{result.call_id}")).json()
    assert {s["id"] for s in detail["transcript"]} >= {f["id"] for f in result.finals}
    assert detail["end_time"] is not None
    # the call's gateway relays its emits through Redis to the other one, which times them
    relayed = 0.0
    for role, proc in cluster.status()["procs"].items():
        if role.startswith("gateway-"):
            async with httpx.AsyncClient(timeout=10) as client:
                page = (await client.get(f"http://127.0.0.1:{proc['port']}/metrics")).text
            found = re.search(r"^wingman_socketio_fanout_seconds_count (\S+)$", page, re.M)
            assert found, role
            relayed += float(found.group(1))
    assert relayed >= len(result.finals)


def gateway_logs(status: dict[str, Any]) -> dict[str, Path]:
    return {role: Path(p["log"]) for role, p in status["procs"].items()
            if role.startswith("gateway-")}


def count_in_logs(logs: dict[str, Path], needle: str) -> dict[str, int]:
    return {role: log.read_text(errors="replace").count(needle) for role, log in logs.items()}


async def test_gateway_killed_mid_call_client_resumes_on_another_node(
    cluster: RunningCluster,
) -> None:
    status = cluster.status()
    logs = gateway_logs(status)
    frames, rate, channels = read_wav(SAMPLE)
    caller = Caller(url=cluster.front, frames=frames, rate=rate, channels=channels,
                    title="cluster: failover", cookie=uuid.uuid4().hex)
    started_before = count_in_logs(logs, "call started")
    resumed_before = count_in_logs(logs, "call resumed")
    kill_at = caller.reached(17.0)  # after utterance 3, in the middle of utterance 4
    call = asyncio.get_running_loop().create_task(caller.run(seconds=36.0, tail=4.0))
    await asyncio.wait_for(kill_at.wait(), 60)
    started = await asyncio.to_thread(count_in_logs, logs, "call started")
    serving = [role for role, n in started.items() if n > started_before[role]]
    assert len(serving) == 1, f"call started on {serving}"
    victim = serving[0]
    finals_before = dict(caller.finals())
    assert finals_before, "no final transcript before the kill"
    pid = int(status["procs"][victim]["pid"])
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(call, 120)

    assert caller.disconnects >= 1 and caller.resumes >= 1, caller.errors
    assert not [e for e in caller.errors if "resume" in e], caller.errors
    resumed = await asyncio.to_thread(count_in_logs, logs, "call resumed")
    assert [role for role, n in resumed.items() if n > resumed_before[role]] == \
        [role for role in logs if role != victim]
    # the transcript continues after the kill ...
    after = [f for fid, f in caller.finals().items() if fid not in finals_before]
    assert after, "no transcript after the resume"
    assert caller.ended.get("call_id") == caller.call_id
    # ... and nothing finalized before it is lost
    async with httpx.AsyncClient(base_url=cluster.front, timeout=30) as client:
        detail = (await client.get(f"/api/calls/{caller.call_id}")).json()
    saved = {s["id"] for s in detail["transcript"]}
    assert set(finals_before) <= saved, set(finals_before) - saved
    assert {f.data["id"] for f in after} <= saved
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    # bring the killed node back for whatever runs next: `up` restarts only what is down
    await asyncio.to_thread(cluster_cli, cluster.state, "up", "--gateways", "2", "--agents", "1")
    assert cluster.status()["procs"][victim]["alive"]


def test_replica_streams_the_primarys_writes(cluster: RunningCluster) -> None:
    rows = cluster.psql("postgres-primary",
                        "select application_name, state from pg_stat_replication")
    assert "|streaming" in rows, rows
    assert cluster.psql("postgres-replica", "select pg_is_in_recovery()") == "t"
    # a write on the primary shows up on the replica
    marker = uuid.uuid4().hex
    cluster.psql("postgres-primary",
                 "create table if not exists replication_probe (marker text); "
                 f"insert into replication_probe values ('{marker}')")
    lsn = cluster.psql("postgres-primary", "select pg_current_wal_lsn()")
    cluster.psql("postgres-replica",
                 "do $$ begin for i in 1..100 loop exit when pg_last_wal_replay_lsn() >= "
                 f"'{lsn}'::pg_lsn; perform pg_sleep(0.1); end loop; end $$")
    assert cluster.psql("postgres-replica",
                        f"select count(*) from replication_probe where marker = '{marker}'") == "1"
    # and the app's own data is there too: the directory's users, the calls of shard-1
    assert cluster.psql("postgres-replica", "select count(*) from users", db="wingman") == \
        cluster.psql("postgres-primary", "select count(*) from users", db="wingman")
    assert cluster.psql("postgres-replica", "select count(*) from call_sessions",
                        db="wingman_shard_1") == \
        cluster.psql("postgres-primary", "select count(*) from call_sessions",
                     db="wingman_shard_1")
