"""What the Prometheus instrumentation costs a gateway, with and without (WINGMAN_METRICS).

    .venv/bin/python bench/metrics_cost.py
    .venv/bin/python bench/metrics_cost.py --gateway-cpu-per-call 0.0066

CPU time, not wall time (process_time: what other processes do on the machine counts less):
1. per utterance, the gateway's hops as a call makes them (a final shown, its block stamped and
   published, and its share of insights received and shown), with metrics on and off;
2. one scrape of /metrics with the series a busy gateway has (every histogram filled);
3. the clients' `received` acks of finals and insights (wingman_acked_audio_to_client_seconds):
   their timing is in 1 (metrics on vs off); the socket.io packet decode and validation of each
   ack are counted whole (the ack exists for the metric; the websocket frame itself is not in it);
scaled by what a live call does per second (the sample call: 16 finals and ~7 tips in 70 s)
and a 15 s scrape interval, as a share of a gateway's CPU per live call (default: 0.66% of a
core, README's bench/load.py figure at 100 calls). The end-to-end check is bench/load.py run
twice, with WINGMAN_METRICS=false and true, comparing "gateway" CPU per call.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402,F401 - puts the repo on sys.path
from socketio import packet  # noqa: E402

from wingman import metrics  # noqa: E402
from wingman.events import Insight, TranscriptBlock, TranscriptFragment  # noqa: E402
from wingman.realtime.messages import ReceivedMessage, parse  # noqa: E402

FINALS_PER_CALL_SECOND = 16 / 70
INSIGHTS_PER_FINAL = 7 / 16
SCRAPE_SECONDS = 15.0


def one_utterance(i: int) -> None:
    """The gateway-side hops of one utterance, as pipeline/call.py and realtime/sink.py call them."""
    fragment = TranscriptFragment(id=f"f{i}", call_id="c", text="words", is_final=True,
                                  start=float(i), end=i + 1.0, audio_end_at=time.monotonic() - 0.1)
    metrics.final_shown(fragment)
    metrics.client_acked("transcript", fragment.id, held=0.001)  # the client's `received`
    block = TranscriptBlock(call_id="c", user_id="u", seq=i, text="words", speaker="customer",
                            start=fragment.start, end=fragment.end, segment_ids=(fragment.id,),
                            audio_end_at=fragment.audio_end_at)
    sent = metrics.stamp_block(block)
    metrics.block_published(sent)
    if i % 16 < 7:  # INSIGHTS_PER_FINAL of the finals bring a tip back
        insight = Insight(call_id="c", user_id="u", block_id=block.id, agent="coach", category="c",
                          kind="k", content="tip", hops=sent.hops)
        metrics.insight_received(insight)
        metrics.insight_shown(insight)
        # acked to the call's gateway, by the block end the insight carries
        metrics.client_acked("insight", insight.id, call_id="c", audio_end=block.end, held=0.001)


def cpu_per_utterance(enabled: bool, n: int) -> float:
    metrics.configure(enabled=enabled)
    runs = []
    for r in range(5):
        started = time.process_time()
        for i in range(n):
            one_utterance(r * n + i)
        runs.append((time.process_time() - started) / n)
    return statistics.median(runs)


def cpu_per_ack(n: int) -> float:
    """One `received` as the gateway takes it: socket.io packet decoded, payload validated."""
    ack = {"event": "insight", "id": "f" * 32, "audio_end": 1234.567, "held": 0.002}
    wire = packet.Packet(packet.EVENT, data=["received", ack]).encode()
    started = time.process_time()
    for _ in range(n):
        event, data = packet.Packet(encoded_packet=wire).data
        parse(ReceivedMessage, data, event=event)
    return (time.process_time() - started) / n


def cpu_per_scrape(n: int = 50) -> tuple[float, int]:
    metrics.configure(enabled=True)
    unwatch = metrics.watch_gateway(load=lambda: 50, writer_pending=lambda: 0)
    try:
        body = metrics.exposition()
        started = time.process_time()
        for _ in range(n):
            metrics.exposition()
        return (time.process_time() - started) / n, len(body)
    finally:
        unwatch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=4000)
    parser.add_argument("--gateway-cpu-per-call", type=float, default=0.0066,
                        help="gateway CPU (cores) per live call without metrics (bench/load.py)")
    parser.add_argument("--calls", type=int, default=100, help="live calls per gateway, for the scrape share")
    args = parser.parse_args()
    # the objects a call makes anyway (events) cost the same either way: the difference is ours
    on = cpu_per_utterance(True, args.utterances)
    off = cpu_per_utterance(False, args.utterances)
    scrape, size = cpu_per_scrape()
    ack = cpu_per_ack(args.utterances)
    hops = (on - off) * FINALS_PER_CALL_SECOND  # core-seconds per call-second
    scrapes = scrape / SCRAPE_SECONDS / max(1, args.calls)
    acks = ack * FINALS_PER_CALL_SECOND * (1 + INSIGHTS_PER_FINAL)
    share = 100 * (hops + scrapes + acks) / args.gateway_cpu_per_call
    print(f"per utterance (gateway hops): metrics on {1e6 * on:.1f} us, off {1e6 * off:.1f} us CPU "
          f"-> {1e6 * (on - off):.1f} us for the instrumentation")
    print(f"one /metrics scrape: {1e3 * scrape:.2f} ms CPU, {size / 1024:.0f} KiB")
    print(f"one `received` ack taken (packet decode + validation): {1e6 * ack:.1f} us CPU")
    print(f"per live call: {1e6 * hops:.2f} us/s of hops + {1e6 * scrapes:.2f} us/s of scrapes "
          f"+ {1e6 * acks:.2f} us/s of acks "
          f"({args.calls} calls per gateway, one scrape per {SCRAPE_SECONDS:.0f} s) against "
          f"{1e3 * args.gateway_cpu_per_call:.1f} ms/s of gateway CPU per call")
    print(f"metrics_cost_pct_of_gateway_cpu={share:.3f} (target < 2)")


if __name__ == "__main__":
    main()
