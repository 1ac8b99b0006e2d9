"""End-of-call summary: a short summary, key moments with their times, and action items.

The local draft is extractive: the objections, competitor mentions and answered questions the
agents flagged during the call (placed at the transcript segment they came from), the
customer's other questions, and commitments ("I will send a proposal on Friday") as action
items. The draft goes to the LLM with the transcript: a generative provider rewrites it, the
local engine returns it as is, and any failure keeps the draft.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from wingman.agents.text import question_kind, sentences
from wingman.errors import ProviderError
from wingman.llm.base import Llm, LlmRequest
from wingman.profile import CompanyProfile, company_line
from wingman.store.records import KeyMoment

log = logging.getLogger(__name__)

SUMMARY_TIMEOUT = 8.0
MAX_TRANSCRIPT_CHARS = 24_000

SUMMARY_SYSTEM = """You write the CRM notes for a sales call that just ended. {company}
From the transcript and the moments flagged live:
- "summary": 2-4 sentences: who the customer is and what they need, the objections and
  competitors that came up, how interested they are, and the agreed next step;
- "key_moments": objections, competitor mentions, important questions and commitments, each
  {"kind": "objection"|"competitor"|"question"|"buying_signal"|"next_step", "text": str,
  "at": seconds into the call};
- "action_items": concrete follow-ups with owner and date when stated.
Use only what was said. Reply with JSON only, matching the schema."""

_COMMITMENT = re.compile(
    r"^(?:ok(?:ay)?,?\s+|so,?\s+|great,?\s+|and\s+)*(?:i will|i'll|we will|we'll|i am going to|i'm going "
    r"to|we are going to|we're going to|let me|i can|we can)\s+(?P<action>(?:send|set up|schedule|"
    r"book|share|follow up|get back|email|call|loop in|introduce|prepare|put together|draft|"
    r"review|check|confirm|arrange|organize|start|run|get you|get that)\b.*)",
    re.I,
)
_CUSTOMER_TODO = re.compile(
    r"\b(?:i|we)(?: will| would)?(?: also)? (?:need|have) to (?P<action>(?:check|run|talk|speak|"
    r"discuss|get|review|confirm|loop|ask)\b.*)",
    re.I,
)
_OBJECTION_LABELS = {
    "price": "Price",
    "timing": "Timing",
    "authority": "Authority",
    "need": "Need",
    "competitor": "Competitor",
    "trust": "Trust",
}


class SegmentLike(Protocol):
    @property
    def text(self) -> str: ...

    @property
    def speaker(self) -> str | None: ...

    @property
    def start(self) -> float: ...


class InsightLike(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def content(self) -> str: ...

    @property
    def context_snippet(self) -> str: ...

    @property
    def entity(self) -> str | None: ...

    @property
    def source(self) -> str | None: ...


class CallSummary(BaseModel):
    summary: str
    key_moments: list[KeyMoment] = Field(default_factory=list)
    action_items: list[str] = Field(default_factory=list)


def _at(snippet: str, segments: Sequence[SegmentLike]) -> float:
    """Start time of the segment `snippet` was taken from (best fuzzy match)."""
    best, at = 0.0, 0.0
    probe = snippet.rstrip("\u2026").strip().lower()
    for seg in segments:
        score = fuzz.partial_ratio(probe, seg.text.lower())
        if score > best:
            best, at = score, seg.start
    return at if best >= 70 else 0.0


_FIRST_PERSON = [
    (r"\bmy\b", "their"),
    (r"\bour\b", "their"),
    (r"\bwe\b", "they"),
    (r"\bus\b", "them"),
    (r"\bI\b", "they"),
    (r"\bme\b", "them"),
]


def _third_person(text: str) -> str:
    for pattern, repl in _FIRST_PERSON:
        text = re.sub(pattern, repl, text, flags=re.I)
    return text


def _action(text: str) -> str:
    text = text.strip().rstrip(".!")
    return text[:1].upper() + text[1:]


def _join(items: Sequence[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def draft_summary(segments: Sequence[SegmentLike], insights: Sequence[InsightLike]) -> CallSummary:
    """The extractive summary of a call from its segments and the insights shown live."""
    moments: list[KeyMoment] = []
    objections: list[str] = []
    competitors: list[str] = []
    topics: list[str] = []
    signals = 0
    covered: set[str] = set()
    for insight in insights:
        family, _, key = insight.kind.partition(".")
        snippet = insight.context_snippet or insight.content
        if family == "objection":
            label = _OBJECTION_LABELS.get(key, key.replace("_", " ").title())
            objections.append(label.lower())
            moments.append(
                KeyMoment(kind="objection", text=f"{label} objection: {snippet}", at=_at(snippet, segments))
            )
        elif family == "competitor":
            name = insight.entity or key
            competitors.append(name)
            moments.append(
                KeyMoment(kind="competitor", text=f"{name} mentioned: {snippet}", at=_at(snippet, segments))
            )
        elif family == "qa":
            topics.append(key.replace("-", " "))
            covered.add(snippet.lower())
            moments.append(
                KeyMoment(
                    kind="question", text=f"{snippet} \u2192 {insight.content}", at=_at(snippet, segments)
                )
            )
        elif family == "signal":
            signals += 1
            moments.append(KeyMoment(kind="buying_signal", text=snippet, at=_at(snippet, segments)))
    actions: list[str] = []
    customer_todos: list[str] = []
    for seg in segments:
        for sentence in sentences(seg.text):
            if (
                seg.speaker != "rep"
                and question_kind(sentence) == "explicit"
                and sentence.lower() not in covered
                and len(sentence.split()) >= 4
            ):
                moments.append(KeyMoment(kind="question", text=sentence, at=seg.start))
            m = _COMMITMENT.search(sentence)
            if m and seg.speaker != "customer":
                actions.append(_action(m.group("action")))
                moments.append(KeyMoment(kind="next_step", text=sentence, at=seg.start))
                continue
            m = _CUSTOMER_TODO.search(sentence)
            if m and seg.speaker == "customer":
                customer_todos.append(_third_person(m.group("action").strip().rstrip(".")))
    # one moment per text, in call order
    seen: set[tuple[str, str]] = set()
    unique = []
    for moment in sorted(moments, key=lambda m: m.at):
        if (moment.kind, moment.text) not in seen:
            seen.add((moment.kind, moment.text))
            unique.append(moment)
    parts: list[str] = []
    if competitors or objections:
        said = []
        if competitors:
            said.append(f"mentioned {_join(competitors)}")
        if objections:
            kinds = list(dict.fromkeys(objections))
            said.append(f"raised {_join(kinds)} objection{'s' if len(kinds) > 1 else ''}")
        parts.append(f"The customer {' and '.join(said)}.")
    if topics:
        parts.append(f"They asked about {_join(topics)}.")
    if signals:
        parts.append("They showed buying signals.")
    if actions:
        parts.append(f"Next steps: {_join([a[:1].lower() + a[1:] for a in actions])}.")
    if customer_todos:
        parts.append(f"The customer needs to {_join(customer_todos)}.")
    if not parts:
        words = sum(len(s.text.split()) for s in segments)
        parts.append(
            "No objections, questions or next steps were detected"
            + (f" in {words} words of conversation." if words else "; the call was empty.")
        )
    items = actions + [f"Customer: {_action(t)}" for t in customer_todos]
    return CallSummary(summary=" ".join(parts), key_moments=unique, action_items=list(dict.fromkeys(items)))


async def summarize_call(
    *,
    llm: Llm,
    call_id: str,
    segments: Sequence[SegmentLike],
    insights: Sequence[InsightLike],
    profile: CompanyProfile | None = None,
) -> CallSummary:
    """Summary, key moments and action items of a finished call (never raises on LLM trouble)."""
    draft = draft_summary(segments, insights)
    transcript = "\n".join(f"[{s.start:.0f}s] {s.speaker or 'speaker'}: {s.text}" for s in segments)
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        transcript = transcript[-MAX_TRANSCRIPT_CHARS:]
    prompt = (
        f"Transcript:\n{transcript}\n\nFlagged during the call (draft):\n"
        f"{draft.model_dump_json()}\n\nSchema: {CallSummary.model_json_schema()}"
    )
    request = LlmRequest(
        task="summary",
        system=SUMMARY_SYSTEM.replace("{company}", company_line(profile)),
        prompt=prompt,
        schema=CallSummary,
        context={"call_id": call_id, "draft": draft.model_dump()},
    )
    try:
        result = await llm.complete(request, timeout=SUMMARY_TIMEOUT)
    except ProviderError as e:
        log.warning(
            "summary llm failed; extractive draft kept", extra={"call_id": call_id, "error": type(e).__name__}
        )
        return draft
    return result if result.summary.strip() else draft
