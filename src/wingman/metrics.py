"""Prometheus metrics of every Wingman process: one call per hop, everything else here.

One endpoint per process: a gateway serves `GET /metrics` on its own port, a `wingman agents`
process on `WINGMAN_METRICS_PORT` (realtime/../metrics_server.py). Processes never share a port
(`wingman serve` runs one uvicorn worker; more capacity is more processes), so the default
registry of each process is all there is: no multiprocess mode, and every series a scrape sees
is that process's own. Prometheus adds the `instance` label; sum over it for the cluster.

The hops of one utterance (names are the metric names without `wingman_` and `_seconds`):

    audio_to_final    utterance end heard -> final shown (gateway)
    final_to_block    final shown -> its block published to the bus (gateway)
    block_to_insight  block published -> insight published, per agent (agent worker)
    insight_to_client insight published -> emitted to the call's room (gateway)
    audio_to_client   utterance end -> transcript / insight emitted (gateway): what the rep waits
    acked_audio_to_client  utterance end -> the client's `received` ack of that final / insight
                      arrived, less the client's own delay in acking (`held`), on the clock of
                      the gateway streaming the call (insights by the block end they carry,
                      whichever gateway emitted them): adds the down leg and the ack's up leg
                      (standing in for the audio's up leg)

"Heard" is when the audio chunk holding the utterance's end arrived at the gateway (its socket
handler handed it to the call's pipeline: pipeline/call.py), so the wait in front of the speech
engine (the intake queue, conversion, relays) is counted; the engine's own stamp (when it took
that audio) stands in only for a chunk the pipeline no longer knows.

What clients measured, reported by them (`latency-report`, realtime/gateway.py), beside these:

    client_transcript client handed the chunk holding a final's end to its socket -> got the final
    client_insight    client handed the chunk holding the block's end to its socket -> got the tip

Those are the client's figures (its own monotonic clock at both ends, so no clock sync), and
include what no server histogram sees: the socket legs, the client's own send buffer and event
loop. They are only as honest as the clients sending them (bounded and rate-limited per socket:
realtime/limits.py); the histograms above are what the server measured.

Cross-process hops use wall-clock stamps carried in the events (`events.Hops`), so they hold
across hosts with synchronized clocks (NTP); same-process hops use the monotonic clock.
With `WINGMAN_METRICS=false` every function here returns at once and /metrics answers 404:
that is how the cost of the instrumentation is measured (bench/metrics_cost.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.responses import PlainTextResponse, Response

from wingman import bounded, tracing
from wingman.events import AgentRun, Hops, Insight, TranscriptBlock, TranscriptFragment

# fine steps where the product lives (tens to hundreds of ms), so quantiles interpolated from
# the buckets stay within a few percent of the true ones; above 2 s (a saturated node) at most
# ~25% apart, so an overload's p95 still reads within ~10% (10 -> 20 s alone read +15%)
LATENCY_BUCKETS = (
    0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.125, 0.15,
    0.175, 0.2, 0.225, 0.25, 0.275, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25,
    1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.5, 15.0, 17.5,
    20.0, 25.0, 30.0, 40.0, 60.0,
)
CONTENT_TYPE = CONTENT_TYPE_LATEST

AUDIO_TO_FINAL = Histogram(
    "wingman_audio_to_final_seconds", "Utterance end heard (its audio chunk arrived) -> final shown",
    buckets=LATENCY_BUCKETS)
FINAL_TO_BLOCK = Histogram(
    "wingman_final_to_block_seconds", "Final shown -> its transcript block published to the bus",
    buckets=LATENCY_BUCKETS)
BLOCK_TO_INSIGHT = Histogram(
    "wingman_block_to_insight_seconds", "Block published by the gateway -> insight published by an agent",
    ["agent"], buckets=LATENCY_BUCKETS)
INSIGHT_TO_CLIENT = Histogram(
    "wingman_insight_to_client_seconds", "Insight published by an agent -> emitted to the call's clients",
    buckets=LATENCY_BUCKETS)
AUDIO_TO_CLIENT = Histogram(
    "wingman_audio_to_client_seconds",
    "Utterance end heard (its audio chunk arrived) -> transcript final or insight emitted",
    ["event"], buckets=LATENCY_BUCKETS)
AGENT_SECONDS = Histogram(
    "wingman_agent_seconds", "One agent's run on one block", ["agent", "outcome"], buckets=LATENCY_BUCKETS)
DECODE_SECONDS = Histogram(
    "wingman_decode_seconds", "One speech decode (local engine) of an interim or final",
    ["kind"], buckets=LATENCY_BUCKETS)
SOCKETIO_FANOUT = Histogram(
    "wingman_socketio_fanout_seconds",
    "An emit relayed through Redis: published -> handled by another gateway",
    buckets=LATENCY_BUCKETS)
BUS_DELIVERY = Histogram(
    "wingman_bus_delivery_seconds", "Published -> taken off the bus by a consumer", ["topic"],
    buckets=LATENCY_BUCKETS)
CLIENT_TRANSCRIPT = Histogram(
    "wingman_client_transcript_seconds",
    "Client-measured: chunk holding a final's end handed to the socket -> final received",
    ["client"], buckets=LATENCY_BUCKETS)
CLIENT_INSIGHT = Histogram(
    "wingman_client_insight_seconds",
    "Client-measured: chunk holding the block's end handed to the socket -> insight received",
    ["client"], buckets=LATENCY_BUCKETS)
ACKED_AUDIO_TO_CLIENT = Histogram(
    "wingman_acked_audio_to_client_seconds",
    "Server clock: utterance end heard (its audio chunk arrived) -> the client's `received` "
    "ack of the final or insight arrived, less the client's own delay in acking "
    "(server work + down leg + the ack's up leg)",
    ["event"], buckets=LATENCY_BUCKETS)
CLIENT_ACKS = Counter(
    "wingman_client_acks_total", "`received` acks, by event and outcome (timed, unknown)",
    ["event", "outcome"])
CLIENT_REPORTS = Counter(
    "wingman_client_latency_reports_total", "latency-report events, by outcome", ["outcome"])

FINALS = Counter("wingman_finals_total", "Final transcript segments shown")
BLOCKS = Counter("wingman_blocks_total", "Transcript blocks published to the agents")
INSIGHTS_SHOWN = Counter("wingman_insights_shown_total", "Insights emitted to a call", ["agent"])
INSIGHTS_HELD = Counter(
    "wingman_insights_held_total", "Insights an agent produced that the gate held back", ["reason"])
PROVIDER_ERRORS = Counter(
    "wingman_provider_errors_total", "Provider failures", ["part", "provider", "code"])
PROVIDER_FALLBACKS = Counter(
    "wingman_provider_fallbacks_total", "A provider failed and another took over",
    ["part", "from_provider", "to_provider"])
BUS_RETRIES = Counter(
    "wingman_bus_publish_retries_total", "Bus operations retried after a transient failure", ["op"])
WRITER_RETRIES = Counter("wingman_writer_retries_total", "Store writes that failed and were retried")
WRITER_DROPPED = Counter("wingman_writer_dropped_total", "Store writes given up (not transient)")

LIVE_CALLS = Gauge("wingman_live_calls", "Calls this gateway carries (being started included)")
WRITER_QUEUE = Gauge("wingman_writer_queue_depth", "Store writes queued on this gateway")
BUS_LAG = Gauge(
    "wingman_bus_consumer_lag_seconds", "Age of the last event a consumer took off the bus", ["topic"])
LOOP_LAG = Gauge("wingman_event_loop_lag_seconds", "Event-loop lag of this process, last sample")
SUSTAINED_LOOP_LAG = Gauge(
    "wingman_event_loop_lag_sustained_seconds", "Lag on each of the last 3 samples (admission control)")

K = TypeVar("K")
V = TypeVar("V")

_enabled = True
_scrape_hooks: list[Callable[[], None]] = []
# final id -> monotonic time it was shown, for final_to_block; bounded (blocks follow finals
# within seconds, so the oldest entries are long used)
_final_shown_at: OrderedDict[str, float] = OrderedDict()
MAX_TRACKED_FINALS = 20_000
# final id -> monotonic time its utterance end was heard, until the client's `received` ack
# arrives (acked_audio_to_client); bounded like the above
_awaiting_ack: OrderedDict[str, float] = OrderedDict()
# (call id, block end in call seconds as insights carry it) -> monotonic time this node heard
# the block's utterance end: the call's insights are acked to the node that streams the call,
# whichever gateway took them off the bus and emitted them. Kept while their acks come in (a
# block has several agents' insights), bounded; each insight id is timed once.
_block_heard_at: OrderedDict[tuple[str, float], float] = OrderedDict()
_acked_insights: OrderedDict[str, None] = OrderedDict()


def configure(*, enabled: bool) -> None:
    """Turn the instrumentation on or off for this process (WINGMAN_METRICS)."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def on_scrape(hook: Callable[[], None]) -> Callable[[], None]:
    """Run `hook` before every scrape (it sets gauges from live state); returns its removal."""
    _scrape_hooks.append(hook)

    def remove() -> None:
        if hook in _scrape_hooks:
            _scrape_hooks.remove(hook)

    return remove


