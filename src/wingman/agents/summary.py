"""End-of-call summary: a short summary, key moments with their times, and action items.

The local draft is extractive, in note words (agents/notes.py: no quotes, no fillers): who the
customer is, needs, pains and concerns from the customer's own sentences, the objections,
competitor mentions and answered questions the agents flagged during the call (placed at the
sentence they came from, with the rep's answer), the customer's other questions, and both
sides' commitments as action items with owner and date (agents/commitments.py). The draft goes
to the LLM with the transcript: a generative provider rewrites it, the local engine returns it
as is, and any failure keeps the draft.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from wingman.agents.commitments import Turn, action_items, commits, rep_reply
from wingman.agents.notes import (
    AUTHORITY,
    CONCERN,
    NEED,
    SIGN_UP,
    defends,
    gist,
    introduces,
    is_intro,
    is_pain,
    is_question,
    is_reaction,
    is_size,
    is_topic,
    needs_context,
    opens_with_count,
    sentence_of,
    states,
    tidy,
)
from wingman.agents.text import is_social, sentences
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
  answered), Competitors, Questions (with the answer given), Buying signals, Next steps; each
  item a short phrase in plain note words (facts, names, numbers, dates kept), not a quote of the
  transcript, no small talk; never a file name.
Use only what was said. Reply with JSON only, matching the schema."""

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


def _reply(index: int, segments: Sequence[SegmentLike]) -> str | None:
    """What the rep said right after segment `index` (their answer), if the rep spoke next
    and the customer did not ask something else first."""
    return rep_reply(index, segments, stop=_asks)


def _asks(text: str) -> bool:
    return any(is_question(s) for s in sentences(text))


def _phrase(said: Sequence[str], k: int, *, ahead: bool = False, before: bool = False) -> str:
    """Sentence `k` of a turn as a note phrase, with the sentence it leans on: the one before
    ("I'm not sure I can find that"), or with `ahead` the one after ("the other thing is the
    arguments. We had a woman swearing blind ..."); `before`: the one before whatever its length
    (an objection's reason often comes first: "we go into the Christmas run ... I'd rather not")."""
    parts = [said[k]]
    short = needs_context(said[k])
    if ahead and short and k + 1 < len(said) and not is_question(said[k + 1]):
        parts.append(said[k + 1])
    elif (before or (short and not ahead)) and k > 0 and not is_question(said[k - 1]):
        lean = not introduces(said, k - 1) and not is_reaction(said[k - 1])
        if len(tidy(said[k - 1]).split()) >= (5 if before else 4) and lean:
            parts.insert(0, said[k - 1])
    return " ".join(t for p in parts if (t := tidy(p))).rstrip(".")


@dataclass
class _Items:
    """One section of the notes: an item per turn (and label), its phrases in the order they
    were said (`at`: the sentence of the turn) and the rep's answer."""

    items: dict[tuple[int, str], tuple[list[tuple[int, str]], str]] = field(default_factory=dict)

    def add(self, turn: int, phrase: str, answer: str | None = None, *, label: str = "", at: int = 0) -> None:
        phrases, held = self.items.setdefault((turn, label), ([], answer or ""))
        if phrase and not any(phrase in p or p in phrase for _, p in phrases):
            phrases.append((at, phrase))
            phrases.sort(key=lambda said: said[0])

    def join(self, turn: int, phrase: str, answer: str | None = None, *, label: str, at: int) -> None:
        """`phrase` in the turn's item if it has one ("I'm not sure it's for a shop my size. The
        paper's worked for twenty years"), else in a new item under `label`."""
        held = next((key for key in self.items if key[0] == turn), (turn, label))
        self.add(turn, phrase, answer, label=held[1], at=at)

    def lines(self) -> list[str]:
        """One line per item; two labels on the same words ("Price, Timing: ...") share one."""
        merged: dict[tuple[int, str, str], list[str]] = {}
        for (turn, label), (phrases, answer) in sorted(self.items.items(), key=lambda kv: kv[0][0]):
            text = " ".join(p if p.endswith(("?", "!")) else p + "." for _, p in phrases).rstrip(".")
            merged.setdefault((turn, text, answer), []).append(label)
        out = []
        for (_, text, answer), labels in merged.items():
            label = ", ".join(x for x in labels if x)
            text = f"{label}: {text}" if label else text
            out.append(f"{text} \u2192 {answer.rstrip('.')}" if answer else text)
        return out


@dataclass
class _Notes:
    customer: list[str] = field(default_factory=list)
    needs: _Items = field(default_factory=_Items)
    pains: _Items = field(default_factory=_Items)
    objections: _Items = field(default_factory=_Items)
    competitors: list[str] = field(default_factory=list)
    questions: _Items = field(default_factory=_Items)
    signals: _Items = field(default_factory=_Items)
    moments: dict[int, KeyMoment] = field(default_factory=dict)  # segment index -> its moment
    rivals: set[int] = field(default_factory=set)  # turns that name a competitor
    used: set[tuple[int, int]] = field(default_factory=set)  # (segment, sentence) already in the notes

    def moment(self, index: int | None, moment: KeyMoment) -> None:
        key = index if index is not None else -len(self.moments) - 1
        held = self.moments.get(key)
        if held is None or _MOMENT_RANK.get(moment.kind, 9) < _MOMENT_RANK.get(held.kind, 9):
            self.moments[key] = moment


