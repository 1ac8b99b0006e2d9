"""The gate every insight passes before the rep sees it: feedback, dedup, rate limit.

In order:
1. the user's feedback preferences: a suppressed kind is dropped, others have their priority
   multiplied by the kind's weight (disliked kinds sink, liked kinds rise);
2. dedup within the call: the same kind (or, for the coach and search agents, the same
   entity) again within `repeat_after_seconds` of call time, or content nearly identical to
   an insight already shown;
3. the rate limit, per call and priority-aware: at most `per_minute` insights in any 60 s of
   call time; insights below `low_priority` may only use half of that budget, so a demoted or
   minor tip never crowds out an objection; urgent ones (at least `urgent_priority`: a buying
   signal, the answer to a question the customer just asked) may exceed it by `urgent_burst`,
   because holding those back is worse than one more card on the screen.
Time is call time (seconds of audio, from the block), so the gate is deterministic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from wingman.agents.feedback import FeedbackPreferences
from wingman.events import Insight

WINDOW_SECONDS = 60.0


@dataclass
class GateState:
    """Per-call memory of what was shown."""

    admitted_at: deque[float] = field(default_factory=deque)
    keys: dict[str, float] = field(default_factory=dict)
    entities: dict[str, float] = field(default_factory=dict)
    contents: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class GateDecision:
    admitted: bool
    reason: str  # "ok" or why it was held back (safe to log)
    insight: Insight  # with its priority adjusted by the user's preferences


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


class InsightGate:
    def __init__(
        self,
        *,
        per_minute: int,
        repeat_after_seconds: float = 300.0,
        near_duplicate: float = 90.0,
        low_priority: float = 0.5,
        urgent_priority: float = 0.9,
        urgent_burst: int = 2,
    ) -> None:
        self.per_minute = max(1, per_minute)
        self.repeat_after = repeat_after_seconds
        self.near_duplicate = near_duplicate
        self.low_priority = low_priority
        self.urgent_priority = urgent_priority
        self.urgent_burst = urgent_burst

    def budget(self, priority: float) -> int:
        """How many insights may already be in the window for one of `priority` to pass."""
        if priority >= self.urgent_priority:
            return self.per_minute + self.urgent_burst
        if priority >= self.low_priority:
            return self.per_minute
        return max(1, self.per_minute // 2)

    @staticmethod
    def dedup_key(insight: Insight) -> str:
        # answers are keyed by what they say: two questions answered from one document are
        # two insights, the same answer twice is one
        if insight.agent == "qa":
            return f"{insight.kind}:{_norm(insight.content)[:80]}"
        return insight.kind

    def admit(
        self,
        insight: Insight,
        *,
        state: GateState,
        preferences: FeedbackPreferences,
        at: float,
    ) -> GateDecision:
        """Decide on `insight` at call time `at` and, when admitted, remember it."""
        weight = preferences.weight(insight.kind)
        if weight is None:
            return GateDecision(False, "suppressed by feedback", insight)
        priority = max(0.0, min(1.0, round(insight.priority * weight, 4)))
        insight = insight.model_copy(update={"priority": priority})

        key = self.dedup_key(insight)
        last = state.keys.get(key)
        if last is not None and at - last < self.repeat_after:
            return GateDecision(False, "duplicate kind", insight)
        entity = insight.entity.lower() if insight.entity else None
        if entity and insight.agent != "qa":
            last = state.entities.get(entity)
            if last is not None and at - last < self.repeat_after:
                return GateDecision(False, "duplicate entity", insight)
        content = _norm(insight.content)
        for shown in state.contents:
            if fuzz.token_sort_ratio(content, shown) >= self.near_duplicate:
                return GateDecision(False, "near-duplicate content", insight)

        while state.admitted_at and state.admitted_at[0] <= at - WINDOW_SECONDS:
            state.admitted_at.popleft()
        if len(state.admitted_at) >= self.budget(priority):
            return GateDecision(False, "rate limited", insight)

        state.admitted_at.append(at)
        state.keys[key] = at
        if entity and insight.agent != "qa":
            state.entities[entity] = at
        state.contents.append(content)
        return GateDecision(True, "ok", insight)
