"""Q&A agent: hears the customer's questions, explicit or implicit, and drafts a short factual
answer from the tenant's knowledge base, citing the document. Silent when retrieval is not
confident: a wrong answer on a live call is worse than none."""

from __future__ import annotations

import re
import time
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, Field

from wingman.agents.anaphora import points_at_thing
from wingman.agents.base import Agent, AgentOutcome, CallContext, ask_llm, snippet, stable_id, system_prompt
from wingman.agents.phrasings import (
    RECOGNIZED_PHRASING_FLOOR,
    VENDOR_WORDS_FLOOR,
    expand_question,
    vendor_words_held,
)
from wingman.agents.text import NAME, question_sentences, sentences
from wingman.events import Insight, TranscriptBlock
from wingman.llm.base import Llm, LlmRequest
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase, Passage

QA_SYSTEM = """You are Wingman, an assistant that whispers to a sales rep during a live call.
{company} The customer just asked a
question (explicitly, or implicitly by voicing a doubt). Draft the answer the rep can say.
Rules:
- Use ONLY facts stated in the knowledge-base passages below. Never invent numbers, features
  or commitments.
- At most two sentences and 45 words, plain words the rep can read aloud at a glance.
- If the passages do not answer the question, set "answerable" to false and leave "answer"
  empty.
- "source" is the file name of the passage you used.
Reply with JSON only, matching the schema."""


SKIPPED_REP = "skipped: the rep is speaking"  # said nothing: the call page's filter hides it


class QaAnswer(BaseModel):
    answerable: bool
    answer: str = ""
    source: str | None = None
    confidence: float = Field(0.0, ge=-1.0, le=1.0)


def retrieval_confidence(passage: Passage) -> float:
    """How sure we are that `passage` answers the question: mostly the embedding similarity
    (of the whole passage, averaged with that of its best sentence once re-ranked), plus the
    idf-weighted share of the question's words the passage contains."""
    similarity = passage.dense if passage.sentence is None else (passage.dense + passage.sentence) / 2
    return round(0.8 * similarity + 0.2 * passage.coverage, 4)


# a question in no known phrasing whose words the best passage does not hold at all ("could members
# pay their monthly dues through it": no 'dues' anywhere) is near the documents only by its
# general topic; the passage answers some other question
MIN_OWN_WORDS = 0.05
# "could we start the pilot the first week of March": a request to schedule, for the rep to
# accept (a buying signal), not a question the knowledge base answers
_SCHEDULING = re.compile(
    r"^(?:so,? |then,? |and,? |okay,? |ok,? )?(?:(?:could|can|shall) we (?:start|begin|kick off|schedule|"
    r"book|set up|do|have|run)|"
    # "can you have it switched on for the first of next month": the customer asks for a start date
    r"(?:could|can|would) you (?:have|get) (?:it|this|us|everything|things) (?:\w+ ){0,2}(?:switched on|"
    r"turned on|set up|up and running|running|live|ready|going|started)|"
    # "can you switch it on this Friday?"
    r"(?:could|can|would) you (?:switch|turn) (?:it|this|us|everything|things|the \w+) on)\b"
    r"[^?]*\b(?:today|tomorrow|next|this (?:week|month)|monday|tuesday|"
    r"wednesday|thursday|friday|january|february|march|april|may|june|july|august|september|"
    r"october|november|december|first|second|week of)\b",
    re.I,
)


def is_scheduling_request(sentence: str) -> bool:
    """A request to fix a date for a next step ("can we start the trial next Monday?"), also as
    the last clause of a longer sentence ("alright, let's do the trial, can you switch it on
    this Friday?")."""
    sentence = sentence.strip()
    last = sentence.rsplit(",", 1)[-1]
    return any(_SCHEDULING.search(part.strip()) is not None for part in {sentence, last})


# "is there a way round that?", "is that a thing you do?": a short question about what the
# sentence before it said
_ANAPHORIC_MAX_WORDS = 7
_NOT_NAMES = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may "
    "june july august september october november december god".split()
)


def with_context(question: str, block_text: str) -> str:
    """`question`, preceded by the sentence before it in `block_text` when it is a short
    question that only points at that sentence ("is there a way round that?"); a longer one
    that points but names nothing ("does any of this end up in there, or is it me typing it
    all in again?") takes the names of that sentence ("I do all of that in Xero")."""
    if not points_at_thing(question):
        return question
    before = sentences(block_text.split(question, 1)[0])
    if not before:
        return question
    if len(question.split()) <= _ANAPHORIC_MAX_WORDS:
        return f"{before[-1]} {question}"
    if NAME.search(question):
        return question
    names = [n for n in NAME.findall(before[-1]) if n.lower() not in _NOT_NAMES]
    return f"{' '.join(names)}: {question}" if names else question


