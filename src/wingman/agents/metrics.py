"""Live conversation metrics: rep talk ratio, longest rep monologue, questions asked.

Talk time comes from the blocks' `talk_seconds` (the call's running totals per speaker,
wingman/talktime.py);
when a block carries none, its own duration is added to its speaker. Gong's research puts top
reps near a 43% talk ratio and short monologues; the playbook sets the nudge thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wingman.agents.text import normalize, question_kind, sentences
from wingman.events import CallMetrics, TranscriptBlock
from wingman.speakers.roles import CUSTOMER, REP
from wingman.talktime import rep_ratio

BACKCHANNEL_WORDS = 3  # "mm-hmm", "right, okay": the rep keeps the floor
BACKCHANNEL_SECONDS = 1.5


def count_questions(text: str) -> int:
    return sum(1 for s in sentences(text) if question_kind(s) == "explicit")


@dataclass
class ConversationMetrics:
    rep_seconds: float = 0.0
    customer_seconds: float = 0.0
    rep_questions: int = 0
    customer_questions: int = 0
    longest_monologue_seconds: float = 0.0
    current_monologue_seconds: float = 0.0
    call_seconds: float = 0.0
    monologue_start: float | None = None
    monologue_nudged: bool = False
    ratio_nudged: bool = False
    questions_nudged: bool = False
    _seen: set[int] = field(default_factory=set)

    @property
    def rep_talk_ratio(self) -> float | None:
        ratio = rep_ratio({REP: self.rep_seconds, CUSTOMER: self.customer_seconds})
        return round(ratio, 4) if ratio is not None else None

    def observe(self, block: TranscriptBlock) -> None:
        """Fold one block in (idempotent per block seq)."""
        if block.seq in self._seen:
            return
        self._seen.add(block.seq)
        self.call_seconds = max(self.call_seconds, block.end)
        duration = max(0.0, block.end - block.start)
        if block.talk_seconds:
            self.rep_seconds = max(self.rep_seconds, block.talk_seconds.get(REP, 0.0))
            self.customer_seconds = max(self.customer_seconds, block.talk_seconds.get(CUSTOMER, 0.0))
        elif block.speaker == REP:
            self.rep_seconds += duration
        elif block.speaker == CUSTOMER:
            self.customer_seconds += duration
        questions = count_questions(block.text)
        if block.speaker == REP:
            self.rep_questions += questions
            if self.monologue_start is None:
                self.monologue_start = block.start
                self.monologue_nudged = False
            self.current_monologue_seconds = block.end - self.monologue_start
            self.longest_monologue_seconds = max(
                self.longest_monologue_seconds, self.current_monologue_seconds
            )
        elif block.speaker == CUSTOMER:
            self.customer_questions += questions
            words = len(normalize(block.text).split())
            if words > BACKCHANNEL_WORDS and duration >= BACKCHANNEL_SECONDS or questions:
                self.monologue_start = None
                self.current_monologue_seconds = 0.0

    def snapshot(self, *, call_id: str, user_id: str, workspace_id: str = "") -> CallMetrics:
        return CallMetrics(
            call_id=call_id,
            user_id=user_id,
            workspace_id=workspace_id,
            rep_talk_ratio=self.rep_talk_ratio,
            rep_seconds=round(self.rep_seconds, 2),
            customer_seconds=round(self.customer_seconds, 2),
            longest_monologue_seconds=round(self.longest_monologue_seconds, 2),
            rep_questions=self.rep_questions,
            customer_questions=self.customer_questions,
        )


@dataclass
class DetectionScore:
    """Precision and recall of labelled detections (objections, answers, briefs...): what the
    quality tests and bench/tips.py count, in one place."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, expected: set[str], got: set[str], text: str) -> list[str]:
        """Count one labelled moment; returns one line per label missed or extra (also kept
        in `errors`)."""
        self.tp += len(expected & got)
        self.fp += len(got - expected)
        self.fn += len(expected - got)
        misses = [f"missed {label}: {text}" for label in sorted(expected - got)]
        misses += [f"extra {label}: {text}" for label in sorted(got - expected)]
        self.errors += misses
        return misses

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def line(self, name: str) -> str:
        """One printable line: precision, recall and the counts behind them."""
        return (
            f"{name:34} precision {self.precision:.3f} recall {self.recall:.3f} "
            f"(tp {self.tp}, fp {self.fp}, fn {self.fn})"
        )
