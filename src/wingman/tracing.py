"""OpenTelemetry traces (optional, off by default): one trace per transcript block.

    block            the utterance end heard -> block published (gateway), with children
      speech         utterance end heard -> final shown
      aggregate      final shown -> block published
      bus transcript.blocks   published -> taken by an agent worker
      agent coach | search | qa   one agent's run on the block (agent worker)
        deliver insight           insight published -> emitted to the rep (gateway)

The trace context travels in the bus events (`Hops.trace`, W3C traceparent), so the spans of
the gateway and of the agent workers join one trace, and a slow tip shows which hop was slow.
Spans are made after the fact from the wall-clock stamps the metrics take anyway
(wingman/metrics.py), so tracing adds no code around the hops and costs nothing when off.
Spans carry ids only (call, block, seq, agent, outcome), never transcript text.
Enable with WINGMAN_TRACING=true and WINGMAN_OTLP_ENDPOINT (OTLP over HTTP, e.g.
http://collector:4318/v1/traces); tests install an in-memory exporter with `install`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from wingman import bounded
from wingman.events import Hops, Insight, TranscriptBlock

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_propagator = TraceContextTextMapPropagator()
_tracer: trace.Tracer | None = None
_provider: TracerProvider | None = None
# (block id, agent) -> the agent span's context: its insights' deliver spans hang below it
_agent_spans: OrderedDict[tuple[str, str], Context] = OrderedDict()
MAX_AGENT_SPANS = 10_000


def install(exporter: SpanExporter, *, service: str, batch: bool = True) -> TracerProvider:
    """Trace to `exporter` from now on (batch=False exports each span as it ends: tests)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    global _tracer, _provider
    shutdown()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    _provider, _tracer = provider, provider.get_tracer("wingman")
    return provider


def configure(*, enabled: bool, endpoint: str | None, service: str) -> None:
    """WINGMAN_TRACING / WINGMAN_OTLP_ENDPOINT for this process."""
    if not enabled:
        shutdown()
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    install(OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter(), service=service)


def shutdown() -> None:
    """Flush and stop tracing (spans not yet exported are sent first)."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None
    _agent_spans.clear()


def enabled() -> bool:
    return _tracer is not None


def _ns(epoch_seconds: float) -> int:
    return int(epoch_seconds * 1e9)


def _span(name: str, parent: Context | None, start: float, end: float, attrs: dict[str, Any]) -> Context:
    assert _tracer is not None
    span = _tracer.start_span(name, context=parent, start_time=_ns(start), attributes=attrs)
    span.end(end_time=_ns(max(start, end)))
    return trace.set_span_in_context(span)


def _parent(hops: Hops | None) -> Context | None:
    return _propagator.extract(hops.trace) if hops is not None and hops.trace else None


def _carrier(ctx: Context) -> dict[str, str]:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=ctx)
    return carrier


def _ids(block: TranscriptBlock) -> dict[str, Any]:
    return {"wingman.call_id": block.call_id, "wingman.block_id": block.id, "wingman.seq": block.seq}


def block_sent(block: TranscriptBlock, hops: Hops) -> Hops:
    """The gateway publishes `block`: its root span and the speech and aggregate hops."""
    if _tracer is None or hops.block_sent is None:
        return hops
    sent = hops.block_sent
    begin = hops.audio_end if hops.audio_end is not None else sent
    assert _tracer is not None
    root = _tracer.start_span("block", start_time=_ns(begin), attributes=_ids(block))
    ctx = trace.set_span_in_context(root)
    if hops.final_shown is not None:
        _span("speech", ctx, begin, hops.final_shown, {})
        _span("aggregate", ctx, hops.final_shown, sent, {})
    root.end(end_time=_ns(max(begin, sent)))
    return hops.model_copy(update={"trace": _carrier(ctx)})


def block_received(block: TranscriptBlock) -> None:
    """An agent worker took `block` off the bus."""
    hops = block.hops
    if _tracer is None or hops is None or hops.block_sent is None:
        return
    _span("bus transcript.blocks", _parent(hops), hops.block_sent, time.time(), _ids(block))


def agent_ran(block: TranscriptBlock, agent: str, *, seconds: float, outcome: str) -> None:
    """One agent finished with `block`."""
    if _tracer is None or block.hops is None:
        return
    now = time.time()
    attrs = {**_ids(block), "wingman.agent": agent, "wingman.outcome": outcome}
    ctx = _span(f"agent {agent}", _parent(block.hops), now - seconds, now, attrs)
    bounded.put(_agent_spans, (block.id, agent), ctx, limit=MAX_AGENT_SPANS)


def insight_sent(block: TranscriptBlock, insight: Insight, hops: Hops) -> Hops:
    """An agent publishes `insight`: it carries the agent span's context."""
    if _tracer is None:
        return hops
    ctx = _agent_spans.get((block.id, insight.agent)) or _parent(block.hops)
    return hops.model_copy(update={"trace": _carrier(ctx)}) if ctx is not None else hops


def insight_shown(insight: Insight) -> None:
    """The gateway emitted `insight` to its call."""
    hops = insight.hops
    if _tracer is None or hops is None or hops.insight_sent is None:
        return
    attrs = {"wingman.call_id": insight.call_id, "wingman.insight_id": insight.id,
             "wingman.agent": insight.agent, "wingman.kind": insight.kind}
    _span("deliver insight", _parent(hops), hops.insight_sent, time.time(), attrs)
