"""Sales coach: objections, buying signals, tone and talk-time nudges, with tips from the
tenant's playbook. Detection is local and deterministic (patterns, plus nearest playbook
examples for customer sentences), sentence by sentence; the LLM only words the tip for the
moment, and the playbook's own tip is used whenever it cannot.

- A sentence that names a competitor is the search agent's: its brief (from the battlecard,
  with the price angle when price comes up) answers it, not a generic price or competitor tip;
  once that competitor was briefed (the gate holds a second brief back), the coach answers.
- An objection raised again gets the playbook's next tip for it (escalation); the gate counts
  what was shown.
- A rule with `facts` brings the tenant's own facts (its pilot, discounts, entry plan) from its
  knowledge base, cited; the playbook itself holds no company's facts.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

from pydantic import BaseModel

from wingman.agents.base import Agent, AgentOutcome, CallContext, ask_llm, snippet, stable_id, system_prompt
from wingman.agents.entities import EntityMatch
from wingman.agents.examples import ExampleMatcher
from wingman.agents.findings import Finding
from wingman.agents.nudges import nudges
from wingman.agents.playbook import Playbook, PlaybookProvider, prepare
from wingman.agents.qa import is_scheduling_request
from wingman.agents.text import is_own_costs_rising, is_own_task, is_social, question_kind, sentences
from wingman.events import Insight, TranscriptBlock
from wingman.llm.base import Llm, LlmRequest
from wingman.llm.local import LocalLlm
from wingman.search.embeddings import Embedder
from wingman.search.knowledge import KnowledgeBase

COACH_SYSTEM = """You are Wingman, a sales coach whispering to a rep during a live call.
{company} A rule of the team's sales playbook just fired on the conversation. Turn the playbook
tip into one line the rep can act on right now:
- keep the tip's advice; facts come only from "Facts" (the rep's own company's, cite nothing
  else); add no facts, prices or promises of your own;
