"""latency-report: the payload model's bounds, the per-connection buckets that cap how many
client-measured delays one socket adds, and the client-reported histograms they move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prometheus_support import value
from wingman import metrics
from wingman.errors import BadInput
from wingman.events import Insight
from wingman.realtime.limits import REPORTS, SAMPLES, ClientLimiter, RateLimited
from wingman.realtime.messages import MAX_CLIENT_LATENCY_SECONDS, MAX_SAMPLES_PER_REPORT, LatencyReport, parse
from wingman.realtime.outgoing import InsightMessage
from wingman.settings import Settings


@pytest.fixture(autouse=True)
def metrics_on() -> Iterator[None]:
    metrics.configure(enabled=True)
    yield
    metrics.configure(enabled=True)


def test_a_report_holds_bounded_finite_seconds_from_a_known_client() -> None:
    msg = parse(LatencyReport, {"client": "web", "transcript": [0.2, 1], "insight": [0]},
                event="latency-report")
    assert (msg.client, msg.transcript, msg.insight, msg.samples) == ("web", [0.2, 1.0], [0.0], 3)
    assert parse(LatencyReport, {}, event="latency-report").client == "other"


@pytest.mark.parametrize("payload", [
    {"transcript": [-0.01]},
    {"transcript": [MAX_CLIENT_LATENCY_SECONDS + 0.001]},
    {"transcript": [float("nan")]},
    {"insight": [float("inf")]},
    {"transcript": [True]},  # not a number of seconds
    {"transcript": ["0.2"]},
    {"transcript": 0.2},
    {"insight": [0.1] * (MAX_SAMPLES_PER_REPORT + 1)},
    {"client": "grafana-exporter"},  # a label value: only the fixed few
])
def test_anything_out_of_bounds_refuses_the_whole_report(payload: dict[str, object]) -> None:
    with pytest.raises(BadInput) as refused:
        parse(LatencyReport, payload, event="latency-report")
    assert refused.value.code == "bad_payload"
    assert "grafana" not in str(refused.value)  # never echoes what was sent


def test_one_connection_adds_at_most_its_sample_rate_however_it_batches() -> None:
    now = [0.0]
    settings = Settings(latency_reports_per_second=0.5, latency_report_burst=2,
                        latency_samples_per_second=5.0, latency_sample_burst=60)
    limiter = ClientLimiter.from_settings(settings, clock=lambda: now[0])
    limiter.check("s1", REPORTS)
    limiter.check("s1", SAMPLES, cost=50)
    limiter.check("s1", REPORTS)
    with pytest.raises(RateLimited) as samples:  # 10 samples left, 50 asked: none taken
        limiter.check("s1", SAMPLES, cost=50)
    assert samples.value.bucket == SAMPLES and samples.value.retry_after == pytest.approx(8.0)
    limiter.check("s1", SAMPLES, cost=10)
    with pytest.raises(RateLimited) as reports:
        limiter.check("s1", REPORTS)
    assert reports.value.bucket == REPORTS and reports.value.code == "rate_limited"
    limiter.check("s2", REPORTS)  # another connection has its own buckets
    now[0] = 10.0  # 10 s on: 5 reports' worth (capped at the burst), 50 samples
    limiter.check("s1", REPORTS)
    limiter.check("s1", SAMPLES, cost=50)


def test_a_report_moves_the_client_histograms_by_label_and_nothing_when_off() -> None:
    t_count = value("wingman_client_transcript_seconds_count", client="bench")
    t_sum = value("wingman_client_transcript_seconds_sum", client="bench")
    i_count = value("wingman_client_insight_seconds_count", client="bench")
    in_bucket = value("wingman_client_insight_seconds_bucket", client="bench", le="0.25")
    accepted = value("wingman_client_latency_reports_total", outcome="accepted")
    metrics.client_reported("bench", transcript=[0.02, 0.03], insight=[0.21])
    assert value("wingman_client_transcript_seconds_count", client="bench") == t_count + 2
    assert value("wingman_client_transcript_seconds_sum", client="bench") == pytest.approx(t_sum + 0.05)
    assert value("wingman_client_insight_seconds_count", client="bench") == i_count + 1
    assert value("wingman_client_insight_seconds_bucket", client="bench", le="0.25") == in_bucket + 1
    assert value("wingman_client_latency_reports_total", outcome="accepted") == accepted + 1
    refused = value("wingman_client_latency_reports_total", outcome="rate_limited")
    metrics.client_report_refused("rate_limited")
    assert value("wingman_client_latency_reports_total", outcome="rate_limited") == refused + 1

    metrics.configure(enabled=False)
    metrics.client_reported("bench", transcript=[0.02], insight=[])
    metrics.client_report_refused("rate_limited")
    assert value("wingman_client_transcript_seconds_count", client="bench") == t_count + 2
    assert value("wingman_client_latency_reports_total", outcome="rate_limited") == refused + 1


def test_an_insight_tells_clients_where_in_the_call_its_block_ends() -> None:
    tip = Insight(call_id="c1", user_id="u1", agent="coach", category="Closing", kind="close",
                  content="ask for the deal", block_end=12.34567)
    assert InsightMessage.of(tip).audio_end == 12.346
    assert InsightMessage.of(tip.model_copy(update={"block_end": None})).audio_end is None