# the customer says who they are within the first few turns, after the hellos; an introduction
# later than this does not make what came before it small talk
_INTRO_WITHIN = 6


def _intro_turn(segments: Sequence[SegmentLike]) -> int | None:
    """The first customer turn, among the call's first few, that says who the customer is."""
    for i, seg in enumerate(segments[:_INTRO_WITHIN]):
        said = sentences(seg.text)
        if seg.speaker != "rep" and any(introduces(said, k) for k in range(len(said))):
            return i
    return None


def _from_insights(notes: _Notes, segments: Sequence[SegmentLike], insights: Sequence[InsightLike]) -> None:
    """Objections, competitors and buying signals shown live, then the questions the Q&A agent
    answered (a sentence already noted as an objection or a competitor is not a question too)."""
    ordered = sorted(insights, key=lambda i: i.kind.startswith("qa."))
    intro = _intro_turn(segments)
    for insight in ordered:
        family, _, key = insight.kind.partition(".")
        snippet = insight.context_snippet or insight.content
        index = _index_of(snippet, segments)
        at = segments[index].start if index is not None else 0.0
        said = sentences(segments[index].text) if index is not None else [snippet]
        k = sentence_of(snippet, " ".join(said)) if index is not None else 0
        k = k if k is not None else 0
        if family == "competitor":
            name = insight.entity or key
            k = next((j for j, s in enumerate(said) if name.lower() in s.lower()), k)
        turn = index if index is not None else -1
        reply = _reply(index, segments) if index is not None else None
        answer = gist(reply) if reply else ""
        if family == "objection":
            if is_question(said[k]) and index is not None:
                notes.questions.add(turn, _phrase(said, k), answer, at=k)  # "why so expensive?" asks
                notes.used.add((turn, k))
                continue
            if is_topic(said[k]) and k + 1 < len(said) and is_question(said[k + 1]):
                continue  # "And the price. Is there a break at eighteen?": the question that follows
            if states(SIGN_UP, said[k]):  # "let's just try it": the customer signs up
                notes.signals.add(turn, _phrase(said, k, ahead=True), at=k)
                notes.moment(index, KeyMoment(kind="buying_signal", text=tidy(said[k]), at=at))
                notes.used.add((turn, k))
                continue
            if index is not None and index == intro and (introduces(said, k) or is_size(said[k])):
                continue  # who the customer is and how big ("twelve offices, I've known for years")
            # a promise is an action item ("I'll ask round the pharmacies"), unless it is the
            # decision going elsewhere ("I'll check with my partner"); a goodbye is nothing
            promise = commits(said[k]) and key != "authority" and not AUTHORITY.search(said[k])
            if promise or is_social(said[k]):
                continue
            if intro is not None and index is not None and index < intro:
                continue  # before the customer says who they are: small talk ("I'm stuck in traffic")
            label = _OBJECTION_LABELS.get(key, key.replace("_", " ").title())
            if any(is_question(s) for s in said[k + 1 :]):
                answer = ""  # the rep's reply answers the question asked after it
            phrase = _phrase(said, k, ahead=True, before=True)
            notes.objections.add(turn, phrase, answer, label=label, at=k)
            # the sentences around it that the phrase took in are noted, not pains as well
            around = (j for j in (k - 1, k + 1) if 0 <= j < len(said))
            notes.used |= {(turn, j) for j in around if tidy(said[j]) in phrase}
            text = f"{label} objection: {tidy(said[k])}"
            notes.moment(index, KeyMoment(kind="objection", text=text, at=at))
        elif family == "competitor":
            name = insight.entity or key
            notes.rivals.add(turn)
            # "DentaForge. We've been on it eleven years.": what is said of it, not the name again
            about = k + 1 if tidy(said[k]).rstrip(".!").lower() == name.lower() and k + 1 < len(said) else k
            notes.competitors.append(f"{name} ({tidy(said[about]).rstrip('.')})")
            text = f"{name} mentioned: {tidy(said[k])}"
            notes.moment(index, KeyMoment(kind="competitor", text=text, at=at))
        elif family == "qa" and index is not None and (turn, k) not in notes.used:
            answer = answer or insight.content
            notes.questions.add(turn, _phrase(said, k), answer, at=k)
            notes.moment(index, KeyMoment(kind="question", text=f"{tidy(said[k])} \u2192 {answer}", at=at))
        elif family == "signal":
            # "When can we start?", "if we moved, does all that come with us?": with the answer
            asked = index is not None and is_question(said[k])
            notes.signals.add(turn, _phrase(said, k), answer if asked else None, at=k)
            notes.moment(index, KeyMoment(kind="buying_signal", text=tidy(said[k]), at=at))
        else:
            continue
        notes.used.add((turn, k))


