"""The sample call (notes/CONTRACTS.md) as transcript blocks through the AgentWorker, over the
in-process MemoryBus, with the real Store (SQLite) and the shipped knowledge base and playbook."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.agents import sample_blocks, shared_embedder
from tests.integration.store_support import sqlite_url
from wingman.agents.runner import AgentWorker
from wingman.bus.memory import MemoryBus
from wingman.events import (
    TOPIC_BLOCKS,
    TOPIC_CALLS,
    TOPIC_INSIGHTS,
    BusEvent,
    CallMetrics,
    CallStarted,
    Insight,
)
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store


@dataclass
class Run:
    store: Store
    worker: AgentWorker
    user_id: str
    call_id: str
    events: list[BusEvent]


async def _drain(stream: AsyncIterator[BusEvent], count: int) -> list[BusEvent]:
    events: list[BusEvent] = []
    async with asyncio.timeout(30):
        while len(events) < count:
            events.append(await anext(stream))
    return events


@pytest.fixture
async def sample_run(tmp_path: Path) -> AsyncIterator[Run]:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    try:
        user = await store.create_user(email="sam@relay.example", name="Sam", password_hash=None)
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                title="Relay for Dana's support team")
        knowledge = KnowledgeBase(store=store, embedder=shared_embedder())
        await knowledge.load_sample(user.id)
        bus = MemoryBus()
        worker = AgentWorker(bus=bus, store=store, llm=LocalLlm(), knowledge=knowledge,
                             web_search=None, settings=Settings(data_dir=tmp_path))
        insights = bus.subscribe(TOPIC_INSIGHTS, group="test-sink")
        blocks = sample_blocks(call.id, user.id)
        for agent in worker.agents:  # what CallStarted does while the greeting is spoken
            await agent.warm(user.id)
        async with asyncio.TaskGroup() as tasks:
            running = tasks.create_task(worker.run())
            await bus.publish(TOPIC_CALLS, CallStarted(call_id=call.id, user_id=user.id,
                                                       title="Dana"), key=call.id)
            for b in blocks:
                await bus.publish(TOPIC_BLOCKS, b, key=call.id)
            await bus.publish(TOPIC_BLOCKS, blocks[5], key=call.id)  # delivered twice
            await worker.wait_handled(len(blocks) + 1)
            running.cancel()
        events = await _drain(insights, len(blocks) + worker.counts["published"])
        yield Run(store=store, worker=worker, user_id=user.id, call_id=call.id, events=events)
    finally:
        await store.aclose()


async def test_sample_call_gets_the_right_tips(sample_run: Run) -> None:
    insights = [e for e in sample_run.events if isinstance(e, Insight)]
    by_kind = {i.kind: i for i in insights}
    for i in insights:
        print(f"{i.agent:6} {i.kind:28} {i.source or '':28} {i.content[:90]}")

    aircall = by_kind["competitor.aircall"]
    assert aircall.agent == "search" and aircall.entity == "Aircall"
    assert aircall.source == "battlecard-aircall.md" and aircall.content.startswith("Aircall:")

    assert by_kind["objection.price"].agent == "coach"
    assert by_kind["objection.authority"].agent == "coach"
    assert by_kind["signal.buying"].category == "Closing"

    salesforce = by_kind["qa.integrations"]
    assert salesforce.context_snippet == "Does Relay integrate with Salesforce?"
    assert "Salesforce integration" in salesforce.content and salesforce.entity == "Salesforce"
    implementation = by_kind["qa.implementation"]
    assert implementation.source == "implementation.md"
    assert "business days" in implementation.content or "two weeks" in implementation.content
    soc2 = by_kind["qa.security-and-compliance"]
    assert "SOC 2 Type 2" in soc2.content and soc2.source == "security-and-compliance.md"

    # nothing on what the rep says, nothing twice, nothing off-script
    rep_blocks = {b.id for b in sample_blocks(sample_run.call_id, sample_run.user_id)
                  if b.speaker == "rep"}
    assert not [i for i in insights if i.block_id in rep_blocks]
    assert len(insights) == len({i.id for i in insights}) == 7


async def test_every_decision_is_stored_and_redelivery_is_ignored(sample_run: Run) -> None:
    runs = await sample_run.store.list_agent_runs(viewer=Viewer.owner(sample_run.user_id, sample_run.user_id),
                                                  call_id=sample_run.call_id)
    assert len(runs) == 16 * 3  # one per block and agent, "nothing to say" included
    assert {r.agent for r in runs} == {"coach", "search", "qa"}
    assert [(r.agent, r.error) for r in runs if r.error] == []
    assert all(r.latency_ms >= 0 for r in runs)
    qa_runs = [r for r in runs if r.agent == "qa" and "answered from integrations.md" in r.output]
    assert qa_runs and "Knowledge-base passages" in qa_runs[0].rule_or_prompt
    assert sample_run.worker.counts["duplicates"] == 1
    assert sample_run.worker.counts["errors"] == sample_run.worker.counts["timeouts"] == 0


async def test_metrics_follow_the_conversation(sample_run: Run) -> None:
    metrics = [e for e in sample_run.events if isinstance(e, CallMetrics)]
    assert len(metrics) == 16
    last = metrics[-1]
    assert last.rep_talk_ratio is not None and 0.3 < last.rep_talk_ratio < 0.6
    assert last.rep_questions == 3 and last.customer_questions == 4
    assert last.longest_monologue_seconds > 0
    ms = sorted(sample_run.worker.block_ms)
    print(f"per-block agent time: median {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms")
