"""The agent worker: transcript blocks in, insights and metrics out.

Per block, the coach, search and Q&A agents run in parallel, each under its own deadline;
each agent's insights pass the gate and are published the moment that agent finishes, so a slow
web search never holds back an objection tip. Every decision is saved as an AgentRun. Blocks
of different calls are handled concurrently (bounded); blocks of one call in order. A block
seen twice (at-least-once delivery) is skipped, and ids are deterministic, so a redelivered
block after a restart yields the same insights, which the store keeps once.
Logs carry ids, counts and timings, never transcript text.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from wingman import logs, metrics
from wingman.agents.base import Agent, AgentOutcome, AgentStore, CallContext, EntityCatalog
from wingman.agents.coach import SalesCoach
from wingman.agents.feedback import FeedbackPreferences
from wingman.agents.gate import InsightGate
from wingman.agents.playbook import PlaybookProvider, PlaybookSource
from wingman.agents.qa import QaAgent
from wingman.agents.search import SearchAgent
from wingman.bus.base import EventBus
from wingman.errors import WingmanError
from wingman.events import (
    TOPIC_BLOCKS,
    TOPIC_CALLS,
    TOPIC_INSIGHTS,
    AgentRun,
    CallEnded,
    CallStarted,
    Feedback,
    Insight,
    TranscriptBlock,
)
from wingman.health import TENANT
from wingman.llm.base import Llm
from wingman.profile import CompanyProfile, ProfileService
from wingman.search.base import Search
from wingman.search.knowledge import KnowledgeBase
from wingman.search.lexical import KnowledgeEntity
from wingman.settings import Settings
from wingman.store.writer import StoreWriter

if TYPE_CHECKING:
    from wingman.store.writer import WriteStore

log = logging.getLogger(__name__)

GROUP = "agents"
AGENT_RUN_WAIT_SECONDS = 5.0  # at most, for a run's write while the database keeps up
_worker_numbers = itertools.count(1)


def default_agents(
    *,
    llm: Llm,
    knowledge: KnowledgeBase,
    web_search: Search | None,
    settings: Settings,
    playbooks: PlaybookProvider | None = None,
) -> list[Agent]:
    """The coach, search and Q&A agents as configured by `settings`; the coach reads each
    tenant's playbook from `playbooks` (default: the shipped file for everyone)."""
    deadline = settings.agent_deadline_seconds
    llm_timeout = min(settings.llm_timeout_seconds, deadline * 0.8)
    return [
        SalesCoach(
            playbook=playbooks or PlaybookSource(settings.effective_playbook_path),
            llm=llm,
            embedder=knowledge.embedder,
            knowledge=knowledge,
            llm_timeout=llm_timeout,
        ),
        SearchAgent(
            knowledge=knowledge,
            web_search=web_search,
            llm=llm,
            web_timeout=min(settings.search_timeout_seconds, deadline * 0.6),
            llm_timeout=min(llm_timeout, deadline * 0.3),
        ),
        QaAgent(knowledge=knowledge, llm=llm, llm_timeout=llm_timeout),
    ]


def catalog_for(
    profile: CompanyProfile | None,
    knowledge: Mapping[str, KnowledgeEntity],
    *,
    default_competitors: Sequence[str] = (),
) -> EntityCatalog:
    """The names a tenant's agents watch for, from its profile (or the default competitors
    when it has none) and its knowledge base."""
    if profile is None:
        return EntityCatalog.build(default_competitors, knowledge)
    return EntityCatalog.build(
        profile.competitor_names,
        knowledge,
        battlecards=profile.battlecards(),
        own=[profile.name, *profile.products],
    )