- at most 40 words, addressed to the rep ("Ask...", "Acknowledge..."), no preamble;
- if the rule clearly misfired on this conversation, set "skip" to true.
Reply with JSON only, matching the schema."""

# kinds a competitor named in the same sentence hands over to the search agent's brief
# ("we use X already, why would we switch?" is about X, not about needing the product)
# a sentence naming a competitor ("we just renewed with X", "we are on X until next year") gets
# the competitor brief: the lock-in is what the battlecard answers
_COMPETITOR_HANDOVER = frozenset(
    {"objection.price", "objection.competitor", "objection.need", "objection.timing"}
)
MIN_FACT_SCORE = 0.35
_DECIDING = ("objection.", "signal.")  # families whose pattern makes the examples unneeded


# a topic named on its own before the question about it: "and the price. at eighteen seats, is
# there any kind of break?", "now, the setup fee. is that every year?"
_TOPIC = re.compile(
    r"^(?:(?:and|so|now|okay|ok|right|also|then|well|what about|as for),?\s+)*"
    r"(?:the|your|that|this|those|these|our)\s+[\w-]+(?:\s+[\w-]+){0,2}[.:]?$",
    re.IGNORECASE,
)


def topics_joined(sentence_list: Sequence[str]) -> list[str]:
    """The sentences, with a topic named alone ("And the price.") joined to the question that
    follows it: the question says what is asked about the topic, and "and the price" alone
    sounds like a complaint about it."""
    out: list[str] = []
    for sentence in sentence_list:
        if out and _TOPIC.match(out[-1]) and question_kind(sentence) == "explicit":
            out[-1] = f"{out[-1].rstrip('.:')}, {sentence[:1].lower()}{sentence[1:]}"
        else:
            out.append(sentence)
    return out


class CoachTip(BaseModel):
    tip: str
    skip: bool = False


class SalesCoach(Agent):
    name = "coach"

    def __init__(
        self,
        *,
        playbook: PlaybookProvider,
        llm: Llm,
        embedder: Embedder | None = None,
        knowledge: KnowledgeBase | None = None,
        llm_timeout: float = 1.2,
        max_tips_per_block: int = 2,
    ) -> None:
        self.playbook = playbook
        self.llm = llm
        self.embedder = embedder
        self.knowledge = knowledge
        self.llm_timeout = llm_timeout
        self.max_tips = max_tips_per_block
        self._matchers: dict[int, ExampleMatcher] = {}
        self._warming: asyncio.Future[None] | None = None
        self._local = LocalLlm()

    def _examples(self, playbook: Playbook) -> ExampleMatcher | None:
        if self.embedder is None:
            return None
        matcher = self._matchers.get(id(playbook))
        if matcher is None or matcher.playbook is not playbook:
            if len(self._matchers) > 64:  # per-tenant playbooks: keep the recent ones
                self._matchers.clear()
            matcher = self._matchers[id(playbook)] = ExampleMatcher(playbook, self.embedder)
        return matcher

    async def _warm_playbook(self, playbook: Playbook) -> None:
        matcher = self._examples(playbook)
        if matcher is not None:
            await matcher.warm()

    async def warm(self, user_id: str) -> None:
        await self._warm_playbook(await self.playbook.for_tenant(user_id))

    async def start(self) -> None:
        await self.warm("")  # the template every tenant starts from

    def _competitor_to_brief(self, entities: Sequence[EntityMatch], ctx: CallContext, *, at: float) -> bool:
        """Whether the sentence names a competitor the search agent will brief: one not briefed
        a moment ago (the gate would hold that brief back as a repeat, and the objection in the
        sentence, "Aircall's price seems high" after the Aircall brief, would get no tip)."""
        return any(
            ctx.catalog.kinds.get(e.name) == "competitor" and not ctx.gate.entity_shown(e.name, at=at)
            for e in entities
        )

    async def detect(
        self, block: TranscriptBlock, ctx: CallContext, *, deconflict: bool = True
    ) -> list[Finding]:
        """Objections, signals and tone in `block` (nudges excluded), sentence by sentence.
        With `deconflict`, price and competitor objections in a sentence that names a
        competitor are left to the search agent, whose brief carries the facts, unless that
        competitor was just briefed."""
        playbook = await self.playbook.for_tenant(block.tenant)
        matcher = self._examples(playbook)
        if matcher is not None and not matcher.ready:
            # still embedding the examples (start-up, or a playbook just edited): patterns only,
            # the live path never waits for it
            if self._warming is None or self._warming.done():
                self._warming = asyncio.ensure_future(matcher.warm())
            matcher = None
        found: dict[str, Finding] = {}
        parts = [
            (sentence, ctx.catalog.matcher.find(sentence))
            for sentence in topics_joined(sentences(block.text) or [block.text])
        ]
        per_sentence: list[dict[str, Finding]] = []
        for sentence, entities in parts:
            here: dict[str, Finding] = {}
            for d in playbook.detect(
                sentence, speaker=block.speaker, entities=entities, competitors=ctx.catalog.competitors
            ):
                here[d.kind] = Finding(
                    d.kind,
                    d.rule.label,
                    d.rule.category,
                    d.rule.priority,
                    d.rule.tips,
                    1.0,
                    d.why,
                    facts=d.rule.facts,
                    sentence=sentence,
                )
            if (
                "signal.buying" not in here
                and block.speaker != "rep"
                and is_scheduling_request(sentence)
                and (rule := playbook.rule("signal.buying")) is not None
            ):
                # "could we start the pilot the first week of March?": asking for a start date is
                # the customer closing, whatever words the signal's patterns know
                here["signal.buying"] = Finding(
                    "signal.buying",
                    rule.label,
                    rule.category,
                    rule.priority,
                    rule.tips,
                    1.0,
                    f"{rule.label}: asks for a start date",
                    facts=rule.facts,
                    sentence=sentence,
                )
            per_sentence.append(here)
        # the examples are the recall path: only when no objection or signal pattern (the
        # precise path) fired in the block; a tone pattern ("I'm hesitant") says nothing about
        # whether the words also hold an objection
        decided = any(kind.startswith(_DECIDING) for here in per_sentence for kind in here)
        if matcher is not None and block.speaker != "rep" and not decided:
            # "where does it all live, physically? because if it's abroad, that's a conversation
            # i'd rather not have": the sentences around a question explain why it is asked
            block_asks = any(question_kind(s) == "explicit" for s, _ in parts)
            for (sentence, entities), here in zip(parts, per_sentence, strict=True):
                if is_social(sentence):
                    continue  # "cheers, priya. speak soon." is near nothing but MiniLM's guess
                prepared = prepare(sentence, entities, ctx.catalog.competitors)
                own_task = is_own_task(sentence)
                asked = block_asks
                # a kind that cannot apply here (a competitor objection naming no alternative)
                # is no candidate: "set us up with the trial" is then the signal it sounds like
                ruled_out = frozenset(
                    kind for kind, rule in playbook.rules() if not rule.examples_may_fire(prepared)
                )
                for m in await matcher.match([sentence], ruled_out=ruled_out):
                    rule = playbook.rule(m.kind)
                    if rule is None or m.kind in here or not rule.applies_to(block.speaker):
                        continue
                    if rule.excluded(prepared):
                        continue  # "price is not an issue" is near price examples, and not one
                    if own_task and m.kind.startswith("objection.") and m.kind != "objection.authority":
                        continue  # "i'll ask round which of them want it, so we know numbers"
                    if m.kind == "objection.price" and is_own_costs_rising(sentence):
                        continue  # "the fuel bill's gone through the roof": their cost, a pain
                    if (
                        m.kind.startswith(_DECIDING)
                        and asked
                        and m.score < playbook.matching.threshold + playbook.matching.question_margin
                    ):
                        # "would we be tied in for a year?" asks, and so does "would your thing
                        # let people in through those?": the Q&A answers them, unless they sound
                        # clearly like an objection or a close
                        continue
                    here[m.kind] = Finding(
                        m.kind,
                        rule.label,
                        rule.category,
                        rule.priority,
                        rule.tips,
                        round(m.score, 3),
                        f'{rule.label}: sounds like "{m.example}" (similarity {m.score:.2f})',
                        facts=rule.facts,
                        sentence=sentence,
                    )
        for (_, entities), here in zip(parts, per_sentence, strict=True):
            if deconflict and self._competitor_to_brief(entities, ctx, at=block.end):
                for kind in _COMPETITOR_HANDOVER:
                    here.pop(kind, None)
            for kind, finding in here.items():
                found.setdefault(kind, finding)
        return list(found.values())

    async def _facts(
        self, finding: Finding, block: TranscriptBlock, ctx: CallContext
    ) -> tuple[str, str | None]:
        """The tenant's own fact for this tip (sentence, document), from its knowledge base, or
        from its profile's pricing notes; ("", None) when it has none."""
        if not finding.facts:
            return "", None
        query = f"{finding.facts}. {finding.sentence}"
        if self.knowledge is not None:
            passages = await self.knowledge.retrieve(block.user_id, finding.facts, limit=3)
            ranked = sorted(
                await self.knowledge.rank_sentences(query, passages), key=lambda c: -float(c["score"])
            )
            if ranked and float(ranked[0]["score"]) >= MIN_FACT_SCORE:
                return str(ranked[0]["text"]).strip(), str(ranked[0]["source"])
        if ctx.profile is not None and ctx.profile.pricing_notes and "pric" in finding.facts:
            return " ".join(ctx.profile.pricing_notes.split()), None
        return "", None

    async def _tip(
        self, finding: Finding, index: int, block: TranscriptBlock, ctx: CallContext
    ) -> tuple[CoachTip, str, str, str | None]:
        fact, source = await self._facts(finding, block, ctx)
        tips = "\n".join(f"- {t}" for t in finding.tips)
        prompt = (
            f"Playbook rule: {finding.label} ({finding.kind})\nPlaybook tips:\n{tips}\n"
            f"Suggested tip: {finding.tips[index]}\nFacts: {fact or 'none'}\n"
            f"Values: {finding.values}\n\nRecent conversation:\n{ctx.transcript_tail()}\n"
            f"Just said ({block.speaker or 'speaker'}): {block.text}\n\n"
            'Schema: {"tip": str, "skip": bool}'
        )
        request = LlmRequest(
            task="coach",
            system=system_prompt(COACH_SYSTEM, ctx.profile),
            prompt=prompt,
            schema=CoachTip,
            context={
                "kind": finding.kind,
                "tips": finding.tips,
                "tip_index": index,
                "values": finding.values,
                "fact": fact,
            },
        )
        tip, provider = await ask_llm(
            self.llm, self._local, request, timeout=self.llm_timeout, local_timeout=1.0
        )
        return tip, provider, prompt, source

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        started = time.perf_counter()
        findings = await self.detect(block, ctx)
        findings += nudges(await self.playbook.for_tenant(block.tenant), ctx.metrics)
        if not findings:
            return self.outcome(
                block, started=started, rule_or_prompt="playbook rules", output="nothing to say"
            )
        insights: list[Insight] = []
        notes: list[str] = []
        prompts: list[str] = []
        provider = "local"
        # the user's feedback decides which tips take this block's slots
        weights = {f.kind: ctx.preferences.weight(f.kind) for f in findings}
        notes += [
            f"{f.label}: hidden, the user disliked these tips" for f in findings if weights[f.kind] is None
        ]
        findings = [f for f in findings if weights[f.kind] is not None]
        findings.sort(key=lambda f: -f.priority * (weights[f.kind] or 1.0))
        for finding in findings[: self.max_tips]:
            index = ctx.gate.times_shown(finding.kind)  # escalation: the next unused tip
            if index >= len(finding.tips):
                notes.append(f"{finding.why}; every playbook tip for it was shown already")
                continue
            tip, provider, prompt, source = await self._tip(finding, index, block, ctx)
            prompts.append(prompt)
            if tip.skip or not tip.tip.strip():
                notes.append(f"{finding.why}; the model judged it a misfire")
                continue
            insights.append(
                Insight(
                    id=stable_id(block.call_id, block.seq, self.name, finding.kind),
                    call_id=block.call_id,
                    user_id=block.user_id,
                    workspace_id=block.workspace_id,
                    block_id=block.id,
                    agent="coach",
                    category=finding.category,
                    kind=finding.kind,
                    content=tip.tip.strip(),
                    context_snippet=snippet(finding.sentence or block.text),
                    source=source,
                    confidence=finding.confidence,
                    priority=finding.priority,
                    provider=provider,
                    audio_end_at=block.audio_end_at,
                )
            )
            notes.append(finding.why + (f" (tip {index + 1} of {len(finding.tips)})" if index else ""))
        for finding in findings[self.max_tips :]:
            notes.append(f"{finding.label}: held back (at most {self.max_tips} tips per block)")
        return self.outcome(
            block,
            started=started,
            insights=insights,
            provider=provider,
            rule_or_prompt="\n---\n".join(prompts) or "playbook rules",
            output="; ".join(notes),
        )
