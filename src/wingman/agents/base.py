"""The agent interface and the per-call state agents read.

An agent turns one TranscriptBlock into zero or more Insights plus one AgentRun: its reasoning
(input, the rule or prompt it used, its raw output, provider, latency, error), "nothing to say"
included, so every decision can be reviewed after the call.
"""

from __future__ import annotations

import logging
import time
import uuid
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from wingman.agents.entities import EntityMatcher, matcher_for
from wingman.agents.feedback import FeedbackPreferences
from wingman.agents.gate import GateState
from wingman.agents.metrics import ConversationMetrics
from wingman.errors import ProviderError
from wingman.events import AgentRun, Insight, TranscriptBlock
from wingman.llm.base import Llm, LlmRequest, T
from wingman.llm.fallback import answering_engine
from wingman.profile import CompanyProfile, company_line
from wingman.search.lexical import KnowledgeEntity

log = logging.getLogger(__name__)

_IDS = uuid.UUID("6f1c2d7e-3b0a-4c55-9a53-7d0f2b1e9c41")
SNIPPET_CHARS = 240


def stable_id(*parts: object) -> str:
    """Deterministic ids, so a block delivered twice yields the same insights and runs."""
    return str(uuid.uuid5(_IDS, ":".join(str(p) for p in parts)))


def system_prompt(template: str, profile: CompanyProfile | None) -> str:
    """An agent's system prompt with `{company}` replaced by the tenant's company line
    (templates hold JSON examples, so no str.format)."""
    return template.replace("{company}", company_line(profile))


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


@dataclass(frozen=True)
class EntityCatalog:
    """The names one tenant's agents watch for: its company profile's competitors (or
    settings.competitors without a profile) plus the names found in that tenant's knowledge
    base, each a "competitor" or a "product" with its document."""

    matcher: EntityMatcher
    kinds: Mapping[str, str]  # canonical name -> "competitor" | "product"
    documents: Mapping[str, str] = field(default_factory=dict)  # canonical name -> filename

    @property
    def competitors(self) -> frozenset[str]:
        return frozenset(n for n, k in self.kinds.items() if k == "competitor")

    @classmethod
    def empty(cls) -> EntityCatalog:
        return cls(EntityMatcher(()), {})

    @classmethod
    def build(
        cls,
        competitors: Iterable[str],
        knowledge: Mapping[str, KnowledgeEntity],
        battlecards: Mapping[str, str] | None = None,
        own: Iterable[str] = (),
    ) -> EntityCatalog:
        """`competitors` are competitors unless the knowledge base says they are products (a
        CRM the company integrates with); knowledge-base names keep their kind; `battlecards`
        (the profile's competitor -> document) name a competitor's document; `own` (the
        company's own name and products) are never entities."""
        mine = {n.lower() for n in own}
        kinds: dict[str, str] = {}
        documents: dict[str, str] = {}
        for entity in knowledge.values():
            if entity.name.lower() in mine:
                continue
            kinds[entity.name] = entity.kind
            documents[entity.name] = entity.filename
        by_lower = {n.lower(): n for n in kinds}
        for name, document in (battlecards or {}).items():
            canonical = by_lower.get(name.lower(), name)
            kinds[canonical] = "competitor"
            documents[canonical] = document
        by_lower = {n.lower(): n for n in kinds}
        for name in competitors:
            if name.lower() not in by_lower and name.lower() not in mine:
                kinds[name] = "competitor"
        names = tuple(sorted(kinds))
        return cls(matcher_for(names), kinds, documents)


@dataclass
class CallContext:
    """What the agents know about one live call. Owned by the AgentWorker, one per call."""

    call_id: str
    user_id: str
    workspace_id: str = ""  # the tenant ("" in blocks from before workspaces: the user id)
    recent: deque[TranscriptBlock] = field(default_factory=lambda: deque(maxlen=12))
    metrics: ConversationMetrics = field(default_factory=ConversationMetrics)
    shown: dict[str, Insight] = field(default_factory=dict)  # insights that passed the gate
    preferences: FeedbackPreferences = field(default_factory=FeedbackPreferences)
    catalog: EntityCatalog = field(default_factory=EntityCatalog.empty)
    profile: CompanyProfile | None = None  # the tenant's company profile, if it wrote one
    gate: GateState = field(default_factory=GateState)
    processed: set[int] = field(default_factory=set)  # block seqs already handled
    last_seen: float = field(default_factory=time.monotonic)

    def transcript_tail(self, blocks: int = 4) -> str:
        """The last few blocks as "speaker: text" lines (for prompts, never for logs)."""
        return "\n".join(f"{b.speaker or 'speaker'}: {b.text}" for b in list(self.recent)[-blocks:])


@dataclass
class AgentOutcome:
    insights: list[Insight]
    run: AgentRun


class Agent(ABC):
    """Reads a block, returns insights and the reasoning record. Must not raise for ordinary
    "nothing to say" cases; exceptions are caught and recorded by the worker."""

    name: str = "agent"

    @abstractmethod
    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        """Analyse `block` in the light of `ctx`."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare process-wide state (models, playbook examples) when the worker starts."""

    async def warm(self, tenant: str) -> None:  # noqa: B027 - optional hook
        """Prepare per-tenant (workspace) state ahead of the first block (models, indexes)."""

    def outcome(
        self,
        block: TranscriptBlock,
        *,
        started: float,
        rule_or_prompt: str,
        output: str,
        insights: list[Insight] | None = None,
        provider: str = "local",
        error: str | None = None,
    ) -> AgentOutcome:
        insights = insights or []
        run = AgentRun(
            id=stable_id(block.call_id, block.seq, self.name, "run"),
            call_id=block.call_id,
            user_id=block.user_id,
            workspace_id=block.workspace_id,
            block_id=block.id,
            agent=self.name,
            input=block.text,
            rule_or_prompt=rule_or_prompt,
            output=output,
            provider=provider,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            error=error,
            insight_ids=tuple(i.id for i in insights),
        )
        return AgentOutcome(insights=insights, run=run)


async def ask_llm(
    llm: Llm, local: Llm, request: LlmRequest[T], *, timeout: float, local_timeout: float
) -> tuple[T, str]:
    """`request` answered by `llm`, or by the `local` engine when `llm` fails; with the name of
    the engine that actually answered (a FallbackLlm's own local fallback included), which is
    what the insight and the agent run are labelled with."""
    try:
        return await llm.complete(request, timeout=timeout), answering_engine(llm)
    except ProviderError as e:
        if llm.name == local.name:
            raise
        log.warning("llm failed; local engine used", extra={"task": request.task, "error": type(e).__name__})
        return await local.complete(request, timeout=local_timeout), local.name


class AgentStore(Protocol):
    """The Store methods the agent worker uses (wingman.store.repos.Store has them)."""

    async def add_agent_run(self, run: AgentRun) -> bool: ...

    async def feedback_by_kind(self, *, workspace_id: str, user_id: str) -> dict[str, tuple[int, int]]: ...
