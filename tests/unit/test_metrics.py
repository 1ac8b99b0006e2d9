"""wingman/metrics.py: each hop moves its histogram by the time it took, the stamps survive the
bus codec, gauges are read at scrape time, and WINGMAN_METRICS=false turns it all off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.prometheus_support import value
from wingman import metrics
from wingman.bus.codec import decode, encode
from wingman.events import AgentRun, Insight, TranscriptBlock, TranscriptFragment
from wingman.metrics_http import MetricsServer


@pytest.fixture(autouse=True)
def metrics_on() -> Iterator[None]:
    metrics.configure(enabled=True)
    yield
    metrics.configure(enabled=True)


def fragment(fid: str, *, heard_ago: float) -> TranscriptFragment:
    return TranscriptFragment(id=fid, call_id="c1", text="words", is_final=True, start=0.0, end=1.0,
                              audio_end_at=time.monotonic() - heard_ago)


def block(*segment_ids: str, heard_ago: float = 0.3) -> TranscriptBlock:
    return TranscriptBlock(call_id="c1", user_id="u1", seq=1, text="words", speaker="customer",
                           start=0.0, end=1.0, segment_ids=segment_ids,
                           audio_end_at=time.monotonic() - heard_ago)


def insight_of(b: TranscriptBlock) -> Insight:
    return Insight(call_id=b.call_id, user_id=b.user_id, block_id=b.id, agent="coach",
                   category="Objection Handling", kind="objection.price", content="tip")


def test_a_final_observes_audio_to_final_and_audio_to_client() -> None:
    count = value("wingman_audio_to_final_seconds_count")
    total = value("wingman_audio_to_final_seconds_sum")
    client = value("wingman_audio_to_client_seconds_count", event="transcript")
    finals = value("wingman_finals_total")
    metrics.final_shown(fragment("f-a", heard_ago=0.25))
    assert value("wingman_audio_to_final_seconds_count") == count + 1
    assert value("wingman_audio_to_final_seconds_sum") - total >= 0.25  # heard 0.25 s ago, or more
    assert value("wingman_audio_to_client_seconds_count", event="transcript") == client + 1
    assert value("wingman_finals_total") == finals + 1
    # a final forced out by the end of the call is counted, not timed
    metrics.final_shown(fragment("f-z", heard_ago=3.0), live=False)
    assert value("wingman_finals_total") == finals + 2
    assert value("wingman_audio_to_final_seconds_count") == count + 1
    finals += 1
    # an interim is not a final
    metrics.final_shown(fragment("f-b", heard_ago=0.1).model_copy(update={"is_final": False}))
    assert value("wingman_finals_total") == finals + 1


def test_the_first_received_ack_of_a_final_is_timed_from_its_utterance_end_and_repeats_are_not() -> None:
    acked = "wingman_acked_audio_to_client_seconds"
    count, total = value(f"{acked}_count", event="transcript"), value(f"{acked}_sum", event="transcript")
    unknown = value("wingman_client_acks_total", event="transcript", outcome="unknown")
    metrics.final_shown(fragment("f-ack", heard_ago=0.4))
    assert value(f"{acked}_count", event="transcript") == count  # emitted, not yet acked
    assert metrics.client_acked("transcript", "f-ack") is True
    assert value(f"{acked}_count", event="transcript") == count + 1
    assert value(f"{acked}_sum", event="transcript") - total >= 0.4  # heard 0.4 s before the ack, or more
    assert metrics.client_acked("transcript", "f-ack") is False  # a second socket, or a resend
    assert metrics.client_acked("transcript", "never-shown") is False
    assert value(f"{acked}_count", event="transcript") == count + 1
    assert value("wingman_client_acks_total", event="transcript", outcome="unknown") == unknown + 2
    # a final forced out by the end of the call is not timed, so its ack is not either
    metrics.final_shown(fragment("f-end", heard_ago=2.0), live=False)
    assert metrics.client_acked("transcript", "f-end") is False


def test_an_insight_ack_is_timed_by_the_node_that_heard_its_block_whoever_emitted_it() -> None:
    acked = "wingman_acked_audio_to_client_seconds"
    count, total = value(f"{acked}_count", event="insight"), value(f"{acked}_sum", event="insight")
    metrics.final_shown(fragment("seg-ack", heard_ago=0.5))
    b = metrics.stamp_block(block("seg-ack", heard_ago=0.5))  # this node heard the block end
    one, two = (metrics.stamp_insight(insight_of(b), b) for _ in range(2))  # two agents' tips
    # neither is shown here: another gateway took them off the bus; their acks come here, with
    # the block end the insight event carried (its audio_end) and the call of the acking socket
    # the client's own delay in acking is taken off (here: the whole wait, so 0 is observed)
    assert metrics.client_acked("insight", one.id, call_id="c1", audio_end=b.end, held=120.0) is True
    assert value(f"{acked}_count", event="insight") == count + 1
    assert value(f"{acked}_sum", event="insight") == total
    assert metrics.client_acked("insight", two.id, call_id="c1", audio_end=b.end) is True
    assert value(f"{acked}_count", event="insight") == count + 2
    assert value(f"{acked}_sum", event="insight") - total >= 0.5  # heard 0.5 s before the ack, or more
    unknown = value("wingman_client_acks_total", event="insight", outcome="unknown")
    assert metrics.client_acked("insight", one.id, call_id="c1", audio_end=b.end) is False  # a repeat
    assert metrics.client_acked("insight", "i-x", call_id="c2", audio_end=b.end) is False  # another call
    assert metrics.client_acked("insight", "i-y", call_id="c1", audio_end=b.end + 1) is False  # no such block
    assert metrics.client_acked("insight", "i-z", call_id="c1") is False  # an older client: no audio_end
    assert metrics.client_acked("transcript", two.id) is False  # acks name the event kind
    assert value(f"{acked}_count", event="insight") == count + 2
    assert value("wingman_client_acks_total", event="insight", outcome="unknown") == unknown + 4


def test_a_block_and_its_insight_travel_with_their_stamps_through_the_codec() -> None:
    metrics.final_shown(fragment("f-c", heard_ago=0.4))
    time.sleep(0.02)
    to_block = value("wingman_final_to_block_seconds_count")
    stamped = metrics.stamp_block(block("f-c", heard_ago=0.4))
    metrics.block_published(stamped)
    assert value("wingman_final_to_block_seconds_count") == to_block + 1
    hops = stamped.hops
    assert hops is not None and hops.block_sent is not None and hops.audio_end is not None
    assert hops.final_shown is not None and hops.audio_end <= hops.final_shown <= hops.block_sent
    assert hops.block_sent - hops.audio_end >= 0.4 - 0.001  # the block's audio ended 0.4 s before

    on_agent = decode(encode(stamped))  # the agent worker's copy, off the bus
    assert isinstance(on_agent, TranscriptBlock) and on_agent.hops == hops
    delivered = value("wingman_bus_delivery_seconds_count", topic="transcript.blocks")
    metrics.block_received(on_agent)
    assert value("wingman_bus_delivery_seconds_count", topic="transcript.blocks") == delivered + 1

    to_insight = value("wingman_block_to_insight_seconds_count", agent="coach")
    insight = metrics.stamp_insight(insight_of(on_agent), on_agent)
    assert value("wingman_block_to_insight_seconds_count", agent="coach") == to_insight + 1
    assert insight.hops is not None and insight.hops.audio_end == hops.audio_end

    on_gateway = decode(encode(insight))
    assert isinstance(on_gateway, Insight)
    shown = value("wingman_insights_shown_total", agent="coach")
    audio_total = value("wingman_audio_to_client_seconds_sum", event="insight")
    metrics.insight_received(on_gateway)
    metrics.insight_shown(on_gateway)
    assert value("wingman_insights_shown_total", agent="coach") == shown + 1
    assert value("wingman_insight_to_client_seconds_count") >= 1
    waited = value("wingman_audio_to_client_seconds_sum", event="insight") - audio_total
    assert waited >= hops.block_sent - hops.audio_end  # heard before the block was stamped


def test_agent_runs_are_counted_by_outcome_and_held_insights_by_reason() -> None:
    b = block()
    ok = value("wingman_agent_seconds_count", agent="qa", outcome="ok")
    late = value("wingman_agent_seconds_count", agent="qa", outcome="timeout")
    run = AgentRun(call_id="c1", user_id="u1", block_id=b.id, agent="qa", input="", rule_or_prompt="",
                   output="", provider="local", latency_ms=120.0)
    metrics.agent_ran(b, run)
    metrics.agent_ran(b, run.model_copy(update={"error": "deadline of 1.5s exceeded"}))
    assert value("wingman_agent_seconds_count", agent="qa", outcome="ok") == ok + 1
    assert value("wingman_agent_seconds_count", agent="qa", outcome="timeout") == late + 1
    held = value("wingman_insights_held_total", reason="rate_limited")
    metrics.insight_held("rate_limited")
    assert value("wingman_insights_held_total", reason="rate_limited") == held + 1


def test_gauges_are_read_at_scrape_time_until_unwatched() -> None:
    state = {"calls": 3, "pending": 7}
    unwatch = metrics.watch_gateway(load=lambda: state["calls"], writer_pending=lambda: state["pending"])
    try:
        families = {f.name: f for f in text_string_to_metric_families(metrics.exposition().decode())}
        assert families["wingman_live_calls"].samples[0].value == 3
        assert families["wingman_writer_queue_depth"].samples[0].value == 7
        state["calls"] = 5
        metrics.exposition()
        assert value("wingman_live_calls") == 5
    finally:
        unwatch()
    state["calls"] = 9
    metrics.exposition()
    assert value("wingman_live_calls") == 5


def test_off_means_no_observation_and_no_stamps() -> None:
    metrics.configure(enabled=False)
    finals = value("wingman_finals_total")
    metrics.final_shown(fragment("f-d", heard_ago=0.1))
    b = block("f-d")
    assert metrics.stamp_block(b) is b  # not even a copy
    metrics.writer_retry()
    metrics.provider_error("stt", "deepgram", "timeout")
    assert value("wingman_finals_total") == finals
    assert metrics.http_endpoint().status_code == 404


def test_counters_of_retries_errors_and_fallbacks() -> None:
    from wingman.health import ProviderHealth

    health = ProviderHealth()
    health.set_provider("stt", "deepgram")
    errors = value("wingman_provider_errors_total", part="stt", provider="deepgram", code="internal")
    fallbacks = value("wingman_provider_fallbacks_total", part="stt", from_provider="deepgram",
                      to_provider="local")
    health.record_failover("stt", from_provider="deepgram", to_provider="local", error=TimeoutError())
    assert value("wingman_provider_fallbacks_total", part="stt", from_provider="deepgram",
                 to_provider="local") == fallbacks + 1
    assert value("wingman_provider_errors_total", part="stt", provider="deepgram",
                 code="internal") == errors + 1
    retries = value("wingman_writer_retries_total")
    metrics.writer_retry()
    assert value("wingman_writer_retries_total") == retries + 1


async def test_bus_retries_are_counted() -> None:
    from wingman.bus.base import retry_transient

    before = value("wingman_bus_publish_retries_total", op="unit publish")
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("down")
        return "ok"

    assert await retry_transient(flaky, what="unit publish", is_transient=lambda e: True,
                                 base_delay=0.001) == "ok"
    assert value("wingman_bus_publish_retries_total", op="unit publish") == before + 2


async def _get(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_the_agent_endpoint_serves_metrics_and_health() -> None:
    server = MetricsServer(host="127.0.0.1", port=0, health=lambda: {"status": "ok", "role": "agents"})
    await server.start()
    try:
        metrics.final_shown(fragment("f-e", heard_ago=0.1))
        reply = await _get(server.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, body = reply.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200") and b"text/plain" in head
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        assert {"wingman_finals", "wingman_audio_to_final_seconds", "wingman_event_loop_lag_seconds"} <= names
        health = await _get(server.port, b"GET /api/health HTTP/1.1\r\n\r\n")
        assert health.startswith(b"HTTP/1.1 200") and b'"role": "agents"' in health
        assert (await _get(server.port, b"GET /nope HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert (await _get(server.port, b"POST /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 405")
        assert (await _get(server.port, b"garbage\r\n\r\n")).startswith(b"HTTP/1.1 400")
        metrics.configure(enabled=False)
        assert (await _get(server.port, b"GET /metrics HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
    finally:
        await server.aclose()
