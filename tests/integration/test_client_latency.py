"""latency-report end to end in-process: the real Gateway (loopback Socket.IO transport, the
scripted speech engine): a client times its finals from when it sent the audio they end in,
reports them, and /metrics shows them as the client-reported
histograms; reports from a socket without a call, malformed ones and a flood are refused and
counted, and move nothing."""

from __future__ import annotations

import time
from pathlib import Path

from tests.call_harness import gateway_harness
from tests.prometheus_support import samples
from tests.security.support import audio_chunks, script_of
from wingman import metrics

LINES = ["hello there.", "we need forty seats.", "what does it cost? the price is too high."]
CHUNK = 0.1


def scrape() -> dict[str, float]:
    """GET /metrics as the gateway serves it: 'name{k="v"}' -> value."""
    return samples(bytes(metrics.http_endpoint().body).decode())


async def test_a_clients_reports_reach_metrics_and_bad_ones_are_refused(tmp_path: Path) -> None:
    metrics.configure(enabled=True)
    async with gateway_harness(tmp_path, script_of(LINES), latency_report_burst=3,
                               latency_reports_per_second=0.001) as g:
        _rep, token = await g.user("ana")
        client = await g.client(token)
        before = scrape()
        no_call = await client.call("latency-report", {"transcript": [0.1]})
        assert no_call["error"]["code"] == "no_call"  # only a socket streaming a call reports

        await client.call("start-call", {"title": "timed", "sample_rate": 16000})
        sent: list[tuple[float, float]] = []  # (call seconds sent so far, when)
        for i, frame in enumerate(audio_chunks(0.0, 7.0)):
            await client.emit("audio-chunk", frame)
            sent.append((round((i + 1) * CHUNK, 3), time.monotonic()))
        await client.wait(lambda: len(client.finals) == 3, what="three finals")

        def waited(audio_end: float) -> float:
            at = next(when for upto, when in sent if upto >= audio_end)
            return round(time.monotonic() - at, 4)

        finals = [waited(float(f["end"])) for f in client.finals]
        insights = [max(finals)]  # no agents here: a tip's report is taken the same way
        ack = await client.call("latency-report", {"client": "bench", "transcript": finals,
                                                   "insight": insights})
        assert ack == {"ok": True, "accepted": 4, "duplicate": False}
        bad = await client.call("latency-report", {"transcript": [-1.0]})
        assert bad["error"]["code"] == "bad_payload"
        flood = await client.call("latency-report", {"transcript": [0.1]})  # 4th within the burst of 3
        assert flood["error"]["code"] == "rate_limited"
        after = scrape()
        await client.call("end-call")

    def moved(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved('wingman_client_transcript_seconds_count{client="bench"}') == 3
    assert abs(moved('wingman_client_transcript_seconds_sum{client="bench"}') - sum(finals)) < 1e-6
    assert moved('wingman_client_insight_seconds_count{client="bench"}') == 1
    assert moved('wingman_client_latency_reports_total{outcome="accepted"}') == 1
    for reason in ("no_call", "bad_payload", "rate_limited"):
        assert moved(f'wingman_client_latency_reports_total{{outcome="{reason}"}}') == 1
    assert moved('wingman_client_transcript_seconds_count{client="other"}') == 0