class AgentWorker:
    """Consumes `transcript.blocks` (group "agents") and `calls`; publishes to `insights`."""

    def __init__(
        self,
        *,
        bus: EventBus,
        store: AgentStore,
        llm: Llm,
        knowledge: KnowledgeBase,
        web_search: Search | None,
        settings: Settings,
        agents: Sequence[Agent] | None = None,
        consumer: str | None = None,
        max_in_flight: int = 64,
        idle_seconds: float = 2 * 3600,
        preferences_ttl: float = 60.0,
        profiles: ProfileService | None = None,
        playbooks: PlaybookProvider | None = None,
        writer: StoreWriter | None = None,
    ) -> None:
        """`writer`: where agent runs are saved (the process's journaled writer, from the
        container); without one, a writer of its own over `store` (no journal)."""
        self.bus = bus
        # without a profile store (tests, tools): every tenant uses settings.competitors
        self.profiles = profiles
        self.store = store
        # the worker owns its agent runs; only their add_agent_run is called on `store`
        self.writer = writer or StoreWriter(store=cast("WriteStore", store))
        self.knowledge = knowledge
        self.settings = settings
        self.agents = (
            list(agents)
            if agents is not None
            else default_agents(
                llm=llm, knowledge=knowledge, web_search=web_search, settings=settings, playbooks=playbooks
            )
        )
        self.gate = InsightGate(per_minute=settings.insights_per_minute)
        self.deadline = settings.agent_deadline_seconds
        # stable per node and worker index, so a restarted worker takes over its own pending events
        self.consumer = consumer or f"{settings.node_id}-agents-{next(_worker_numbers)}"
        self._slots = asyncio.Semaphore(max_in_flight)
        self._idle_seconds = idle_seconds
        self._preferences_ttl = preferences_ttl
        self._contexts: dict[str, CallContext] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._preferences: dict[str, tuple[float, FeedbackPreferences]] = {}
        self._catalogs: dict[str, tuple[object, object, EntityCatalog]] = {}
        self.block_ms: deque[float] = deque(maxlen=2000)  # wall time per block, all agents
        self.handled = 0  # blocks taken off the bus and finished (duplicates and failures too)
        self.handled_calls = 0  # call events (started, ended, feedback) handled
        self._progress = asyncio.Condition()
        self.counts: dict[str, int] = {
            "blocks": 0,
            "duplicates": 0,
            "published": 0,
            "held": 0,
            "errors": 0,
            "timeouts": 0,
        }

    # -- consuming
    async def run(self) -> None:
        """Consume until cancelled (or the bus closes)."""
        log.info(
            "agent worker started", extra={"consumer": self.consumer, "agents": [a.name for a in self.agents]}
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._start_agents())
            tasks.create_task(self._consume_calls(tasks))
            async for event in self.bus.subscribe(TOPIC_BLOCKS, group=GROUP, consumer=self.consumer):
                if not isinstance(event, TranscriptBlock):
                    continue
                await self._slots.acquire()
                tasks.create_task(self._guarded(event))

    async def _guarded(self, block: TranscriptBlock) -> None:
        try:
            await self.handle_block(block)
        except Exception as e:  # one bad block never stops the worker
            self.counts["errors"] += 1
            log.error(
                "block failed", extra={"call_id": block.call_id, "seq": block.seq, "error": type(e).__name__}
            )
        finally:
            self._slots.release()
            self.handled += 1
            async with self._progress:
                self._progress.notify_all()

    async def wait_handled(self, count: int, *, calls: int = 0, timeout: float = 60.0) -> None:
        """Wait until `count` blocks and `calls` call events from the bus have been handled
        (for tests and benches)."""
        async with asyncio.timeout(timeout), self._progress:
            await self._progress.wait_for(
                lambda: self.handled >= count and self.handled_calls >= calls)

    async def _consume_calls(self, tasks: asyncio.TaskGroup) -> None:
        async for event in self.bus.subscribe(TOPIC_CALLS, group=GROUP, consumer=self.consumer):
            try:
                if isinstance(event, CallStarted):
                    tasks.create_task(self._warm(event.tenant))
                elif isinstance(event, CallEnded):
                    await self._end(event.call_id)
                elif isinstance(event, Feedback):
                    await self._load_preferences(event.tenant, event.user_id, force=True)
            except Exception as e:
                log.error(
                    "call event failed", extra={"type": type(event).__name__, "error": type(e).__name__}
                )
            self.handled_calls += 1
            async with self._progress:
                self._progress.notify_all()

    async def _start_agents(self) -> None:
        for agent in self.agents:
            try:
                await agent.start()
            except Exception as e:
                log.warning("agent start-up failed", extra={"agent": agent.name, "error": type(e).__name__})

    async def _warm(self, tenant: str) -> None:
        for agent in self.agents:
            try:
                await agent.warm(tenant)
            except Exception as e:
                log.warning("agent warm-up failed", extra={"agent": agent.name, "error": type(e).__name__})

    async def _end(self, call_id: str) -> None:
        lock = self._locks.get(call_id)
        if lock is None:
            self._contexts.pop(call_id, None)
            return
        async with lock:  # let the call's last blocks finish first
            self._contexts.pop(call_id, None)
        self._locks.pop(call_id, None)

    # -- per-call state
    async def _load_preferences(
        self, tenant: str, user_id: str, *, force: bool = False
    ) -> FeedbackPreferences:
        # feedback is the rep's own: keyed by workspace and user
        key = f"{tenant}/{user_id}"
        cached = self._preferences.get(key)
        now = time.monotonic()
        if cached is not None and not force and now - cached[0] < self._preferences_ttl:
            return cached[1]
        try:
            counts = await self.store.feedback_by_kind(workspace_id=tenant, user_id=user_id)
            prefs = FeedbackPreferences.from_counts(counts)
        except Exception as e:  # keep the last known preferences: feedback is advisory
            log.warning("feedback load failed", extra={"error": type(e).__name__})
            prefs = cached[1] if cached else FeedbackPreferences()
        self._preferences[key] = (now, prefs)
        for ctx in self._contexts.values():
            if ctx.user_id == user_id and (ctx.workspace_id or ctx.user_id) == tenant:
                ctx.preferences = prefs
        return prefs

    async def _profile(self, tenant: str) -> CompanyProfile | None:
        return await self.profiles.get(tenant) if self.profiles is not None else None

    async def _catalog(self, tenant: str, profile: CompanyProfile | None) -> EntityCatalog:
        entities = await self.knowledge.entities(tenant)
        cached = self._catalogs.get(tenant)
        if cached is not None and cached[0] is entities and cached[1] is profile:
            return cached[2]
        catalog = catalog_for(profile, entities, default_competitors=self.settings.competitors)
        self._catalogs[tenant] = (entities, profile, catalog)
        return catalog

    def _context(self, block: TranscriptBlock) -> CallContext:
        ctx = self._contexts.get(block.call_id)
        if ctx is None:
            now = time.monotonic()
            for call_id in [c for c, x in self._contexts.items() if now - x.last_seen > self._idle_seconds]:
                self._contexts.pop(call_id, None)
                self._locks.pop(call_id, None)
            ctx = self._contexts[block.call_id] = CallContext(block.call_id, block.user_id, block.tenant)
        ctx.last_seen = time.monotonic()
        return ctx

    def context(self, call_id: str) -> CallContext | None:
        return self._contexts.get(call_id)

    # -- one block
    async def handle_block(self, block: TranscriptBlock) -> list[Insight]:
        """Run every agent on `block`; returns the insights that were published."""
        lock = self._locks.setdefault(block.call_id, asyncio.Lock())
        TENANT.set(block.tenant)  # this task's provider errors are this tenant's (health.py)
        async with lock:
            ctx = self._context(block)
            if block.seq in ctx.processed:
                self.counts["duplicates"] += 1
                return []
            ctx.processed.add(block.seq)
            logs.bind(call_id=block.call_id, block_id=block.id)
            metrics.block_received(block)
            self.counts["blocks"] += 1
            started = time.perf_counter()
            ctx.preferences = await self._load_preferences(block.tenant, block.user_id)
            ctx.profile = await self._profile(block.tenant)
            ctx.catalog = await self._catalog(block.tenant, ctx.profile)
            ctx.metrics.observe(block)
            await self._publish(
                ctx.metrics.snapshot(
                    call_id=block.call_id, user_id=block.user_id, workspace_id=block.workspace_id
                ),
                block.call_id,
            )
            published: list[Insight] = []
            async with asyncio.TaskGroup() as group:
                for agent in self.agents:
                    group.create_task(self._run_agent(agent, block, ctx, published))
            ctx.recent.append(block)
            self.block_ms.append((time.perf_counter() - started) * 1000)
            return published

    async def _run_agent(
        self, agent: Agent, block: TranscriptBlock, ctx: CallContext, published: list[Insight]
    ) -> None:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.deadline):
                outcome = await agent.handle(block, ctx)
        except TimeoutError:
            self.counts["timeouts"] += 1
            log.warning("agent missed its deadline", extra={"agent": agent.name, "call_id": block.call_id})
            outcome = agent.outcome(
                block,
                started=started,
                rule_or_prompt="",
                output="",
                error=f"deadline of {self.deadline}s exceeded",
            )
        except Exception as e:
            self.counts["errors"] += 1
            log.error(
                "agent failed",
                extra={"agent": agent.name, "call_id": block.call_id, "error": type(e).__name__},
            )
            outcome = agent.outcome(
                block, started=started, rule_or_prompt="", output="", error=f"{type(e).__name__}: {e}"[:500]
            )
        metrics.agent_ran(block, outcome.run)
        admitted, held = await self._gate_and_publish(outcome, block, ctx)
        published.extend(admitted)
        run = outcome.run.model_copy(update={"insight_ids": tuple(i.id for i in admitted)})
        if held:
            run = run.model_copy(update={"output": f"{run.output} | held back: {'; '.join(held)}"})
        await self._save(run)

    async def _gate_and_publish(
        self, outcome: AgentOutcome, block: TranscriptBlock, ctx: CallContext
    ) -> tuple[list[Insight], list[str]]:
        """The insights the gate admitted (published), and why the others were held back."""
        admitted: list[Insight] = []
        held: list[str] = []
        for insight in outcome.insights:
            decision = self.gate.admit(insight, state=ctx.gate, preferences=ctx.preferences, at=block.end)
            if not decision.admitted:
                held.append(f"{insight.category} ({insight.kind}): {decision.reason}")
                self.counts["held"] += 1
                metrics.insight_held(decision.reason)
                log.info(
                    "insight held",
                    extra={"call_id": block.call_id, "kind": insight.kind, "reason": decision.reason},
                )
                continue
            ctx.shown[decision.insight.id] = decision.insight
            # where in the call's audio it answers: clients time the tip from there
            located = decision.insight.model_copy(update={"block_end": block.end})
            if await self._publish(metrics.stamp_insight(located, block), block.call_id):
                self.counts["published"] += 1
            admitted.append(decision.insight)
        return admitted, held

    async def _publish(self, event: Any, call_id: str) -> bool:
        try:
            await self.bus.publish(TOPIC_INSIGHTS, event, key=call_id)
            return True
        except WingmanError as e:
            log.error("publish failed", extra={"call_id": call_id, "error": type(e).__name__})
            return False

    async def _save(self, run: AgentRun) -> None:
        """Journaled and retried by the writer; waited for (bounded) while the tenant's writes
        go through, so a handled block has its runs stored. Reasoning records are for review:
        a sick database never stalls the call."""
        saved = self.writer.save_agent_run(run)
        if self.writer.healthy_for(run.user_id):
            await asyncio.wait({saved}, timeout=AGENT_RUN_WAIT_SECONDS)
