"""A generative LLM with the local engine behind it: a failing provider never costs an answer.

`FallbackLlm(primary=GeminiLlm(...), fallback=LocalLlm(...), health=...)` asks the primary
first, leaving the fallback a reserve of the request's deadline. On any ProviderError (timeout,
429, 5xx, malformed answer), or any other exception from the primary, the fallback answers
instead and ProviderHealth records the degradation. After `open_after` failures in a row the
primary is skipped for `cooldown_seconds` (a circuit breaker), so a dead provider does not eat
every request's deadline; then one request tries it again and a success tells observers it
recovered.

Which engine answered the last request in this task: `answered_by()` (a ContextVar, so agents
running concurrently each see their own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar

from wingman.errors import ProviderError
from wingman.health import ProviderHealth
from wingman.llm.base import Llm, LlmRequest, T

log = logging.getLogger(__name__)

_ANSWERED_BY: ContextVar[str | None] = ContextVar("wingman_llm_answered_by", default=None)


def answered_by() -> str | None:
    """Name of the engine that answered this task's latest `complete()` through a FallbackLlm."""
    return _ANSWERED_BY.get()


def answering_engine(llm: Llm) -> str:
    """Name of the engine that answered `llm`'s latest `complete()` in this task: for a
    FallbackLlm its primary or its local fallback, for any other Llm its own name."""
    if isinstance(llm, FallbackLlm):
        return answered_by() or llm.name
    return llm.name


class FallbackLlm(Llm):
    """Primary provider, local fallback, circuit breaker, health records."""

    def __init__(
        self,
        *,
        primary: Llm,
        fallback: Llm,
        health: ProviderHealth,
        reserve_seconds: float = 0.25,
        open_after: int = 3,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.health = health
        self.name = primary.name
        self.reserve_seconds = reserve_seconds
        self.open_after = open_after
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0

    def __repr__(self) -> str:
        return f"FallbackLlm(primary={self.primary!r}, fallback={self.fallback!r})"

    @property
    def circuit_open(self) -> bool:
        """True while the primary is being skipped after repeated failures."""
        return self._clock() < self._open_until

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        start = self._clock()
        deadline = start + timeout
        if not self.circuit_open:
            budget = max(timeout - self.reserve_seconds, timeout / 2)
            try:
                answer = await self.primary.complete(request, timeout=budget)
            except Exception as exc:  # a provider bug must not cost the answer either
                if not isinstance(exc, ProviderError):
                    log.error("llm provider raised an unexpected error", exc_info=exc)
                self._failed(exc, request.task)
            else:
                self._failures = 0
                self.health.record_success("llm", self.primary.name, latency_seconds=self._clock() - start)
                _ANSWERED_BY.set(self.primary.name)
                return answer
        began = self._clock()
        remaining = max(self.reserve_seconds, deadline - began)
        answer = await self.fallback.complete(request, timeout=remaining)
        self.health.record_success("llm", self.fallback.name, latency_seconds=self._clock() - began)
        _ANSWERED_BY.set(self.fallback.name)
        return answer

    def _failed(self, exc: Exception, task: str) -> None:
        self._failures += 1
        if self._failures >= self.open_after:
            self._open_until = self._clock() + self.cooldown_seconds
        log.warning(
            "llm provider failed; local engine answers",
            extra={
                "provider": self.primary.name,
                "task": task,
                "code": getattr(exc, "code", "internal"),
                "error": type(exc).__name__,
                "failures_in_a_row": self._failures,
            },
        )
        self.health.record_failover(
            "llm", from_provider=self.primary.name, to_provider=self.fallback.name, error=exc
        )

    async def aclose(self) -> None:
        await self.primary.aclose()
        await self.fallback.aclose()