def http_endpoint() -> Response:
    """GET /metrics of the gateway (sync: FastAPI runs it in its threadpool, off the loop)."""
    if not _enabled:
        return PlainTextResponse("metrics are off (WINGMAN_METRICS=false)\n", status_code=404)
    return Response(exposition(), media_type=CONTENT_TYPE)


def exposition() -> bytes:
    """The text exposition of this process's registry, gauges refreshed first."""
    for hook in list(_scrape_hooks):
        hook()
    return generate_latest()


# -- gateway hops ---------------------------------------------------------------------------

def final_shown(fragment: TranscriptFragment, *, live: bool = True) -> None:
    """A final was emitted to the call's clients. Finals forced out by the end of the call
    (`live=False`: the last words, finalized when the rep pressed end) are counted but not
    timed: their wait is the time since the audio stopped, not a latency anyone sees."""
    if not _enabled or not fragment.is_final:
        return
    FINALS.inc()
    if not live:
        return
    now = time.monotonic()
    _remember(_final_shown_at, fragment.id, now)
    if fragment.audio_end_at is not None:
        waited = now - fragment.audio_end_at
        AUDIO_TO_FINAL.observe(waited)
        AUDIO_TO_CLIENT.labels("transcript").observe(waited)
        _remember(_awaiting_ack, fragment.id, fragment.audio_end_at)