def _from_turns(notes: _Notes, segments: Sequence[SegmentLike]) -> None:
    """Who the customer is, their needs, pains, concerns and questions, from their own turns
    (before they say who they are, the talk is small talk: no pains or needs from it)."""
    intro = _intro_turn(segments)
    for i, seg in enumerate(segments):
        if seg.speaker == "rep":
            continue
        said = sentences(seg.text)
        reply = _reply(i, segments)
        answer = gist(reply) if reply else ""
        for k, sentence in enumerate(said):
            if (i, k) in notes.used:
                continue
            notes.used.add((i, k))
            if introduces(said, k) and (
                not notes.customer or (len(notes.customer) < 2 and is_size(sentence))
            ):
                who = re.sub(r"^(?:we're|we are)\s+", "", tidy(sentence), flags=re.I)
                notes.customer.append(who[:1].upper() + who[1:])
                follows = k + 1 < len(said) and is_size(said[k + 1]) and not is_intro(said[k + 1])
                if len(notes.customer) == 1 and follows:
                    size = tidy(said[k + 1])  # "nine vans, eleven drivers"
                    notes.customer.append(size[:1].lower() + size[1:] if opens_with_count(size) else size)
                    notes.used.add((i, k + 1))
            elif is_question(sentence):
                if len(sentence.split()) >= 4:
                    notes.questions.add(i, _phrase(said, k), answer, at=k)
                    notes.moment(i, KeyMoment(kind="question", text=tidy(sentence), at=seg.start))
            elif CONCERN.search(sentence) or AUTHORITY.search(sentence):
                label = "Authority" if AUTHORITY.search(sentence) else "Concern"
                notes.objections.add(i, _phrase(said, k), answer, label=label, at=k)
                notes.moment(i, KeyMoment(kind="objection", text=f"{label}: {tidy(sentence)}", at=seg.start))
            elif intro is not None and i < intro:
                continue
            elif defends(sentence):  # "it's been rock solid for us": why they would not change
                label = "Competitor" if i in notes.rivals else "Need"
                notes.objections.join(i, _phrase(said, k), answer, label=label, at=k)
                notes.moment(i, KeyMoment(kind="objection", text=f"{label}: {tidy(sentence)}", at=seg.start))
            elif commits(sentence):
                continue  # "I'll send you the list by Friday": an action item, not a pain
            elif NEED.search(sentence):
                notes.needs.add(i, _phrase(said, k))
            elif is_pain(sentence):
                notes.pains.add(i, _phrase(said, k, ahead=True))
                if needs_context(sentence):
                    notes.used.add((i, k + 1))  # the sentence it leans on is in the phrase


def draft_summary(segments: Sequence[SegmentLike], insights: Sequence[InsightLike]) -> CallSummary:
    """The extractive CRM notes of a call from its segments and the insights shown live: who the
    customer is and what they need, pains, objections with the rep's answers, competitors,
    questions with the answer given, buying signals and next steps with owner and date."""
    notes = _Notes()
    _from_insights(notes, segments, insights)
    _from_turns(notes, segments)
    actions: list[str] = []
    turns = [Turn(seg.speaker, seg.text) for seg in segments]
    steps: dict[int, list[str]] = {}  # segment index -> the items it commits someone to
    for i, _, items in action_items(turns):
        actions += items
        steps.setdefault(i, []).extend(items)
    for i, items in steps.items():  # the moment in the items' words, owner and date included
        notes.moment(
            i, KeyMoment(kind="next_step", text="; ".join(dict.fromkeys(items)), at=segments[i].start)
        )
    actions = list(dict.fromkeys(actions))
    lines: list[str] = []
    for title, items in (
        ("Customer", notes.customer),
        ("Needs", notes.needs.lines()),
        ("Pains", notes.pains.lines()),
        ("Objections", notes.objections.lines()),
        ("Competitors", notes.competitors),
        ("Questions", notes.questions.lines()),
        ("Buying signals", notes.signals.lines()),
        ("Next steps", actions),
    ):
        kept = [t for item in dict.fromkeys(items) if (t := item.strip().rstrip("."))]
        if kept:
            line = "; ".join(kept)
            lines.append(f"{title}: {line}" + ("" if line.endswith(("?", "!")) else "."))
    if not lines:
        words = sum(len(s.text.split()) for s in segments)
        lines.append(
            "No objections, questions or next steps were detected"
            + (f" in {words} words of conversation." if words else "; the call was empty.")
        )
    moments = sorted(notes.moments.values(), key=lambda m: m.at)
    return CallSummary(summary="\n".join(lines), key_moments=moments, action_items=actions)


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
