"""What the coach found in a block, before it becomes a tip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    kind: str  # "objection.price", "signal.buying", "nudge.talk_ratio"
    label: str
    category: str
    priority: float
    tips: list[str]
    confidence: float
    why: str  # the rule's name and the words that matched, or the metric (no transcript text)
    values: dict[str, Any] = field(default_factory=dict)
    facts: str | None = None  # knowledge-base query for the tenant's own facts (playbook)
    sentence: str = ""  # the sentence it was found in (for the facts query; never logged)
