"""One bus event of every type, with awkward values (unicode, None, floats), for the codec and
bus contract tests."""

from __future__ import annotations

from datetime import UTC, datetime

from wingman.events import (
    AgentRun,
    BusEvent,
    CallEnded,
    CallMetrics,
    CallStarted,
    Feedback,
    Hops,
    Insight,
    TranscriptBlock,
    TranscriptFragment,
)

WHEN = datetime(2025, 5, 1, 12, 30, tzinfo=UTC)
ONE_OF_EACH: list[BusEvent] = [
    TranscriptFragment(
        call_id="c",
        text="Is your platform SOC 2 compliant?",
        is_final=True,
        speaker="customer",
        channel=1,
        start=61.2,
        end=63.0,
        confidence=0.91,
        audio_end_at=5123.5,
    ),
    TranscriptBlock(
        call_id="c",
        user_id="u",
        seq=7,
        text="Héllo — “quotes” 日本語 ✓",
        speaker=None,
        start=1.0,
        end=2.0,
        segment_ids=("a", "b"),
        talk_seconds={"rep": 12.5, "customer": 30.25},
        hops=Hops(audio_end=1764600000.125, final_shown=1764600000.25, block_sent=1764600000.3,
                  trace={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}),
    ),
    Insight(
        call_id="c",
        user_id="u",
        agent="search",
        category="Competitor",
        kind="competitor.aircall",
        content="Relay's reporting is deeper.",
        entity="Aircall",
        source="https://example.com/x",
        confidence=0.7,
        created_at=WHEN,
        hops=Hops(audio_end=1764600000.125, block_sent=1764600000.3, insight_sent=1764600000.4),
    ),
    AgentRun(
        call_id="c",
        user_id="u",
        block_id="b",
        agent="qa",
        input="q",
        rule_or_prompt="p",
        output="o",
        provider="gemini",
        latency_ms=812.5,
        error="timeout",
        created_at=WHEN,
    ),
    CallMetrics(
        call_id="c",
        user_id="u",
        rep_talk_ratio=None,
        rep_seconds=0.0,
        customer_seconds=0.0,
        longest_monologue_seconds=0.0,
        rep_questions=0,
        customer_questions=0,
    ),
    CallStarted(call_id="c", user_id="u", title="Intro", started_at=WHEN),
    CallEnded(call_id="c", user_id="u", ended_at=WHEN),
    Feedback(id="r", user_id="u", status="disliked"),
]