def _remember(table: OrderedDict[K, V], key: K, value: V) -> None:
    """Keep `key` in a table bounded at MAX_TRACKED_FINALS entries, oldest dropped first."""
    bounded.put(table, key, value, limit=MAX_TRACKED_FINALS)


def client_acked(event: str, event_id: str, *, call_id: str | None = None,
                 audio_end: float | None = None, held: float = 0.0) -> bool:
    """A client's `received` ack of a final this process emitted, or of an insight of a call
    whose audio this process heard (`call_id`: the call the acking socket streams here,
    `audio_end`: the insight's): the first ack of each is timed from its utterance end on
    this process's clock, less `held` (the client's own delay in acking); later or unknown
    ones are only counted. True when it was timed."""
    if not _enabled:
        return False
    heard: float | None = None
    if event == "transcript":
        heard = _awaiting_ack.pop(event_id, None)
    elif event == "insight" and call_id is not None and audio_end is not None:
        heard = _block_heard_at.get((call_id, round(audio_end, 3)))
        if heard is not None:
            if event_id in _acked_insights:
                heard = None
            else:
                _remember(_acked_insights, event_id, None)
    if heard is None:
        CLIENT_ACKS.labels(event, "unknown").inc()
        return False
    CLIENT_ACKS.labels(event, "timed").inc()
    waited = time.monotonic() - heard
    ACKED_AUDIO_TO_CLIENT.labels(event).observe(max(0.0, waited - min(held, waited)))
    return True


def stamp_block(block: TranscriptBlock) -> TranscriptBlock:
    """The block as it goes on the bus: wall-clock stamps (and the trace context) added.
    A block whose last final was not live (end of call) carries no audio_end: its insights
    are counted, not timed."""
    if not _enabled and not tracing.enabled():
        return block
    now_wall, now = time.time(), time.monotonic()
    shown = _final_shown_at.get(block.segment_ids[-1]) if block.segment_ids else None
    live = shown is not None or not _enabled
    audio_end = None if block.audio_end_at is None or not live else now_wall - (now - block.audio_end_at)
    final_wall = None if shown is None else now_wall - (now - shown)
    hops = Hops(audio_end=audio_end, final_shown=final_wall, block_sent=now_wall)
    if _enabled and audio_end is not None and block.audio_end_at is not None:
        _remember(_block_heard_at, (block.call_id, round(block.end, 3)), block.audio_end_at)
    return block.model_copy(update={"hops": tracing.block_sent(block, hops)})


def block_published(block: TranscriptBlock) -> None:
    """The bus took the (stamped) block."""
    if not _enabled:
        return
    BLOCKS.inc()
    for segment_id in block.segment_ids:
        shown = _final_shown_at.pop(segment_id, None)
        if shown is not None and segment_id == block.segment_ids[-1]:
            FINAL_TO_BLOCK.observe(time.monotonic() - shown)


def block_publish_retry() -> None:
    if _enabled:
        BUS_RETRIES.labels("transcript.blocks").inc()


def insight_received(insight: Insight) -> None:
    """A gateway took `insight` off the bus."""
    consumed("insights", insight.hops)


