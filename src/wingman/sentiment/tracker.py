"""Live sentiment of one call: each final customer segment scored as it arrives, and a sharp
drop turned into a coaching moment ("the customer just went cold after the price").

A drop is the customer's score falling at least DROP below the mean of their previous
segments (two at least) into negative ground. What came just before names the moment: the
customer's own words or the rep's last turn about price, contract, rollout or a competitor.
One moment per COOLDOWN seconds of call time at most, so a cold stretch is not a flood.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from wingman.events import Insight, TranscriptFragment
from wingman.sentiment.model import Sentiment, SentimentModel
from wingman.speakers.roles import CUSTOMER, REP

DROP = 0.6
COLD = -0.25
COOLDOWN = 45.0
HISTORY = 3
_TOPICS = (
    ("the price", r"\b(?:price|pricing|cost|costs|budget|quote|expensive|dollars?|per seat|discount)\b|\$\d"),
    ("the contract terms", r"\b(?:contract|commitment|annual|term|terms|lock(?:ed)? in|renewal)\b"),
    ("the rollout plan", r"\b(?:implementation|rollout|roll out|migration|onboarding|setup|timeline)\b"),
    ("the competitor comparison", r"\b(?:competitor|aircall|dialpad|ringcentral|gong|talkdesk)\b"),
)
_TOPIC_PATTERNS = [(name, re.compile(pattern, re.I)) for name, pattern in _TOPICS]
_ADVICE = {
    "the price": "acknowledge it, then ask what budget they had in mind before defending the number.",
    "the contract terms": "ask which term worries them; offer a shorter start or an exit clause.",
    "the rollout plan": "ask what a bad rollout cost them before; walk through the first two weeks.",
    "the competitor comparison": "ask what they value in that option before comparing features.",
}
_DEFAULT_ADVICE = "pause and ask what is behind that, before you go on."


@dataclass(frozen=True)
class Scored:
    """A scored customer segment: the `sentiment` event's payload and, on a sharp drop, the
    coaching insight to show."""

    segment_id: str
    sentiment: Sentiment
    sentences: list[Sentiment]
    start: float
    end: float
    coaching: Insight | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.segment_id,
            "score": self.sentiment.score,
            "label": self.sentiment.label,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "sentences": [{"score": s.score, "label": s.label} for s in self.sentences],
        }


def topic_of(*texts: str) -> str | None:
    """What a stretch of conversation was about, for naming a drop (None: nothing we know)."""
    for text in texts:
        for name, pattern in _TOPIC_PATTERNS:
            if pattern.search(text):
                return name
    return None


class SentimentTracker:
    """Per call: scores the customer's final segments and spots sharp drops."""

    def __init__(self, *, model: SentimentModel, call_id: str, user_id: str, workspace_id: str = "") -> None:
        self._model = model
        self._call_id = call_id
        self._user_id = user_id
        self._workspace_id = workspace_id
        self._history: deque[float] = deque(maxlen=HISTORY)
        self._last_rep = ""
        self._last_moment_at: float | None = None

    def observe(self, fragment: TranscriptFragment) -> Scored | None:
        """Score a final customer segment (None for interims and the rep's lines, which only
        update what the rep last said)."""
        if not fragment.is_final:
            return None
        if fragment.speaker != CUSTOMER:
            if fragment.speaker == REP:
                self._last_rep = fragment.text
            return None
        overall, sentences = self._model.score_text(fragment.text)
        coaching = self._drop(fragment, overall)
        self._history.append(overall.score)
        return Scored(fragment.id, overall, sentences, fragment.start, fragment.end, coaching)

    def _drop(self, fragment: TranscriptFragment, now: Sentiment) -> Insight | None:
        if len(self._history) < 2 or now.score > COLD:
            return None
        baseline = sum(self._history) / len(self._history)
        if baseline - now.score < DROP:
            return None
        if self._last_moment_at is not None and fragment.start - self._last_moment_at < COOLDOWN:
            return None
        self._last_moment_at = fragment.start
        topic = topic_of(fragment.text, self._last_rep)
        went_cold = f"The customer just went cold after {topic}" if topic else "The customer just went cold"
        return Insight(
            call_id=self._call_id,
            user_id=self._user_id,
            workspace_id=self._workspace_id,
            agent="coach",
            category="Tone",
            kind="sentiment.drop",
            content=f"{went_cold}: {_ADVICE.get(topic or '', _DEFAULT_ADVICE)}",
            context_snippet=fragment.text[:300],
            confidence=round(min(1.0, baseline - now.score), 2),
            priority=0.8,
        )
