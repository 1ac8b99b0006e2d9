"""Shared bits of the benchmarks: the repo on sys.path, percentiles, the demo script."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wingman.settings import DATA_DIR  # noqa: E402

DEMO_WAV = DATA_DIR / "demo" / "sample_call.wav"
DEMO_SCRIPT = DATA_DIR / "demo" / "sample_call.json"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def demo_script() -> list[dict[str, Any]]:
    data = json.loads(DEMO_SCRIPT.read_text())
    items: list[dict[str, Any]] = data["utterances"] if isinstance(data, dict) else data
    return items


def word_set(text: str) -> set[str]:
    return set(re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split())
