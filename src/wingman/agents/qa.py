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


# Spoken phrasings of common buyer questions, and the words knowledge bases answer them in:
# "can it talk to X" is about integrations, "how long before we are up and running" about setup
# time. Added to the retrieval query (not to the answer), so passage and sentence ranking find
# documents written in the vendor's words.
_PARAPHRASES = [
    (r"\bhow (?:long|quickly|fast|soon)\b", "takes days weeks"),
    (
        r"\b(?:up and running|go(?:ing)? live|get (?:\w+ ){0,2}live|be live|roll ?outs?|rolling out|"
        r"deploy\w*|implement\w*|onboard\w*|set ?up(?! fees?)|stand (?:it|this) up|switch over)\b",
        "setup rollout implementation live",
    ),
    (  # "can it talk to X": the product (not a person) working with another system
        r"\b(?:it|this|that|you|the app|the system|your \w+) (?:talks? to|works? with|connects? (?:to|with)|"
        r"hooks? (?:up )?(?:to|into|with)|plugs? into|plays? (?:nice|well) with|syncs? with|ties? into)\b",
        "integrates syncs with",
    ),
    (r"\b(?:slow (?:down|up)|bogs? down|heavy|lag\w*|performance|battery)\b", "performance processor"),
    (
        r"\b(?:stored|kept|hosted|resides?|where (?:is|are|does|do) (?:the |our |my )?data|"
        r"leaves? (?:the|our) (?:country|region|continent)|data cent(?:er|re)s?)\b",
        "stored hosted data",
    ),
    (  # "would the invoices end up in QuickBooks without retyping": an integration question
        r"\b(?:end up in|flow (?:in)?to|show up in|go straight (?:in)?to|land in|retyp\w*|re-?enter\w*|"
        r"double entry|copy (?:\w+ )?(?:over|across)|"
        r"(?:type|key|enter) (?:\w+ ){0,2}in (?:again|twice|by hand)|pull (?:\w+ ){0,3}(?:out of|from)|"
        # "is it me typing it all in again", "someone in the office keying in receipts"
        r"(?:typing|keying|entering) (?:\w+ ){0,2}in|keys? (?:\w+ ){0,2}in by hand)\b",
        "integrates syncs with",
    ),
    (  # "let people try it before they commit": the trial, pilot or proof of concept
        r"\b(?:try (?:it|this|you|things) out|try (?:it|this) (?:first|before)|test drive|"
        r"trial|pilot|before (?:we|they|i|you) (?:commit|sign|buy|pay))\b",
        "free trial pilot proof of concept",
    ),
    (  # "ten years of files in the old system, would we have to move it ourselves"
        r"\b(?:(?:old|previous|current|existing|legacy) (?:system|software|tool|provider)|"
        r"(?:move|moving|bring|carry|port|transfer)\b[^.?!]{0,30}\b(?:files|data|records|history|over)|"
        r"migrat\w*|import\w*)\b",
        "migration import data from previous system",
    ),
    (r"\b(?:discount\w*|deal|cheaper|break on|savings?)\b", "discount off"),
    # everyday idioms for a few topics every product's documents cover: stopping for a while,
    # the price, doing it from home, where the data lives
    (
        r"\b(?:on ice|put (?:\w+ ){0,3}on pause|pause\w*|freez\w*|skip a month|take a break from)\b",
        "pause freeze hold",
    ),
    (
        r"\bwhat(?:'s| is) the damage\b|\bhow much (?:are we|am i) looking at\b|\bballpark\b",
        "price dollars per month",
    ),
    (
        r"\bfrom (?:the |her |his |their |my |our )?"
        r"(?:couch|sofa|home|house|kitchen table|own phone|phone|laptop)\b|"
        r"\bremotely\b",
        "online from their own phone or computer",
    ),
    (
        r"\bwhere (?:do|does|would|will|is|are) (?:[\w']+ ){0,4}"
        r"(?:sit|sits|sitting|live|lives|end up|ends up|kept|held)\b",
        "stored hosted data",
    ),
    (  # "what's the cheapest way in", "is the monthly number based on apartments": the plans
        r"\b(?:cheapest|least expensive|entry[- ]level|starter plan|way in|smallest plan|basic plan|"
        r"(?:number|price|bill|fee|cost|charge|rate|pricing) (?:is |be )?based on|"
        r"how many (?:people|users|staff|logins?|seats) (?:\w+ ){0,2}log)\b",
        "price plans dollars per month billed per",
    ),
    (  # "would we be tied in for a year, or could we walk away": the contract's length and exit
        r"\b(?:cancel\w*|locked in|contract\w*|month to month|tied (?:in|into|down)|walk away|get out of|"
        r"notice period|lock-?in|"
        r"commit(?:ted|ment)? (?:to|for) (?:a|the|one|two|three) (?:year|years|term))\b",
        "contract month to month annual notice",
    ),
    (r"\b(?:safe|secure|security|protect\w*|encrypt\w*|hack\w*|breach\w*)\b", "security encrypted"),
    (  # "some bloke under the dash with a load of wires": fitting the hardware
        r"\b(?:under the (?:dash\w*|bonnet|hood|desk|counter)|wir(?:es|ing)|fitted|fitting|install\w*|"
        r"fit (?:it|them|the \w+)|(?:have|need) to do to (?:the|our|my) \w+)\b",
        "install fitting plugs in minutes no tools wiring",
    ),
    (  # "is a box plugged in the whole time going to leave me with a dead van": draining power
        r"\b(?:dead (?:van|car|truck|vehicle|battery|batteries|phone|device)|flat (?:battery|batteries)|"
        r"drain\w*|run (?:\w+ )?(?:down|flat))\b",
        "battery drain power",
    ),
    (  # "is the box a one-off, or wrapped up in the monthly", "before the VAT or after": what is charged
        r"\b(?:one-?off|wrapped (?:up )?in the (?:monthly|price|subscription|plan)|"
        r"vat|before tax|after tax|before the tax|after the tax)\b",
        "price per month plan fee one-off excluding tax",
    ),
    (  # "i don't want to be seeing where they go on a sunday": staff privacy outside work
        r"\b(?:privacy|private|spying|snooping|big brother|"
        r"(?:see|seeing|watch|watching|track|tracking) (?:\w+ ){0,2}where "
        r"(?:they|he|she|the \w+) (?:go|goes|went|are))\b",
        "privacy private personal outside working hours",
    ),
    (r"\b(?:train\w*|learn\w*|teach|get the hang)\b", "training learn"),
    (  # "half the day in boiler rooms with zero bars": no phone signal where they work
        r"\b(?:offline|no (?:signal|reception|internet|coverage)|(?:zero|no|any) bars|dead ?zones?|"
        r"out of range|without (?:a )?(?:signal|internet|connection|wifi))\b",
        "offline signal",
    ),
    (  # "several of our members mostly speak Portuguese": the languages the product speaks
        r"\b(?:speaks?|speaking|language|languages|translat\w*|bilingual|english|spanish|french|"
        r"portuguese|german|italian|chinese|mandarin|cantonese|vietnamese|arabic|polish)\b",
        "language languages available in english",
    ),
    (  # "when the heating goes out at two in the morning, does somebody get woken up"
        r"\b(?:middle of the night|after hours|out of hours|overnight|woken|wakes? (?:\w+ )?up|"
        r"(?:one|two|three|four|five|1|2|3|4|5) (?:am|a\.m\.|in the morning)|on-?call|"
        r"at night|(?:24|twenty-four)[ /-]?(?:7|seven|hours?))\b",
        "emergency on-call any hour",
    ),
    (  # "if we ever part ways, do we get to take our history with us": leaving with the data
        r"\b(?:part ways|take (?:our|my|the|all) (?:\w+ ){0,2}with (?:us|me)|locked up|held hostage|"
        r"get (?:our|my|the) (?:\w+ ){0,2}(?:back|out)|export\w*|download (?:our|my|the|all))\b",
        "export data after cancel",
    ),
    (  # "what if the wifi in the back corner cuts out": working without a connection
        r"\b(?:wi-?fi|internet|network|connection|signal|reception)\b[^.?!]{0,40}\b(?:cuts? out|drops?|"
        r"dropping|goes down|go down|is down|dies|fails|spotty|patchy|flaky|unreliable)\b",
        "offline wi-fi network drops keeps working",
    ),
    (  # "could we hand the insurer some kind of audit report": certifications and audits
        r"\b(?:audit\w*|certif\w*|complian\w*|soc ?(?:2|two)|iso|pen ?test\w*|insurer|insurance|"
        r"questionnaire|auditors?|regulators?)\b",
        "certified audit report compliance",
    ),
    (
        r"\b(?:how much|cost\w*|price\w*|pricing|charge\w*|per (?:seat|user|device|month)|"
        r"(?:would|will|does) (?:it|that|this) (?:come|comes|work out|add up) to|set (?:us|me) back|"
        r"pay (?:\w+ ){0,2}(?:up ?front|before|to start)|up-?front)\b",
        "price dollars per month plan fee",
    ),
]
_PARAPHRASE_PATTERNS = [(re.compile(p, re.I), words) for p, words in _PARAPHRASES]
# a question in a recognized buyer phrasing ("do you let people try it before they commit") needs
# less retrieval evidence: its topic is known, and the vendor's words were added to the query
RECOGNIZED_PHRASING_FLOOR = 0.25
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


def expand_question(question: str) -> str:
    """The retrieval query for `question`: its words plus the knowledge-base words for the
    spoken phrasings it uses ("can it talk to Xero" -> "... (integrates syncs with)")."""
    extra = [words for pattern, words in _PARAPHRASE_PATTERNS if pattern.search(question)]
    return f"{question} ({' '.join(extra)})" if extra else question


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
            question = canonical_query(with_context(sentence, block.text), ctx)
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
            # a battlecard answers questions about its competitor; the company's own documents
            # answer the rest, when one of them is confident enough
            own = [p for p in passages if p.filename not in battlecards]
            if own and passages[0].filename in battlecards and retrieval_confidence(own[0]) >= floor:
                passages = own + [p for p in passages if p.filename in battlecards]
            passages = passages[:3]
            confidence = retrieval_confidence(passages[0])
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