# "And the price.", "What about security?", "Now, the contract.": a topic named just before the
# question about it ("at eighteen seats, is there any kind of break?")
_TOPIC = re.compile(
    r"^(?:(?:and|so|now|then|also|okay|ok|right|next),? )*(?:what about|how about|about|as for|on)? ?"
    # (not "so, the other thing.", "and the thing is.": no topic named)
    r"(?:the|your|our) (?!(?:other |next |last |main |big |same )?"
    r"(?:thing|things|one|bit|question|point|stuff|way|deal)\b)(?:[a-z][\w'-]* ?){1,2}[.?!]?$",
    re.I,
)


def with_topic(question: str, sentence: str, block_text: str) -> str:
    """`question` preceded by the topic the speaker named in the sentence right before
    `sentence` ("And the price. At eighteen seats, is there any kind of break?" ->
    "And the price. At eighteen seats, ..."), when that sentence is only a topic."""
    before = sentences(block_text.split(sentence, 1)[0])
    if not before or not _TOPIC.match(before[-1].strip()) or before[-1] in question:
        return question
    return f"{before[-1]} {question}"


# "..., are you?", "..., isn't it?": a statement the speaker asks to be agreed with
_TAG = re.compile(
    r",\s*(?:well,?\s*)?(?:are|is|do|does|did|was|were|have|has|can|could|would|will)(?:n't| not)?\s+"
    r"(?:you|it|they|we|he|she|that|there|i)\s*\?\s*$",
    re.I,
)


def is_rhetorical_tag(sentence: str) -> bool:
    """A statement ending in a tag ("you're not far off them, are you?")."""
    return _TAG.search(sentence.strip()) is not None


def canonical_query(text: str, ctx: CallContext) -> str:
    """The question with misheard names fixed ("ring central" -> "RingCentral")."""
    for match in ctx.catalog.matcher.find(text):
        words = [re.escape(w) for w in match.surface.split()]
        text = re.sub(r"\b" + r"[\s-]+".join(words) + r"\b", match.name, text, flags=re.I)
    return text


# how much closer to the question an unnamed competitor's battlecard must be than the best own
# passage to keep its sentences in the running
BATTLECARD_MARGIN = 0.05


def named_battlecards(text: str, ctx: CallContext) -> set[str]:
    """The battlecards of the competitors `text` names."""
    return {
        doc
        for match in ctx.catalog.matcher.find(text)
        if ctx.catalog.kinds.get(match.name) == "competitor"
        and (doc := ctx.catalog.documents.get(match.name))
    }


def left_to_the_brief(question: str, best: Passage, ctx: CallContext) -> str | None:
    """The competitor `question` names, when `best` is its battlecard and no brief about it
    was shown yet in the call (the search agent briefs on it now)."""
    for match in ctx.catalog.matcher.find(question):
        if ctx.catalog.kinds.get(match.name) != "competitor":
            continue
        if ctx.catalog.documents.get(match.name) != best.filename:
            continue
        if not any(i.agent == "search" and i.entity == match.name for i in ctx.shown.values()):
            return match.name
    return None


def prefer_own_documents(
    passages: list[Passage], battlecards: set[str], named: set[str], floor: float
) -> list[Passage]:
    """`passages` for answering: a battlecard answers questions about its competitor, the
    company's own documents the rest. When an own passage is confident, it goes first, and the
    battlecards of competitors the question does not name ("do you charge for the office people
    too?") are dropped, so none of their sentences ("X charges per office user") is cited,
    unless one of them is clearly closer to the question (the rollout time a company wrote only
    in a battlecard): then they stay behind the own passages, for their sentences to compete."""
    own = [p for p in passages if p.filename not in battlecards or p.filename in named]
    others = [p for p in passages if p.filename in battlecards and p.filename not in named]
    if not own or retrieval_confidence(own[0]) < floor:
        return passages
    if others and max(map(retrieval_confidence, others)) > retrieval_confidence(own[0]) + BATTLECARD_MARGIN:
        return own + others
    return own


