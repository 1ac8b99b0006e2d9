"""Writes that cannot stall or vanish, against a real PostgreSQL the test stops and starts
(a private cluster, tests/security/outage.PrivatePostgres):

- a tenant's shard stopped for 60 s: that tenant's call goes on, another tenant on another
  shard starts, streams and ends a call meanwhile, and once the shard is back every final
  and every insight the first client was shown is stored (counted);
- `wingman serve` killed with SIGKILL while its writes wait for a stopped database: the
  restarted process replays its journal and every final and insight shown is stored.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.outage import PrivatePostgres, private_postgres
from tests.security.support import (
    Client,
    User,
    call_detail,
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
    wingman_serve,
)
from wingman.demo import read_wav
from wingman.settings import DATA_DIR
from wingman.store.routing import shard_for

SHARD_DOWN_SECONDS = 60.0
LINES = [
    "thanks for taking the time today",
    "honestly this is way too expensive for our budget",
    "we are also looking at Aircall right now",
    "how does the pricing work for fifty seats",
    "send me a proposal and we can sign this quarter",
    "that sounds good let us talk next week",
]
START = {"title": "shard outage", "sample_rate": 16000, "encoding": "f32le"}


def _user_on(url: str, shard: str, shards: list[str]) -> User:
    for _ in range(64):
        user = register(url, f"t-{uuid.uuid4().hex[:8]}")
        if shard_for(user.id, shards) == shard:
            return user
    raise AssertionError(f"no tenant hashed to {shard}")


def _stored(detail: dict[str, Any]) -> tuple[set[str], set[str]]:
    return {s["id"] for s in detail["transcript"]}, {r["id"] for r in detail["recommendations"]}


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_a_shard_stopped_for_a_minute_loses_nothing_and_stalls_no_other_tenant(
    tmp_path: Path, postgres_url: str
) -> None:
    with private_postgres() as pg:
        shards = {"up": postgres_url, "down": pg.url("wingman_shard")}
        settings = quiet_settings(tmp_path, database_url=postgres_url, database_shards=shards,
                                  agents_in_process=True, placement_cache_seconds=0)
        with serve(settings, container_factory=scripted(script_of(LINES, seconds_each=1.5))) as server:
            names = sorted(shards)
            victim, bystander = _user_on(server.url, "down", names), _user_on(server.url, "up", names)
            a = await connect(server.url, victim.token)
            call_a = (await a.call("start-call", START))["call_id"]
            pg.stop()
            stopped = time.monotonic()
            await stream(a, 0.0, 13.0, pace=0.02)
            await eventually(lambda: len(a.finals) == len(LINES), what="every final shown", timeout=60)
            await eventually(lambda: len(a.of("insight")) >= 1, what="an insight shown", timeout=60)
            # the other tenant's call runs start to end while the first one's shard is away
            b = await connect(server.url, bystander.token)
            call_b = (await b.call("start-call", START))["call_id"]
            await stream(b, 0.0, 13.0, pace=0.02)
            await eventually(lambda: len(b.finals) == len(LINES), what="the bystander's finals")
            ended = await b.call("end-call", {"call_id": call_b}, timeout=60)
            assert ended.get("call_id") == call_b, ended
            assert time.monotonic() - stopped < SHARD_DOWN_SECONDS  # not held up by the down shard
            saved_b, _ = _stored(call_detail(server.url, call_b, bystander.headers))
            assert {f["id"] for f in b.finals} <= saved_b
            await asyncio.sleep(max(0.0, SHARD_DOWN_SECONDS - (time.monotonic() - stopped)))
            pg.start()
            shown_segments = {f["id"] for f in a.finals}
            shown_insights = {i["id"] for i in a.of("insight")}

            def all_stored() -> bool:
                try:
                    segments, insights = _stored(call_detail(server.url, call_a, victim.headers))
                except (AssertionError, httpx.HTTPError):
                    return False
                return shown_segments <= segments and shown_insights <= insights

            await _poll(all_stored, timeout=60, what="every shown final and insight stored")
            segments, insights = _stored(call_detail(server.url, call_a, victim.headers))
            print(f"shard down {SHARD_DOWN_SECONDS:.0f} s: {len(shown_segments)} finals and "
                  f"{len(shown_insights)} insights shown, {len(segments & shown_segments)} and "
                  f"{len(insights & shown_insights)} stored")
            for client in (a, b):
                await client.disconnect()


async def _poll(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """`eventually` for checks that do blocking I/O (off the loop)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_with_writes_queued_loses_no_final_and_no_insight(tmp_path: Path) -> None:
    """Real speech engine and agents; the database is stopped while the call streams, so the
    writes queue; the gateway is killed; the database comes back; the restarted gateway
    replays its journal."""
    frames, rate, channels = read_wav(DATA_DIR / "demo" / "sample_call.wav")
    chunk = int(rate * 0.1) * channels * 2
    with private_postgres() as pg:
        env = {"WINGMAN_AUTH": "local", "WINGMAN_SAMPLE_KNOWLEDGE": "true",
               "WINGMAN_DATABASE_URL": pg.url("wingman")}
        shown: dict[str, list[dict[str, Any]]] = {}

        async def first_life(url: str, kill: Callable[[], None], db: PrivatePostgres) -> str:
            client: Client = await connect(url)
            ack = await client.call("start-call", {"title": "kill -9", "sample_rate": rate,
                                                   "encoding": "s16le", "channels": channels})
            db.stop()  # from here on every write waits in the writer
            started = time.monotonic()
            for i, offset in enumerate(range(0, len(frames), chunk)):
                if len(client.finals) >= 6 and client.of("insight"):
                    break
                await client.emit("audio-chunk", frames[offset: offset + chunk])
                await asyncio.sleep(max(0.0, started + (i + 1) * 0.1 / 1.5 - time.monotonic()))
            kill()
            shown["finals"], shown["insights"] = list(client.finals), list(client.of("insight"))
            return str(ack["call_id"])

        with wingman_serve(tmp_path / "data", env=env) as proc:
            call_id = asyncio.run(first_life(proc.url, proc.kill9, pg))
        assert len(shown["finals"]) >= 3 and shown["insights"], "too little was shown to test anything"
        journals = list((tmp_path / "data" / "spill").glob("writes-*.jsonl"))
        assert journals and any(j.stat().st_size for j in journals), "nothing was waiting on disk"
        pg.start()
        with wingman_serve(tmp_path / "data", env=env) as proc:
            deadline = time.monotonic() + 60
            while True:
                segments, insights = _stored(call_detail(proc.url, call_id))
                lost = ({f["id"] for f in shown["finals"]} - segments,
                        {i["id"] for i in shown["insights"]} - insights)
                if not any(lost) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert not any(lost), f"shown but not stored after the restart: {lost}"
            print(f"kill -9: {len(shown['finals'])} finals and {len(shown['insights'])} insights shown, "
                  "all stored after the restart")
