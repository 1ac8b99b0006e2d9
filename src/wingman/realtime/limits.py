"""Per-connection throttling for the Socket.IO gateway: token buckets keyed by sid.

Five buckets per connection (all sized from settings):
- `events`: every event, audio chunks included (count);
- `control`: start-call, end-call, feedback and unknown events (count): these touch the database;
- `audio`: seconds of audio, so a client cannot push audio much faster than real time (the
  worker pool that decodes and resamples is shared by every call on the node);
- `reports` and `samples`: latency-report events (count) and the delays they carry (count), so
  one connection adds at most `latency_samples_per_second` observations to the client-reported
  histograms, however it batches them.

A refused event costs nothing beyond the check (no await, no database), so one flooding client
cannot slow the others' calls; it gets `error {code: "rate_limited"}` at most once per second
per bucket, not once per refused event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from wingman.errors import BadInput
from wingman.settings import Settings

EVENTS, CONTROL, AUDIO = "events", "control", "audio"
REPORTS, SAMPLES = "reports", "samples"
REPORT_EVERY_SECONDS = 1.0


class RateLimited(BadInput):
    """A client exceeded one of its buckets; `retry_after` says when it may go on (seconds)."""

    def __init__(self, bucket: str, retry_after: float) -> None:
        what = {EVENTS: "events", CONTROL: "requests", AUDIO: "audio", REPORTS: "latency reports",
                SAMPLES: "latency samples"}.get(bucket, bucket)
        super().__init__(
            f"too much {what} from this connection: slow down (retry in {retry_after:.1f} s)"
            if bucket == AUDIO
            else f"too many {what} from this connection: slow down (retry in {retry_after:.1f} s)",
            code="rate_limited",
        )
        self.bucket = bucket
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens added per second
    burst: float  # bucket capacity


@dataclass
class TokenBucket:
    limit: Limit
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float:
        """Take `cost` tokens: 0.0 when allowed, else the seconds until it would be."""
        self.tokens = min(self.limit.burst, self.tokens + (now - self.updated) * self.limit.rate)
        self.updated = now
        if cost <= self.tokens:
            self.tokens -= cost
            return 0.0
        if self.limit.rate <= 0:
            return float("inf")
        return (cost - self.tokens) / self.limit.rate


@dataclass
class _Client:
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    reported: dict[str, float] = field(default_factory=dict)


class ClientLimiter:
    """Token buckets per (connection, bucket name). Not thread-safe: the event loop's only."""

    def __init__(self, limits: Mapping[str, Limit], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = dict(limits)
        self._clock = clock
        self._clients: dict[str, _Client] = {}
        self.refused = 0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> ClientLimiter:
        return cls(
            {
                EVENTS: Limit(settings.socket_events_per_second, settings.socket_event_burst),
                CONTROL: Limit(settings.socket_control_per_second, settings.socket_control_burst),
                AUDIO: Limit(settings.audio_realtime_factor, settings.audio_burst_seconds),
                REPORTS: Limit(settings.latency_reports_per_second, settings.latency_report_burst),
                SAMPLES: Limit(settings.latency_samples_per_second, settings.latency_sample_burst),
            },
            clock=clock,
        )

    def check(self, sid: str, bucket: str, cost: float = 1.0) -> None:
        """Spend `cost` from `sid`'s `bucket` or raise RateLimited (nothing is spent then)."""
        limit = self.limits.get(bucket)
        if limit is None:
            return
        client = self._clients.setdefault(sid, _Client())
        now = self._clock()
        tb = client.buckets.get(bucket)
        if tb is None:
            tb = client.buckets[bucket] = TokenBucket(limit, float(limit.burst), now)
        wait = tb.take(cost, now)
        if wait > 0:
            self.refused += 1
            raise RateLimited(bucket, wait)

    def should_report(self, sid: str, bucket: str) -> bool:
        """Whether to tell the client about a refusal now (at most once a second per bucket)."""
        client = self._clients.setdefault(sid, _Client())
        now = self._clock()
        last = client.reported.get(bucket)
        if last is not None and now - last < REPORT_EVERY_SECONDS:
            return False
        client.reported[bucket] = now
        return True

    def forget(self, sid: str) -> None:
        """Drop a disconnected client's buckets."""
        self._clients.pop(sid, None)

    def __len__(self) -> int:
        return len(self._clients)
