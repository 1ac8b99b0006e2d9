"""Which provider each part (stt, llm, search) is using now, and how well it is doing.

`ProviderHealth` keeps, per part: the configured provider, the one in use now, recent errors
(sanitized: never keys), and latency percentiles per provider. Observers are told when a part
degrades to its fallback and when it recovers; the gateway turns those into `provider-status`.

Errors are recorded as `error_kinds.describe_error()` words them (secrets removed by
`redaction`); HTTP statuses become errors in `http_errors`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wingman import metrics
from wingman.error_kinds import describe_error, error_kind

log = logging.getLogger(__name__)

PARTS = ("stt", "llm", "search")


@dataclass(frozen=True)
class ProviderEvent:
    """A part changed provider. Mirrors the Socket.IO `provider-status` payload."""

    part: str
    provider: str  # in use from now on
    degraded: bool
    message: str
    previous: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def payload(self) -> dict[str, Any]:
        """The `provider-status` event body."""
        return {
            "part": self.part,
            "provider": self.provider,
            "degraded": self.degraded,
            "message": self.message,
        }


@dataclass(frozen=True)
class ErrorRecord:
    at: datetime
    provider: str
    code: str
    message: str
    tenant: str | None = None  # whose work failed (TENANT at the time); None: the node's own


# The tenant whose work the current task does (a call's pipeline, an agent's block): provider
# errors are tagged with it, so /api/providers shows each tenant only its own.
TENANT: ContextVar[str | None] = ContextVar("wingman_tenant", default=None)


Observer = Callable[[ProviderEvent], Awaitable[None] | None]


class Observers:
    """Callbacks, sync or async; one failing never stops the others."""

    def __init__(self) -> None:
        self._callbacks: list[Observer] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, callback: Observer) -> Callable[[], None]:
        self._callbacks.append(callback)

        def remove() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return remove

    def notify(self, event: ProviderEvent) -> None:
        for callback in list(self._callbacks):
            try:
                result = callback(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
            except Exception:
                log.exception("provider observer failed", extra={"part": event.part})

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("provider observer failed", exc_info=task.exception())


@dataclass
class _Part:
    configured: str
    active: str
    degraded: bool = False
    degraded_since: datetime | None = None
    failovers: int = 0
    errors: deque[ErrorRecord] = field(default_factory=lambda: deque(maxlen=20))
    latencies: dict[str, deque[float]] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class ProviderHealth:
    """Per part: provider in use, recent errors, latency percentiles; observers on changes."""

    def __init__(self, *, max_errors: int = 20, latency_window: int = 256) -> None:
        self._parts: dict[str, _Part] = {}
        self._max_errors = max_errors
        self._window = latency_window
        self._observers = Observers()

    def __repr__(self) -> str:
        return f"ProviderHealth(parts={sorted(self._parts)})"

    # -- configuration
    def set_provider(self, part: str, provider: str) -> None:
        """The configured provider of `part` (what it uses when nothing is wrong)."""
        self._parts[part] = _Part(configured=provider, active=provider, errors=deque(maxlen=self._max_errors))

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer(event)` on every degradation and recovery; returns an unsubscribe."""
        return self._observers.add(observer)

    # -- queries
    def active(self, part: str) -> str | None:
        state = self._parts.get(part)
        return state.active if state else None

    def is_degraded(self, part: str) -> bool:
        state = self._parts.get(part)
        return bool(state and state.degraded)

    def recent_errors(self, part: str) -> list[ErrorRecord]:
        state = self._parts.get(part)
        return list(state.errors) if state else []

    def latency(self, part: str, provider: str) -> dict[str, float]:
        """{"p50", "p95", "p99"} in seconds and "count" over the recent window."""
        state = self._parts.get(part)
        values = sorted(state.latencies.get(provider, ())) if state else []
        return {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "count": float(len(values)),
        }

    # -- recording
    def record_success(self, part: str, provider: str, *, latency_seconds: float | None = None) -> None:
        """`provider` answered; when it is the configured one of a degraded part, it recovered."""
        state = self._state(part, provider)
        state.successes[provider] = state.successes.get(provider, 0) + 1
        if latency_seconds is not None and latency_seconds >= 0:
            state.latencies.setdefault(provider, deque(maxlen=self._window)).append(latency_seconds)
        if state.degraded and provider == state.configured:
            previous = state.active
            state.degraded, state.active, state.degraded_since = False, provider, None
            self._observers.notify(
                ProviderEvent(
                    part=part,
                    provider=provider,
                    degraded=False,
                    message=f"{provider} is available again",
                    previous=previous,
                )
            )

    def record_error(self, part: str, provider: str, error: BaseException | str) -> ErrorRecord:
        """Keep a sanitized record of a provider failure."""
        state = self._state(part, provider)
        state.failures[provider] = state.failures.get(provider, 0) + 1
        code, message = describe_error(error)
        record = ErrorRecord(
            at=datetime.now(UTC), provider=provider, code=code, message=message, tenant=TENANT.get()
        )
        state.errors.append(record)
        metrics.provider_error(part, provider, code)
        return record

    def record_failover(
        self,
        part: str,
        *,
        from_provider: str,
        to_provider: str,
        error: BaseException | str | None = None,
        notify: bool = True,
    ) -> ProviderEvent:
        """`from_provider` failed and `to_provider` took over. Observers hear of it when the
        part was not already degraded to `to_provider`; the event is returned either way so a
        call can tell its own user."""
        state = self._state(part, from_provider)
        code, reason = error_kind(error if error is not None else "")
        if error is not None:
            self.record_error(part, from_provider, error)
        state.failovers += 1
        metrics.provider_fallback(part, from_provider, to_provider)
        event = ProviderEvent(
            part=part,
            provider=to_provider,
            degraded=True,
            message=f"{from_provider} {reason}; using {to_provider}",
            previous=from_provider,
        )
        changed = not state.degraded or state.active != to_provider
        state.degraded, state.active = True, to_provider
        if changed:
            state.degraded_since = event.at
            log.warning(
                "provider degraded",
                extra={"part": part, "provider": from_provider, "fallback": to_provider, "code": code},
            )
            if notify:
                self._observers.notify(event)
        return event

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """JSON-safe state of every part (what GET /api/providers shows)."""
        out: dict[str, dict[str, Any]] = {}
        for name, state in self._parts.items():
            providers = sorted(set(state.latencies) | set(state.successes) | set(state.failures))
            out[name] = {
                "configured": state.configured,
                "active": state.active,
                "degraded": state.degraded,
                "degraded_since": state.degraded_since.isoformat() if state.degraded_since else None,
                "failovers": state.failovers,
                "providers": {
                    p: {
                        "successes": state.successes.get(p, 0),
                        "failures": state.failures.get(p, 0),
                        "latency_ms": {
                            k: (None if math.isnan(v) else round(v * 1000, 1))
                            for k, v in self.latency(name, p).items()
                            if k != "count"
                        },
                        "samples": int(self.latency(name, p)["count"]),
                    }
                    for p in providers
                },
                "recent_errors": [
                    {"at": e.at.isoformat(), "provider": e.provider, "code": e.code, "message": e.message,
                     "tenant": e.tenant}
                    for e in state.errors
                ],
            }
        return out

    def _state(self, part: str, provider: str) -> _Part:
        if part not in self._parts:
            self.set_provider(part, provider)
        return self._parts[part]
