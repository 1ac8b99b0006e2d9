"""Seconds from the end of an utterance's audio to its insight reaching the client.

The sample call is streamed at real-time pace through the embedded default (local speech,
local agents, in-process bus, SQLite) over real Socket.IO. For every utterance that should
trigger a tip, the latency is measured to the first insight whose context is that utterance.
Prints p50 and p95; target on a 2-core machine: p50 <= 1.0 s, p95 <= 1.5 s.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from _common import DEMO_WAV, demo_script, percentile, word_set

from tests.server import running_server
from wingman.demo import run_demo
from wingman.settings import Settings

# utterances of the sample call (1-based, see notes/CONTRACTS.md) that must trigger a tip
TRIGGERS = (4, 6, 8, 10, 12, 13, 15)


def latencies_of(result: Any) -> dict[int, float]:
    """Trigger utterance -> seconds from its end to its first insight on the client."""
    utterances = demo_script()
    latencies: dict[int, float] = {}
    for event in result.of("insight"):
        snippet = word_set(event.data.get("context_snippet", ""))
        if not snippet:
            continue
        best = max(TRIGGERS, key=lambda n: len(snippet & word_set(utterances[n - 1]["text"]))
                   / max(1, len(word_set(utterances[n - 1]["text"]))))
        overlap = len(snippet & word_set(utterances[best - 1]["text"]))
        if overlap < 2:
            continue
        latency = event.at - result.wall_time_of(float(utterances[best - 1]["end"]))
        latencies[best] = min(latency, latencies.get(best, latency))
    return latencies


def main() -> None:
    utterances = demo_script()
    with tempfile.TemporaryDirectory() as tmp, running_server(
        Settings(data_dir=Path(tmp), auth="local")
    ) as url:
        result = asyncio.run(run_demo(url=url, audio=DEMO_WAV, speed=1.0, title="bench", sample_data=True))
    latencies = latencies_of(result)
    for n in TRIGGERS:
        shown = f"{latencies[n]:.2f} s" if n in latencies else "no insight"
        print(f"utterance {n:2d}: {shown}  {utterances[n - 1]['text'][:60]}")
    values = list(latencies.values())
    print(f"insights for {len(values)}/{len(TRIGGERS)} trigger utterances")
    print(f"audio_to_insight_p50_s={percentile(values, 0.5):.2f} "
          f"p95={percentile(values, 0.95):.2f} missed={len(TRIGGERS) - len(values)}")


if __name__ == "__main__":
    main()
