"""The gate every insight passes before the rep sees it: feedback, dedup, a budget for minor tips.

In order:
1. the user's feedback preferences: a suppressed kind is dropped, others have their priority
   multiplied by the kind's weight (disliked kinds sink, liked kinds rise);
2. dedup within the call: a playbook rule (objection, signal, tone) shown less than
   `restate_seconds` ago (the customer restating it in the next breath); after that the coach
   sends the rule's next tip (escalation) and it passes. Any other kind, and the same entity
   (competitor, product) again, within `repeat_after_seconds`; content nearly identical to an
   insight already shown;
3. the budget: at most `per_minute` insights in any 60 s of call time, for minor tips only
   (priority under `major_priority`, e.g. talk-time nudges, tone, tips the user's dislikes
   demoted); those under `low_priority` get half of it. What matters is never held back by
   it: a new objection kind, a competitor brief, the answer to a question, a buying signal.
Time is call time (seconds of audio, from the block), so the gate is deterministic.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from wingman.agents.feedback import FeedbackPreferences
from wingman.events import Insight

WINDOW_SECONDS = 60.0
REPEAT_AFTER_SECONDS = 300.0  # the same entity (a competitor's brief) again within this is held
RULE_FAMILIES = ("objection.", "signal.", "tone.")


@dataclass
class GateState:
    """Per-call memory of what was shown."""

    admitted_at: deque[float] = field(default_factory=deque)
    keys: dict[str, float] = field(default_factory=dict)
    entities: dict[str, float] = field(default_factory=dict)
    contents: list[str] = field(default_factory=list)
    shown: Counter[str] = field(default_factory=Counter)  # kind -> insights shown

    def times_shown(self, kind: str) -> int:
        """How many insights of `kind` this call has shown (the coach's next tip index)."""
        return self.shown[kind]

    def entity_shown(self, entity: str, *, at: float, within: float = REPEAT_AFTER_SECONDS) -> bool:
        """Whether an insight about `entity` (a competitor's brief) passed less than `within`
        seconds of call time before `at`: the gate would hold another one back as a repeat."""
        last = self.entities.get(entity.lower())
        return last is not None and at - last < within


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
        repeat_after_seconds: float = REPEAT_AFTER_SECONDS,
        restate_seconds: float = 8.0,
        near_duplicate: float = 90.0,
        low_priority: float = 0.5,
        major_priority: float = 0.7,
    ) -> None:
        self.per_minute = max(1, per_minute)
        self.repeat_after = repeat_after_seconds
        self.restate = restate_seconds
        self.near_duplicate = near_duplicate
        self.low_priority = low_priority
        self.major_priority = major_priority

    def budget(self, priority: float) -> int | None:
        """How many insights may already be in the window for one of `priority` to pass
        (None: not limited)."""
        if priority >= self.major_priority:
            return None
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

    def _repeat(self, insight: Insight, key: str, state: GateState, at: float) -> str | None:
        last = state.keys.get(key)
        if last is not None:
            if insight.agent == "coach" and insight.kind.startswith(RULE_FAMILIES):
                if at - last < self.restate:
                    return "duplicate kind: the same point was just shown"
            elif at - last < self.repeat_after:
                return "duplicate kind"
        entity = insight.entity.lower() if insight.entity else None
        if entity and insight.agent != "qa":
            last = state.entities.get(entity)
            if last is not None and at - last < self.repeat_after:
                return "duplicate entity"
        content = _norm(insight.content)
        for shown in state.contents:
            if fuzz.token_sort_ratio(content, shown) >= self.near_duplicate:
                return "near-duplicate content"
        return None

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
        repeat = self._repeat(insight, key, state, at)
        if repeat is not None:
            return GateDecision(False, repeat, insight)

        while state.admitted_at and state.admitted_at[0] <= at - WINDOW_SECONDS:
            state.admitted_at.popleft()
        new_objection = insight.kind.startswith("objection.") and not state.shown[insight.kind]
        budget = None if new_objection else self.budget(priority)
        if budget is not None and len(state.admitted_at) >= budget:
            return GateDecision(False, "rate limited (minor tip)", insight)

        state.admitted_at.append(at)
        state.keys[key] = at
        state.shown[insight.kind] += 1
        if insight.entity and insight.agent != "qa":
            state.entities[insight.entity.lower()] = at
        state.contents.append(_norm(insight.content))
        return GateDecision(True, "ok", insight)
