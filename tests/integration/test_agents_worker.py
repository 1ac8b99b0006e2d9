"""The AgentWorker on the MemoryBus with the real Store: agents run in parallel and publish as
they finish, deadlines and failures are recorded, and feedback changes what is shown next."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.agents import ScriptedAgent, block, shared_embedder
from tests.integration.store_support import sqlite_url
from wingman.agents.base import AgentOutcome, CallContext
from wingman.agents.runner import AgentWorker, default_agents
from wingman.bus.memory import MemoryBus
from wingman.events import (
    TOPIC_BLOCKS,
    TOPIC_CALLS,
    TOPIC_INSIGHTS,
    BusEvent,
    Feedback,
    Insight,
    TranscriptBlock,
)
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store


@dataclass
class World:
    store: Store
    bus: MemoryBus
    knowledge: KnowledgeBase
    user_id: str
    settings: Settings

    async def new_call(self) -> str:
        return (await self.store.create_call(workspace_id=self.user_id, user_id=self.user_id,
                title="test call")).id


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    user = await store.create_user(email="ana@example.com", name="Ana", password_hash=None)
    try:
        yield World(store=store, bus=MemoryBus(),
                    knowledge=KnowledgeBase(store=store, embedder=shared_embedder()),
                    user_id=user.id,
                    settings=Settings(data_dir=tmp_path, agent_deadline_seconds=1.0))
    finally:
        await store.aclose()


def _worker(world: World, agents: list[ScriptedAgent] | None = None) -> AgentWorker:
    return AgentWorker(bus=world.bus, store=world.store, llm=LocalLlm(), knowledge=world.knowledge,
                       web_search=None, settings=world.settings, agents=agents)


class GatedAgent(ScriptedAgent):
    """Waits until the test opens the gate: proves nobody waits for it to publish."""

    def __init__(self, gate: asyncio.Event) -> None:
        super().__init__(name="slow", content="slow tip", kind="slow.tip")
        self.gate = gate

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        await self.gate.wait()
        return await super().handle(block, ctx)


async def _next_insight(stream: AsyncIterator[BusEvent]) -> Insight:
    async with asyncio.timeout(10):
        while True:
            event = await anext(stream)
            if isinstance(event, Insight):
                return event


async def test_a_slow_agent_never_delays_the_others(world: World) -> None:
    gate = asyncio.Event()
    worker = _worker(world, [GatedAgent(gate), ScriptedAgent(name="fast", content="fast tip",
                                                            kind="fast.tip")])
    stream = world.bus.subscribe(TOPIC_INSIGHTS, group="test")
    call_id = await world.new_call()
    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(worker.run())
        await world.bus.publish(TOPIC_BLOCKS, block("hello", call_id=call_id,
                                                    user_id=world.user_id), key=call_id)
        first = await _next_insight(stream)  # while the slow agent is still waiting
        assert first.content.startswith("fast tip")
        gate.set()
        second = await _next_insight(stream)
        assert second.content.startswith("slow tip")
        await worker.wait_handled(1)
        running.cancel()


async def test_deadlines_and_failures_are_recorded_and_the_rest_is_published(world: World) -> None:
    agents = [ScriptedAgent(name="stuck", delay=30), ScriptedAgent(name="broken", fail=True),
              ScriptedAgent(name="fine", content="fine tip", kind="fine.tip")]
    worker = _worker(world, agents)
    call_id = await world.new_call()
    b = block("hello", call_id=call_id, user_id=world.user_id)
    published = await worker.handle_block(b)
    assert [i.kind for i in published] == ["fine.tip"]
    runs = {r.agent: r for r in await world.store.list_agent_runs(viewer=Viewer.owner(world.user_id,
            world.user_id),
                                                                   call_id=call_id)}
    assert runs["stuck"].error == "deadline of 1.0s exceeded"
    assert runs["broken"].error == "RuntimeError: scripted failure"
    assert runs["fine"].error is None and runs["fine"].output == "said it"
    assert worker.counts["timeouts"] == 1 and worker.counts["errors"] == 1
    assert await worker.handle_block(b) == []  # the same block again: ignored


async def test_dislikes_change_what_the_user_sees_next(world: World) -> None:
    await world.knowledge.load_sample(world.user_id)
    worker = AgentWorker(bus=world.bus, store=world.store, llm=LocalLlm(),
                         knowledge=world.knowledge, web_search=None,
                         settings=world.settings.model_copy(update={"agent_deadline_seconds": 5.0}))
    for agent in worker.agents:
        await agent.warm(world.user_id)
    price = "Honestly, that's way too expensive for us."
    first_call = await world.new_call()
    shown = await worker.handle_block(block(price, call_id=first_call, user_id=world.user_id))
    tip = next(i for i in shown if i.kind == "objection.price")
    # the rep dislikes price tips three times (this one and two earlier ones)
    for n in range(3):
        insight = tip if n == 0 else tip.model_copy(update={"id": str(uuid.uuid4())})
        await world.store.add_recommendation(insight)
        await world.store.set_feedback(workspace_id=world.user_id, user_id=world.user_id,
                recommendation_id=insight.id,
                                       status="disliked")
    async with asyncio.TaskGroup() as tasks:
        running = tasks.create_task(worker.run())
        await world.bus.publish(TOPIC_CALLS, Feedback(id=tip.id, user_id=world.user_id,
                                                      status="disliked"), key=first_call)
        await worker.wait_handled(0, calls=1)  # the worker reloads this user's preferences
        second_call = await world.new_call()
        await world.bus.publish(TOPIC_BLOCKS, block(price, call_id=second_call,
                                                    user_id=world.user_id), key=second_call)
        await worker.wait_handled(1)
        running.cancel()
    ctx = worker.context(second_call)
    assert ctx is not None and ctx.preferences.weight("objection.price") is None
    assert not [i for i in ctx.shown.values() if i.kind == "objection.price"]
    runs = await world.store.list_agent_runs(viewer=Viewer.owner(world.user_id, world.user_id),
            call_id=second_call)
    coach = next(r for r in runs if r.agent == "coach")
    assert "Price objection: hidden, the user disliked these tips" in coach.output


def test_default_agents_follow_settings(tmp_path: Path) -> None:
    from tests.fakes.store import MemoryStore

    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    agents = default_agents(llm=LocalLlm(), knowledge=kb, web_search=None,
                            settings=Settings(data_dir=tmp_path, agent_deadline_seconds=1.0))
    assert [a.name for a in agents] == ["coach", "search", "qa"]