def insight_shown(insight: Insight) -> None:
    """An insight was emitted to its call (the first time: redeliveries are not counted)."""
    if not _enabled:
        tracing.insight_shown(insight)
        return
    now = time.time()
    INSIGHTS_SHOWN.labels(insight.agent).inc()
    hops = insight.hops
    if hops is not None:
        if hops.insight_sent is not None:
            INSIGHT_TO_CLIENT.observe(now - hops.insight_sent)
        if hops.audio_end is not None:
            AUDIO_TO_CLIENT.labels("insight").observe(now - hops.audio_end)
    tracing.insight_shown(insight)


def consumed(topic: str, hops: Hops | None) -> None:
    """A consumer took an event off `topic`: how long it was on the bus."""
    if not _enabled or hops is None:
        return
    sent = hops.insight_sent if topic == "insights" else hops.block_sent
    if sent is not None:
        age = max(0.0, time.time() - sent)
        BUS_DELIVERY.labels(topic).observe(age)
        BUS_LAG.labels(topic).set(age)


def watch_gateway(*, load: Callable[[], int], writer_pending: Callable[[], int]) -> Callable[[], None]:
    """Gauges of a gateway, read at scrape time; returns the removal (app shutdown)."""

    def refresh() -> None:
        LIVE_CALLS.set(load())
        WRITER_QUEUE.set(writer_pending())

    return on_scrape(refresh)


def client_reported(client: str, *, transcript: list[float], insight: list[float]) -> None:
    """A client's batch of its own measurements (validated and rate-limited by the gateway)."""
    if not _enabled:
        return
    CLIENT_REPORTS.labels("accepted").inc()
    if transcript:
        series = CLIENT_TRANSCRIPT.labels(client)
        for seconds in transcript:
            series.observe(seconds)
    if insight:
        series = CLIENT_INSIGHT.labels(client)
        for seconds in insight:
            series.observe(seconds)


def client_report_duplicate() -> None:
    """A latency-report batch sent again (after a reconnect) that was already recorded."""
    if _enabled:
        CLIENT_REPORTS.labels("duplicate").inc()


def client_report_refused(reason: str) -> None:
    """`reason`: an error code (rate_limited, bad_payload, no_call): a fixed, small set."""
    if _enabled:
        CLIENT_REPORTS.labels(reason).inc()


# -- agent hops -----------------------------------------------------------------------------

def block_received(block: TranscriptBlock) -> None:
    """An agent worker took `block` off the bus."""
    consumed("transcript.blocks", block.hops)
    tracing.block_received(block)


def agent_ran(block: TranscriptBlock, run: AgentRun) -> None:
    """One agent finished with `block`: its run record says how long and how it ended."""
    if run.error is None:
        outcome = "ok"
    else:
        outcome = "timeout" if run.error.startswith("deadline") else "error"
    seconds = run.latency_ms / 1000
    if _enabled:
        AGENT_SECONDS.labels(run.agent, outcome).observe(seconds)
    tracing.agent_ran(block, run.agent, seconds=seconds, outcome=outcome)


def insight_held(reason: str) -> None:
    if _enabled:
        INSIGHTS_HELD.labels(reason).inc()


def stamp_insight(insight: Insight, block: TranscriptBlock) -> Insight:
    """The insight as it goes on the bus: the block's stamps, its own and the trace context."""
    if not _enabled and not tracing.enabled():
        return insight
    now = time.time()
    base = block.hops or Hops()
    if _enabled and base.block_sent is not None:
        BLOCK_TO_INSIGHT.labels(insight.agent).observe(now - base.block_sent)
    hops = base.model_copy(update={"insight_sent": now})
    return insight.model_copy(update={"hops": tracing.insight_sent(block, insight, hops)})


# -- anywhere -------------------------------------------------------------------------------

def bus_retry(op: str) -> None:
    if _enabled:
        BUS_RETRIES.labels(op).inc()


def writer_retry() -> None:
    if _enabled:
        WRITER_RETRIES.inc()


def writer_dropped() -> None:
    if _enabled:
        WRITER_DROPPED.inc()


def provider_error(part: str, provider: str, code: str) -> None:
    if _enabled:
        PROVIDER_ERRORS.labels(part, provider, code).inc()


def provider_fallback(part: str, from_provider: str, to_provider: str) -> None:
    if _enabled:
        PROVIDER_FALLBACKS.labels(part, from_provider, to_provider).inc()


def fanned_out(sent: float) -> None:
    """Another gateway's emit arrived through the Socket.IO Redis manager (`sent`: wall clock)."""
    if _enabled:
        SOCKETIO_FANOUT.observe(max(0.0, time.time() - sent))


def decoded(seconds: float, *, final: bool) -> None:
    if _enabled:
        DECODE_SECONDS.labels("final" if final else "interim").observe(seconds)


def loop_lag(last: float, sustained: float) -> None:
    if _enabled:
        LOOP_LAG.set(last)
        SUSTAINED_LOOP_LAG.set(sustained)
