"""Traces: one trace per transcript block, from the gateway over the Redis Streams bus (the trace
context crosses it serialized in the event) to each agent and back to the rep, recorded by an
in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.security.support import connect, eventually, quiet_settings, register, script_of, scripted, serve
from tests.security.support import stream as stream_audio
from wingman import tracing

pytestmark = pytest.mark.redis
LINES = ["Thanks for walking me through the platform today",
         "Honestly your price seems high, it is more than we budgeted for this year"]


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(exporter, service="wingman-test", batch=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()


async def test_one_trace_per_block_spans_the_gateway_the_bus_each_agent_and_back(
    tmp_path: Path, redis_url: str, spans: InMemorySpanExporter
) -> None:
    script = script_of(LINES, seconds_each=2.5)
    settings = quiet_settings(tmp_path, bus="redis", redis_url=redis_url, agents_in_process=True)
    with serve(settings, container_factory=scripted(script)) as server:
        user = register(server.url, "tracer")
        client = await connect(server.url, user.token)
        try:
            ack = await client.call("start-call", {"title": "traced call"})
            await stream_audio(client, 0.0, script.duration + 0.5, pace=0.005)
            await eventually(lambda: bool(client.of("insight")), timeout=90, what="an insight")
            insight = client.of("insight")[0]

            def delivered() -> list[ReadableSpan]:
                return [s for s in spans.get_finished_spans() if s.name == "deliver insight"
                        and (s.attributes or {}).get("wingman.insight_id") == insight["id"]]

            await eventually(lambda: bool(delivered()), timeout=10, what="the deliver span")
            await client.call("end-call", {}, timeout=60)
        finally:
            await client.disconnect()

    finished = spans.get_finished_spans()
    deliver = delivered()[0]
    assert deliver.context is not None
    trace_id = deliver.context.trace_id
    one_trace = {s.name: s for s in finished if s.context is not None and s.context.trace_id == trace_id}
    assert {"block", "speech", "aggregate", "bus transcript.blocks", "agent coach", "agent search",
            "agent qa", "deliver insight"} <= set(one_trace)
    root = one_trace["block"]
    assert root.parent is None and root.context is not None
    assert (root.attributes or {})["wingman.call_id"] == ack["call_id"]
    for child in ("speech", "aggregate", "bus transcript.blocks", "agent coach", "agent search", "agent qa"):
        parent = one_trace[child].parent
        assert parent is not None and parent.span_id == root.context.span_id, child
    coach = one_trace[f"agent {insight['agent']}"]
    assert deliver.parent is not None and coach.context is not None
    assert deliver.parent.span_id == coach.context.span_id
    # the hops line up in time: heard -> shown -> published -> taken by the agents -> shown
    assert one_trace["speech"].end_time <= one_trace["aggregate"].end_time <= root.end_time  # type: ignore[operator]
    assert one_trace["bus transcript.blocks"].start_time == root.end_time
    assert (one_trace["agent coach"].attributes or {})["wingman.outcome"] == "ok"

    # one trace per block: every trace has exactly one root, and every block the agents saw got one
    roots = [s for s in finished if s.name == "block"]
    assert len({s.context.trace_id for s in roots if s.context is not None}) == len(roots)
    seen = {(s.attributes or {}).get("wingman.block_id") for s in finished if s.name == "agent qa"}
    assert {(s.attributes or {}).get("wingman.block_id") for s in roots} == seen
    # ids only: no transcript or tip text in any span
    text = " ".join(str(v) for s in finished for v in (s.attributes or {}).values()).lower()
    assert "price seems high" not in text and insight["content"].lower() not in text