class QaAgent(Agent):
    name = "qa"

    def __init__(
        self,
        *,
        knowledge: KnowledgeBase,
        llm: Llm,
        llm_timeout: float = 1.2,
        min_confidence: float = 0.27,
        max_questions: int = 2,
    ) -> None:
        self.knowledge = knowledge
        self.llm = llm
        self.llm_timeout = llm_timeout
        self.min_confidence = min_confidence
        self.max_questions = max_questions
        self._local = LocalLlm()

    async def warm(self, user_id: str) -> None:
        await self.knowledge.warm(user_id)
        await self.knowledge.warm_sentences(user_id)

    def _request(
        self, question: str, ctx: CallContext, passages: list[Passage], context: dict[str, Any]
    ) -> LlmRequest[QaAnswer]:
        docs = "\n\n".join(f"[{i + 1}] {p.filename} — {p.title}\n{p.body}" for i, p in enumerate(passages))
        prompt = (
            f"Recent conversation:\n{ctx.transcript_tail()}\n\n"
            f"Customer's question: {question}\n\nKnowledge-base passages:\n{docs}\n\n"
            'Schema: {"answerable": bool, "answer": str, "source": str | null, '
            '"confidence": float}'
        )
        system = system_prompt(QA_SYSTEM, ctx.profile)
        return LlmRequest(task="qa", system=system, prompt=prompt, schema=QaAnswer, context=context)

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        started = time.perf_counter()
        if block.speaker == "rep":
            return self.outcome(block, started=started, rule_or_prompt="speaker filter", output=SKIPPED_REP)
        questions = [
            (sentence, kind)
            for sentence, kind in question_sentences(block.text)
            if not is_scheduling_request(sentence)
        ][-self.max_questions :]
        if not questions:
            return self.outcome(
                block, started=started, rule_or_prompt="question detector", output="no question"
            )
        insights: list[Insight] = []
        notes: list[str] = []
        provider = "local"
        prompts: list[str] = []
        battlecards = {
            doc for name, doc in ctx.catalog.documents.items() if ctx.catalog.kinds.get(name) == "competitor"
        }
        for index, (sentence, kind) in enumerate(questions):
            if is_rhetorical_tag(sentence) and any(
                ctx.catalog.kinds.get(e.name) == "competitor" for e in ctx.catalog.matcher.find(sentence)
            ):
                # "we pay <competitor> thirty-one a month, you're not a world away from that, are
                # you?": a comparison for the competitor brief, not a question for the documents
                notes.append(f"{kind} question: a competitor comparison, left to the competitor brief")
                continue
            question = with_topic(with_context(sentence, block.text), sentence, block.text)
            question = canonical_query(question, ctx)
            query = expand_question(question)
            floor = self.min_confidence
            if query != question:
                floor = min(floor, RECOGNIZED_PHRASING_FLOOR)
            passages = await self.knowledge.rerank(
                query, await self.knowledge.retrieve(block.tenant, query, limit=4)
            )
            if not passages:
                notes.append(f"{kind} question: knowledge base empty")
                continue
            named = named_battlecards(question, ctx)
            # the battlecard of a competitor nobody brought up in the call answers nothing in it
            talked_of = named | named_battlecards(" ".join([*(b.text for b in ctx.recent), block.text]), ctx)
            passages = [p for p in passages if p.filename not in battlecards or p.filename in talked_of]
            if not passages:
                notes.append(f"{kind} question: only battlecards of competitors not talked of")
                continue
            passages = prefer_own_documents(passages, battlecards, named, floor)[:3]
            if (competitor := left_to_the_brief(question, passages[0], ctx)) is not None:
                # "we use X already, why would we switch?": the competitor brief the search agent
                # draws from the same battlecard answers it; the Q&A agent answers such a
                # question only once X was briefed earlier in the call
                notes.append(f"{kind} question: about {competitor}, left to the competitor brief")
                continue
            confidence = retrieval_confidence(passages[0])
            if query != question and vendor_words_held(query, question, passages[0]):
                floor = min(floor, VENDOR_WORDS_FLOOR)
            if query == question and passages[0].coverage < MIN_OWN_WORDS:
                notes.append(
                    f"{kind} question: none of its words in the best passage ({passages[0].filename}, "
                    f"confidence {confidence:.2f})"
                )
                continue
            if confidence < floor:
                notes.append(
                    f"{kind} question: low retrieval confidence {confidence:.2f} "
                    f"(best {passages[0].filename})"
                )
                continue
            context = {
                "question": question,
                "kind": kind,
                "confidence": confidence,
                "min_confidence": floor,
                "sentences": await self.knowledge.rank_sentences(query, passages[:2]),
            }
            request = self._request(question, ctx, passages, context)
            prompts.append(request.prompt)
            answer, provider = await ask_llm(
                self.llm, self._local, request, timeout=self.llm_timeout, local_timeout=self.llm_timeout
            )
            if not answer.answerable or not answer.answer.strip():
                notes.append(f"{kind} question: not answerable from the passages")
                continue
            known = {p.filename for p in passages}
            source = answer.source if answer.source in known else passages[0].filename
            entities = ctx.catalog.matcher.find(sentence)
            insights.append(
                Insight(
                    id=stable_id(block.call_id, block.seq, self.name, index),
                    call_id=block.call_id,
                    user_id=block.user_id,
                    workspace_id=block.workspace_id,
                    block_id=block.id,
                    agent="qa",
                    category="Knowledge Base",
                    kind=f"qa.{PurePath(source).stem}",
                    content=answer.answer.strip(),
                    context_snippet=snippet(sentence),
                    source=source,
                    entity=entities[0].name if entities else None,
                    confidence=round(confidence, 3),
                    priority=0.9 if kind == "explicit" else 0.75,
                    provider=provider,
                    audio_end_at=block.audio_end_at,
                )
            )
            notes.append(f"{kind} question answered from {source} (confidence {confidence:.2f})")
        return self.outcome(
            block,
            started=started,
            insights=insights,
            provider=provider,
            rule_or_prompt="\n---\n".join(prompts) or "question detector + retrieval",
            output="; ".join(notes) or "nothing to say",
        )
