"""Talk-time nudges: the rep talks too much, for too long, or asks too few questions. The
thresholds and tips come from the playbook's `nudges` section."""

from __future__ import annotations

from typing import Any

from wingman.agents.findings import Finding
from wingman.agents.metrics import ConversationMetrics
from wingman.agents.playbook import Nudge, Playbook


def nudges(playbook: Playbook, m: ConversationMetrics) -> list[Finding]:
    found: list[Finding] = []
    cfg = playbook.nudges

    def finding(key: str, nudge: Nudge, why: str, values: dict[str, Any]) -> Finding:
        return Finding(
            f"nudge.{key}", nudge.label, nudge.category, nudge.priority, nudge.tips, 1.0, why, values
        )

    ratio = m.rep_talk_ratio
    total = m.rep_seconds + m.customer_seconds
    if ratio is not None and m.ratio_nudged and ratio < cfg.talk_ratio.max_ratio - 0.1:
        m.ratio_nudged = False  # back in balance: may nudge again later
    if (
        ratio is not None
        and not m.ratio_nudged
        and total >= cfg.talk_ratio.min_seconds
        and ratio > cfg.talk_ratio.max_ratio
    ):
        m.ratio_nudged = True
        found.append(
            finding(
                "talk_ratio",
                cfg.talk_ratio,
                f"rep talk ratio {ratio:.2f} > {cfg.talk_ratio.max_ratio}",
                {"ratio": ratio},
            )
        )
    if m.current_monologue_seconds > cfg.monologue.max_seconds and not m.monologue_nudged:
        m.monologue_nudged = True
        found.append(
            finding(
                "monologue",
                cfg.monologue,
                f"rep monologue {m.current_monologue_seconds:.0f}s > {cfg.monologue.max_seconds:.0f}s",
                {"seconds": m.current_monologue_seconds},
            )
        )
    if (
        not m.questions_nudged
        and m.call_seconds >= cfg.questions.after_seconds
        and m.rep_questions < cfg.questions.min_questions
    ):
        m.questions_nudged = True
        found.append(
            finding(
                "questions",
                cfg.questions,
                f"{m.rep_questions} rep questions after {m.call_seconds:.0f}s",
                {"questions": m.rep_questions},
            )
        )
    return found
