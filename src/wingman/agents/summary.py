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
from dataclasses import dataclass, field
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
- "action_items": concrete follow-ups of both sides, each "Rep: ..." or "Customer: ...", with
  the date when stated ("Rep: send the proposal (due: Friday)");
- "summary" as short labelled lines: Customer, Needs, Pains, Objections (with how the rep
  answered), Competitors, Questions (with the answer given), Buying signals, Next steps; never
  a file name.
Use only what was said. Reply with JSON only, matching the schema."""

# what a commitment does ("I will send ...", "we'll switch on the trial ...")
_ACTS = (
    r"send|set up|schedule|book|share|follow up|get back|email|call|loop in|introduce|prepare|"
    r"put together|pull together|gather|collect|compile|draft|review|check|confirm|arrange|organize|"
    r"start|run|get|pick|talk|speak|discuss|look|come back|bring|ask|show|forward|"
    r"switch (?:\w+ )?on|turn (?:\w+ )?on|activate"
)
_COMMITMENT = re.compile(
    r"^(?:ok(?:ay)?,?\s+|so,?\s+|great,?\s+|good,?\s+|sure,?\s+|and\s+|then\s+)*(?:i will|i'll|we will|"
    r"we'll|i am going to|i'm going to|we are going to|we're going to|let me|i can|we can|i need to|"
    rf"we need to|i have to)\s+(?:also\s+)?(?P<action>(?:{_ACTS})\b.*)",
    re.I,
)
# "switch on the trial Friday and send a setup checklist tomorrow": two actions of one owner
_AND_THEN = re.compile(rf",?\s+and\s+(?:then\s+)?(?=(?:{_ACTS})\b)", re.I)
_SEND_ME = re.compile(
    r"^(?:okay,?\s+|ok,?\s+|so,?\s+|sure,?\s+|great,?\s+)?(?:please\s+)?send me (?P<action>.+)", re.I
)
_DATE = re.compile(
    r"\b(today|tonight|tomorrow|this week|next week|this month|next month|end of (?:the )?(?:day|week|"
    r"month|quarter)|(?:on |by |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:in |by |after |before )?(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december)|in (?:a|one|two|three|a few|a couple of) (?:days|weeks|months))\b",
    re.I,
)
_INTRO = re.compile(
    r"\b(i am|i'm|i run|i own|i manage|i lead|i look after|i head|we are|we're|we run|we have|we own|"
    r"we manage|we look after|we operate|our (?:company|firm|team|practice|district|group)|"
    # "Cedar Paws is just me, two nurses and a receptionist"
    r"(?:is|it's|it is) (?:just |only )?(?:me|us|the (?:two|three|four|five) of us) and|"
    r"(?:is|it's|it is) (?:just |only )?me,)",
    re.I,
)
_SIZE = re.compile(
    r"\b(staff|agents|employees|people|technicians|plumbers|accountants|preparers|devices|laptops|"
    r"locations|restaurants|schools|clients|seats|users|sites|stores|offices|units|apartments|doors|"
    r"buildings|properties|nurses|vets|doctors|receptionists?|members|clinics|hospitals|warehouses|"
    r"vehicles|trucks|beds)\b",
    re.I,
)
_NEED = re.compile(
    r"\b(we need|we want|we would like|we'd like|we're looking for|we are looking for|looking for|"
    r"what matters|is important|must have|we're evaluating|we are evaluating|matters most)\b",
    re.I,
)
_PAIN = re.compile(
    r"\b(problem|headache|pain|chaos|lose|lost|losing|miss|missed|late|manual(?:ly)?|by hand|wrong|"
    r"waste[sd]?|scare|hate|struggl\w*|drops?|weak|slow|spreadsheets?|whiteboard|overspen\w*|"
    r"arguments?|takes? (?:\w+ )?(?:hours|weeks|days)|never know|criss-cross\w*|back and forth|"
    r"phishing|breach\w*|hacked|attack\w*|got through|nightmare|mess|mistakes?|errors?|no-?shows?|"
    r"no shows|eats (?:up )?(?:most|all|half|a lot)|no (?:real |good |easy )?way (?:of|to)|half the time|"
    r"sticky notes|drift\w* off|(?:calls?|ring\w*|phon\w*) (?:\w+ )?(?:twice|three times|again and again))\b",
    re.I,
)
# a courtesy ("No problem.", "Not a problem at all") says nothing of the customer's pains
_COURTESY = re.compile(r"^\W*(?:no|not a) (?:problem|worries)\b[^.?!]{0,12}[.!]?\W*$", re.I)
_OBJECTION_LABELS = {
    "price": "Price",
    "timing": "Timing",
    "authority": "Authority",
    "need": "Need",
    "competitor": "Competitor",
    "trust": "Trust",
}
# one key moment per moment: when two kinds fall on one sentence, the first of these wins
_MOMENT_RANK = {"objection": 0, "competitor": 1, "buying_signal": 2, "question": 3, "next_step": 4}


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


def _index_of(snippet: str, segments: Sequence[SegmentLike]) -> int | None:
    """The segment `snippet` was taken from (best fuzzy match), or None."""
    best, found = 0.0, None
    probe = snippet.rstrip("\u2026").strip().lower()
    for i, seg in enumerate(segments):
        score = fuzz.partial_ratio(probe, seg.text.lower())
        if score > best:
            best, found = score, i
    return found if best >= 70 else None


_CLAUSE = re.compile(r",?\s+and\s+(?=(?:i|we)\b)|,\s+(?=(?:i|we) (?:will|'ll|need|can)\b)", re.I)


def _clauses(text: str) -> list[str]:
    """Sentences, split where a second commitment starts ("send me X and I will look at it")."""
    return [part for sentence in sentences(text) for part in _CLAUSE.split(sentence) if part.strip()]


def _reply(index: int, segments: Sequence[SegmentLike]) -> str | None:
    """What the rep said right after segment `index` (their answer), if the rep spoke next."""
    for seg in segments[index + 1 : index + 3]:
        if seg.speaker == "rep":
            return seg.text.strip()
        if seg.speaker is None:
            return None
    return None


def _quote(text: str) -> str:
    return f'"{" ".join(text.split()).rstrip()}"'


def _action(text: str) -> str:
    text = text.strip().rstrip(".!")
    return text[:1].upper() + text[1:]


def _item(owner: str, action: str) -> str:
    """ "Rep: send the proposal (by Friday)": the owner, the action and its date when said."""
    date = _DATE.search(action)
    due = f" (due: {date.group(1).strip()})" if date else ""
    return f"{owner}: {_action(action)}{due}"


def _join(items: Sequence[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class _Notes:
    customer: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    pains: list[str] = field(default_factory=list)
    objections: list[str] = field(default_factory=list)
    competitors: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    moments: dict[int, KeyMoment] = field(default_factory=dict)  # segment index -> its moment
    flagged: set[int] = field(default_factory=set)  # segments an insight already covers
    answered: set[int] = field(default_factory=set)  # questions the Q&A agent answered

    def moment(self, index: int, moment: KeyMoment) -> None:
        held = self.moments.get(index)
        if held is None or _MOMENT_RANK.get(moment.kind, 9) < _MOMENT_RANK.get(held.kind, 9):
            self.moments[index] = moment


def _from_insights(notes: _Notes, segments: Sequence[SegmentLike], insights: Sequence[InsightLike]) -> None:
    answered = notes.answered
    for insight in insights:
        family, _, key = insight.kind.partition(".")
        snippet = insight.context_snippet or insight.content
        index = _index_of(snippet, segments)
        at = segments[index].start if index is not None else 0.0
        said = segments[index].text if index is not None else snippet
        reply = _reply(index, segments) if index is not None else None
        if family == "objection":
            label = _OBJECTION_LABELS.get(key, key.replace("_", " ").title())
            line = f"{label}: {_quote(said)}" + (f"; the rep answered {_quote(reply)}" if reply else "")
            notes.objections.append(line)
            notes.moment(
                index if index is not None else -len(notes.moments) - 1,
                KeyMoment(kind="objection", text=f"{label} objection: {said}", at=at),
            )
        elif family == "competitor":
            name = insight.entity or key
            notes.competitors.append(f"{name} ({_quote(said)})")
            notes.moment(
                index if index is not None else -len(notes.moments) - 1,
                KeyMoment(kind="competitor", text=f"{name} mentioned: {said}", at=at),
            )
        elif family == "qa" and index is not None and index not in answered:
            answered.add(index)
            answer = reply or insight.content
            notes.questions.append(f"{_quote(snippet)} answered {_quote(answer)}")
            notes.moment(index, KeyMoment(kind="question", text=f"{snippet} \u2192 {answer}", at=at))
        elif family == "signal":
            notes.signals.append(_quote(said))
            notes.moment(
                index if index is not None else -len(notes.moments) - 1,
                KeyMoment(kind="buying_signal", text=said, at=at),
            )
        if index is not None:
            notes.flagged.add(index)


def draft_summary(segments: Sequence[SegmentLike], insights: Sequence[InsightLike]) -> CallSummary:
    """The extractive CRM notes of a call from its segments and the insights shown live: who the
    customer is and what they need, pains, objections with the rep's answers, competitors,
    questions with the answer given, buying signals and next steps with owner and date."""
    notes = _Notes()
    _from_insights(notes, segments, insights)
    answered = notes.answered
    for i, seg in enumerate(segments):
        customer = seg.speaker != "rep"
        for sentence in _clauses(seg.text):
            if customer:
                fresh = i not in notes.flagged  # a moment an insight already covered
                if (
                    fresh
                    and len(notes.customer) < 2
                    and _INTRO.search(sentence)
                    and (_SIZE.search(sentence) or len(notes.customer) == 0)
                ):
                    notes.customer.append(_quote(sentence))
                    continue
                if (
                    fresh
                    and question_kind(sentence) == "explicit"
                    and len(sentence.split()) >= 4
                    and i not in answered
                ):
                    reply = _reply(i, segments)
                    notes.questions.append(_quote(sentence) + (f" answered {_quote(reply)}" if reply else ""))
                    notes.moment(i, KeyMoment(kind="question", text=sentence, at=seg.start))
                    continue
                if _NEED.search(sentence):
                    notes.needs.append(_quote(sentence))
                elif _PAIN.search(sentence) and not _COURTESY.match(sentence):
                    notes.pains.append(_quote(sentence))
            m = _COMMITMENT.search(sentence) or (_SEND_ME.search(sentence) if customer else None)
            if m:
                # "send me X" is the rep's to do; "I will X" belongs to whoever said it
                owner = "Rep" if seg.speaker == "rep" or m.re is _SEND_ME else "Customer"
                action = f"send {m.group('action')}" if m.re is _SEND_ME else m.group("action")
                notes.actions.extend(_item(owner, part) for part in _AND_THEN.split(action) if part.strip())
                notes.moment(i, KeyMoment(kind="next_step", text=sentence, at=seg.start))
    lines: list[str] = []
    for title, items in (
        ("Customer", notes.customer),
        ("Needs", notes.needs),
        ("Pains", notes.pains),
        ("Objections", notes.objections),
        ("Competitors", notes.competitors),
        ("Questions", notes.questions),
        ("Buying signals", notes.signals),
        ("Next steps", notes.actions),
    ):
        if items:
            lines.append(f"{title}: {'; '.join(dict.fromkeys(items))}.")
    if not lines:
        words = sum(len(s.text.split()) for s in segments)
        lines.append(
            "No objections, questions or next steps were detected"
            + (f" in {words} words of conversation." if words else "; the call was empty.")
        )
    moments = sorted(notes.moments.values(), key=lambda m: m.at)
    return CallSummary(
        summary="\n".join(lines), key_moments=moments, action_items=list(dict.fromkeys(notes.actions))
    )


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
