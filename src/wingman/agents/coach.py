"""Sales coach: objections, buying signals, tone and talk-time nudges, with tips from the
playbook. Detection is local and deterministic (patterns, plus nearest playbook examples for
customer sentences); the LLM only words the tip for the moment, and the playbook's own tip is
used whenever it cannot."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from wingman.agents.base import Agent, AgentOutcome, CallContext, ask_llm, snippet, stable_id
from wingman.agents.examples import ExampleMatcher
from wingman.agents.metrics import ConversationMetrics
from wingman.agents.playbook import Nudge, Playbook, PlaybookSource, prepare
from wingman.agents.text import sentences
from wingman.events import Insight, TranscriptBlock
from wingman.llm.base import Llm, LlmRequest
from wingman.llm.local import LocalLlm
from wingman.search.embeddings import Embedder

COACH_SYSTEM = """You are Wingman, a sales coach whispering to a rep during a live call. The rep
sells Relay, a cloud contact-center and phone platform. A rule of the team's sales playbook just
fired on the conversation. Turn the playbook tip into one line the rep can act on right now:
- keep the tip's advice and any facts in it; add no facts, prices or promises of your own;
- at most 35 words, addressed to the rep ("Ask...", "Acknowledge..."), no preamble;
- if the rule clearly misfired on this conversation, set "skip" to true.
Reply with JSON only, matching the schema."""


class CoachTip(BaseModel):
    tip: str
    skip: bool = False


@dataclass(frozen=True)
class _Finding:
    kind: str
    label: str
    category: str
    priority: float
    tips: list[str]
    confidence: float
    why: str  # rule, example or metric that fired (no transcript text)
    values: dict[str, Any]


def _nudges(playbook: Playbook, m: ConversationMetrics) -> list[_Finding]:
    found: list[_Finding] = []
    cfg = playbook.nudges

    def finding(key: str, nudge: Nudge, why: str, values: dict[str, Any]) -> _Finding:
        return _Finding(
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


class SalesCoach(Agent):
    name = "coach"

    def __init__(
        self,
        *,
        playbook: PlaybookSource,
        llm: Llm,
        embedder: Embedder | None = None,
        llm_timeout: float = 1.2,
        max_tips_per_block: int = 2,
    ) -> None:
        self.playbook = playbook
        self.llm = llm
        self.embedder = embedder
        self.llm_timeout = llm_timeout
        self.max_tips = max_tips_per_block
        self._matcher: ExampleMatcher | None = None
        self._warming: asyncio.Future[None] | None = None
        self._local = LocalLlm()

    def _examples(self, playbook: Playbook) -> ExampleMatcher | None:
        if self.embedder is None:
            return None
        if self._matcher is None or self._matcher.playbook is not playbook:
            self._matcher = ExampleMatcher(playbook, self.embedder)
        return self._matcher

    async def start(self) -> None:
        matcher = self._examples(self.playbook.current())
        if matcher is not None:
            await matcher.warm()

    async def warm(self, user_id: str) -> None:
        await self.start()  # tenant-independent: the examples are the playbook's

    async def detect(
        self, block: TranscriptBlock, ctx: CallContext, *, deconflict: bool = True
    ) -> list[_Finding]:
        """Objections, signals and tone in `block` (nudges excluded). With `deconflict`, a
        competitor objection naming a competitor that has a battlecard is left to the search
        agent, whose brief carries the facts and the talk track."""
        playbook = self.playbook.current()
        entities = ctx.catalog.matcher.find(block.text)
        found: dict[str, _Finding] = {}
        for d in playbook.detect(
            block.text, speaker=block.speaker, entities=entities, competitors=ctx.catalog.competitors
        ):
            found[d.kind] = _Finding(
                d.kind, d.rule.label, d.rule.category, d.rule.priority, d.rule.tips, 1.0, d.why, {}
            )
        matcher = self._examples(playbook)
        if matcher is not None and not matcher.ready:
            # still embedding the examples (start-up, or a playbook just edited): patterns only,
            # the live path never waits for it
            if self._warming is None or self._warming.done():
                self._warming = asyncio.ensure_future(matcher.warm())
            matcher = None
        # the examples are the recall path: only when no pattern (the precise path) fired
        if matcher is not None and block.speaker != "rep" and not found:
            for m in await matcher.match(sentences(block.text)):
                rule = playbook.rule(m.kind)
                if rule is None or m.kind in found or not rule.applies_to(block.speaker):
                    continue
                if rule.excluded(prepare(block.text, entities, ctx.catalog.competitors)):
                    continue  # "price is not an issue" is near price examples, and not one
                found[m.kind] = _Finding(
                    m.kind,
                    rule.label,
                    rule.category,
                    rule.priority,
                    rule.tips,
                    round(m.score, 3),
                    f"{m.kind} nearest examples {m.score:.2f}: {m.example}",
                    {},
                )
        # a named competitor with a battlecard is the search agent's: it brings the facts
        if (
            deconflict
            and "objection.competitor" in found
            and any(
                ctx.catalog.kinds.get(e.name) == "competitor" and e.name in ctx.catalog.documents
                for e in entities
            )
        ):
            del found["objection.competitor"]
        return list(found.values())

    async def _tip(
        self, finding: _Finding, block: TranscriptBlock, ctx: CallContext
    ) -> tuple[CoachTip, str, str]:
        index = ctx.used_tips.get(finding.kind, 0)
        tips = "\n".join(f"- {t}" for t in finding.tips)
        prompt = (
            f"Playbook rule: {finding.label} ({finding.kind})\nPlaybook tips:\n{tips}\n"
            f"Suggested tip: {finding.tips[index % len(finding.tips)]}\n"
            f"Values: {finding.values}\n\nRecent conversation:\n{ctx.transcript_tail()}\n"
            f"Just said ({block.speaker or 'speaker'}): {block.text}\n\n"
            'Schema: {"tip": str, "skip": bool}'
        )
        request = LlmRequest(
            task="coach",
            system=COACH_SYSTEM,
            prompt=prompt,
            schema=CoachTip,
            context={
                "kind": finding.kind,
                "tips": finding.tips,
                "tip_index": index,
                "values": finding.values,
            },
        )
        tip, provider = await ask_llm(
            self.llm, self._local, request, timeout=self.llm_timeout, local_timeout=1.0
        )
        return tip, provider, prompt

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        started = time.perf_counter()
        findings = await self.detect(block, ctx)
        findings += _nudges(self.playbook.current(), ctx.metrics)
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
        notes += [f"{f.kind}: suppressed by the user's feedback" for f in findings if weights[f.kind] is None]
        findings = [f for f in findings if weights[f.kind] is not None]
        findings.sort(key=lambda f: -f.priority * (weights[f.kind] or 1.0))
        for finding in findings[: self.max_tips]:
            tip, provider, prompt = await self._tip(finding, block, ctx)
            prompts.append(prompt)
            if tip.skip or not tip.tip.strip():
                notes.append(f"{finding.kind}: skipped by the model")
                continue
            ctx.used_tips[finding.kind] = ctx.used_tips.get(finding.kind, 0) + 1
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
                    context_snippet=snippet(block.text),
                    confidence=finding.confidence,
                    priority=finding.priority,
                    provider=provider,
                    audio_end_at=block.audio_end_at,
                )
            )
            notes.append(finding.why)
        for finding in findings[self.max_tips :]:
            notes.append(f"{finding.kind}: held back (max {self.max_tips} tips per block)")
        return self.outcome(
            block,
            started=started,
            insights=insights,
            provider=provider,
            rule_or_prompt="\n---\n".join(prompts),
            output="; ".join(notes),
        )
