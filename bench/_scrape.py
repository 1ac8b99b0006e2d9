"""Reading Wingman's Prometheus histograms the way a dashboard does: scrape every process's
/metrics, subtract a scrape taken before the run, add the processes up, and estimate quantiles
from the buckets (linear inside a bucket, as PromQL's histogram_quantile does)."""

from __future__ import annotations

import http.client
import math
from collections import defaultdict
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]  # (histogram name, its labels without le)


@dataclass
class Histogram:
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    count: float = 0.0
    total: float = 0.0

    def minus(self, before: Histogram | None) -> Histogram:
        if before is None:
            return self
        return Histogram({le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()},
                         self.count - before.count, self.total - before.total)

    def plus(self, other: Histogram) -> Histogram:
        les = set(self.buckets) | set(other.buckets)
        return Histogram({le: self.buckets.get(le, 0.0) + other.buckets.get(le, 0.0) for le in les},
                         self.count + other.count, self.total + other.total)

    def quantile(self, q: float) -> float:
        if self.count <= 0:
            return math.nan
        rank = q * self.count
        lower, below = 0.0, 0.0
        for le in sorted(self.buckets):
            n = self.buckets[le]
            if n >= rank:
                if math.isinf(le):
                    return lower
                return lower + (le - lower) * ((rank - below) / max(1e-12, n - below))
            lower, below = le, n
        return lower

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan


def scrape(port: int, host: str = "127.0.0.1") -> dict[Key, Histogram]:
    """Every histogram of one process's /metrics (empty when it cannot be reached)."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        text = response.read().decode()
        conn.close()
    except OSError:
        return {}
    if response.status != 200:
        return {}
    out: dict[Key, Histogram] = defaultdict(Histogram)
    for family in text_string_to_metric_families(text):
        if family.type != "histogram":
            continue
        for s in family.samples:
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            h = out[(family.name, labels)]
            if s.name.endswith("_bucket"):
                h.buckets[float(s.labels["le"])] = s.value
            elif s.name.endswith("_count"):
                h.count = s.value
            elif s.name.endswith("_sum"):
                h.total = s.value
    return dict(out)


def scrape_all(ports: list[int]) -> list[dict[Key, Histogram]]:
    return [scrape(p) for p in ports]


def delta(after: list[dict[Key, Histogram]], before: list[dict[Key, Histogram]]) -> dict[Key, Histogram]:
    """What the run added, summed over processes."""
    merged: dict[Key, Histogram] = {}
    for now, then in zip(after, before, strict=True):
        for key, h in now.items():
            d = h.minus(then.get(key))
            merged[key] = merged[key].plus(d) if key in merged else d
    return merged


def pick(histograms: dict[Key, Histogram], name: str, **labels: str) -> Histogram:
    """The sum of the series of `name` whose labels include `labels`."""
    total = Histogram()
    for (n, ls), h in histograms.items():
        if n == name and set(labels.items()) <= set(ls):
            total = total.plus(h)
    return total
