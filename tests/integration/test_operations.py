"""Operations, end to end: a call through a real `wingman serve` and a real `wingman agents`
process (Redis Streams bus, PostgreSQL, the Deepgram provider against its loopback stand-in,
fed the sample call's real speech) moves the histograms and counters on both processes'
/metrics, and their JSON-lines logs carry the call's id but no word of its transcript."""

from __future__ import annotations

import asyncio
import json
import re
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.scripted_audio import Script, Segment
from tests.prometheus_support import samples
from tests.security.support import connect, eventually, wingman_process, wingman_serve
from tests.services import free_port
from wingman.settings import DATA_DIR

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
DEMO = DATA_DIR / "demo"
SECONDS = 31.0  # the first 7 utterances: a price objection among them


def demo_script() -> list[dict[str, object]]:
    data = json.loads((DEMO / "sample_call.json").read_text())
    return [u for u in (data["utterances"] if isinstance(data, dict) else data)
            if float(u["end"]) <= SECONDS]


def scrape(url: str) -> dict[str, float]:
    """Every sample of a /metrics page: 'name{k="v",...}' -> value."""
    return samples(httpx.get(url, timeout=10).text)


@contextmanager
def wingman_agents(data_dir: Path, env: dict[str, str], port: int) -> Iterator[Path]:
    log = data_dir / f"agents-{port}.log"
    with wingman_process(["agents", "--metrics-port", str(port)], data_dir=data_dir, env=env,
                         health_url=f"http://127.0.0.1:{port}/api/health", log=log):
        yield log


def word_windows(text: str, n: int = 3) -> set[str]:
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


async def test_a_call_moves_the_metrics_of_gateway_and_agents_and_logs_no_transcript(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    utterances = demo_script()
    script = Script([Segment(int(u["channel"]), float(u["start"]), float(u["end"]), str(u["text"]))
                     for u in utterances], duration=SECONDS + 1.0, channels=2)
    with wave.open(str(DEMO / "sample_call.wav"), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        frames = w.readframes(int(SECONDS * rate))
    agents_port = free_port()
    async with FakeDeepgram(script, idle_timeout=30.0, samples_carry_time=False) as dg:
        env = {
            "WINGMAN_STT": "deepgram", "WINGMAN_DEEPGRAM_URL": dg.url,
            "WINGMAN_DEEPGRAM_API_KEY": dg.api_key, "WINGMAN_BUS": "redis",
            "WINGMAN_REDIS_URL": redis_url, "WINGMAN_DATABASE_URL": postgres_url,
            "WINGMAN_AGENTS_IN_PROCESS": "false", "WINGMAN_LOG_FORMAT": "json",
            "WINGMAN_AUTH": "local", "WINGMAN_AUDIO_REALTIME_FACTOR": "20",
            "WINGMAN_SAMPLE_KNOWLEDGE": "false", "WINGMAN_DATA_DIR": str(tmp_path),
        }
        with wingman_serve(tmp_path, env=env) as gateway, \
                wingman_agents(tmp_path, env, agents_port) as agents_log:
            agents_url = f"http://127.0.0.1:{agents_port}/metrics"
            gw_before, ag_before = scrape(f"{gateway.url}/metrics"), scrape(agents_url)
            client = await connect(gateway.url)
            try:
                ack = await client.call("start-call", {"title": "metrics call", "sample_rate": rate,
                                                       "encoding": "s16le", "channels": channels})
                call_id = ack["call_id"]
                step = int(rate * 0.1) * channels * 2
                for offset in range(0, len(frames), step):
                    await client.emit("audio-chunk", frames[offset:offset + step])
                    await asyncio.sleep(0.01)
                await eventually(lambda: len(client.finals) >= len(utterances) - 1, timeout=60,
                                 what="the finals")
                await eventually(lambda: bool(client.of("insight")), timeout=90, what="an insight")
                ended = await client.call("end-call", {}, timeout=90)
                assert ended["call_id"] == call_id
                gw_during = scrape(f"{gateway.url}/metrics")
            finally:
                await client.disconnect()
            gw, ag = scrape(f"{gateway.url}/metrics"), scrape(agents_url)
        finals = client.finals
        gateway_log = gateway.log.read_text()
        agent_log = agents_log.read_text()

    def moved(after: dict[str, float], before: dict[str, float], key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    # gateway: every hop it owns
    assert moved(gw, gw_before, "wingman_finals_total") == len(finals)
    assert moved(gw, gw_before, "wingman_audio_to_final_seconds_count") == len(finals)
    assert moved(gw, gw_before, 'wingman_audio_to_client_seconds_count{event="transcript"}') == len(finals)
    assert moved(gw, gw_before, "wingman_final_to_block_seconds_count") >= 1
    assert moved(gw, gw_before, "wingman_blocks_total") >= 1
    shown = len({i["id"] for i in client.of("insight")})
    assert sum(moved(gw, gw_before, k) for k in gw if k.startswith("wingman_insights_shown_total")) == shown
    assert moved(gw, gw_before, "wingman_insight_to_client_seconds_count") == shown
    assert moved(gw, gw_before, 'wingman_audio_to_client_seconds_count{event="insight"}') == shown
    assert moved(gw, gw_before, 'wingman_bus_delivery_seconds_count{topic="insights"}') >= shown
    assert moved(gw, gw_before, "wingman_audio_to_final_seconds_sum") > 0
    assert gw_during["wingman_live_calls"] == 0 and "wingman_writer_queue_depth" in gw
    assert "wingman_event_loop_lag_seconds" in gw
    # agent worker: per agent, per block
    for agent in ("coach", "search", "qa"):
        assert moved(ag, ag_before, f'wingman_agent_seconds_count{{agent="{agent}",outcome="ok"}}') >= 1
    assert moved(ag, ag_before, 'wingman_bus_delivery_seconds_count{topic="transcript.blocks"}') >= 1
    made = sum(moved(ag, ag_before, k) for k in ag if k.startswith("wingman_block_to_insight_seconds_count"))
    assert made >= shown
    assert "wingman_event_loop_lag_seconds" in ag

    # logs: JSON lines with the call's id, and no transcript in any line
    lines = [json.loads(line) for log in (gateway_log, agent_log)
             for line in log.splitlines() if line.startswith("{")]
    assert len(lines) >= 5 and all("level" in line and "message" in line for line in lines)
    assert any(line.get("call_id") == call_id and line.get("role") == "gateway" for line in lines)
    assert {line.get("role") for line in lines} == {"gateway", "agents"}
    logged = (gateway_log + agent_log).lower()
    heard = [f["text"] for f in finals] + [i["content"] for i in client.of("insight")]
    leaked = sorted(w for text in heard for w in word_windows(text) if w in logged)
    assert not leaked, f"transcript or tip text in the logs: {leaked[:5]}"
