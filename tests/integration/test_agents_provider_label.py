"""Insights and agent runs name the engine that actually answered: with Gemini (its loopback
stand-in) behind a FallbackLlm, a tip the local engine wrote after Gemini timed out says "local",
and one Gemini wrote says "gemini"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.fakes import gemini_server
from tests.fakes.agents import block, shared_embedder
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.http_stub import Reply
from tests.integration.store_support import sqlite_url
from wingman.agents.runner import AgentWorker
from wingman.bus.memory import MemoryBus
from wingman.events import Insight
from wingman.health import ProviderHealth
from wingman.llm.fallback import FallbackLlm
from wingman.llm.gemini import GeminiLlm
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store

PRICE = "Honestly, your price seems high. It's more than we budgeted for this year."
GEMINI_TIP = "Ask what budget they had in mind before talking discounts."


@dataclass
class World:
    store: Store
    worker: AgentWorker
    gemini: FakeGemini
    user_id: str

    async def coach_on_price(self) -> tuple[list[Insight], str]:
        """The price objection in a new call: (coach insights published, coach run's provider)."""
        call = await self.store.create_call(workspace_id=self.user_id, user_id=self.user_id, title="pricing")
        published = await self.worker.handle_block(block(PRICE, call_id=call.id, user_id=self.user_id))
        runs = await self.store.list_agent_runs(viewer=Viewer.owner(self.user_id, self.user_id),
                call_id=call.id)
        coach_runs = [r for r in runs if r.agent == "coach"]
        assert len(coach_runs) == 1, runs
        return [i for i in published if i.agent == "coach"], coach_runs[0].provider


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(url=sqlite_url(tmp_path))
    await store.migrate()
    try:
        user = await store.create_user(email="sam@relay.example", name="Sam", password_hash=None)
        knowledge = KnowledgeBase(store=store, embedder=shared_embedder())
        async with FakeGemini() as server:
            primary = GeminiLlm(
                api_key=SecretStr(server.api_key), model="gemini-2.5-flash", base_url=server.base_url
            )
            llm = FallbackLlm(primary=primary, fallback=LocalLlm(), health=ProviderHealth())
            settings = Settings(
                data_dir=tmp_path, llm="gemini", llm_timeout_seconds=1.0, agent_deadline_seconds=1.5
            )
            worker = AgentWorker(
                bus=MemoryBus(), store=store, llm=llm, knowledge=knowledge, web_search=None, settings=settings
            )
            yield World(store=store, worker=worker, gemini=server, user_id=user.id)
            await llm.aclose()
    finally:
        await store.aclose()


async def test_a_tip_the_local_engine_wrote_after_a_gemini_timeout_is_labelled_local(
    world: World,
) -> None:
    world.gemini.reply(*[Reply(200, {}, delay=5.0)] * 4)  # Gemini hangs past every deadline
    insights, run_provider = await world.coach_on_price()
    assert world.gemini.requests, "Gemini was never asked"
    assert insights, "no tip for a price objection"
    assert {i.provider for i in insights} == {"local"}
    assert run_provider == "local"


async def test_a_tip_gemini_wrote_is_labelled_gemini(world: World) -> None:
    world.gemini.reply(*[gemini_server.answer({"tip": GEMINI_TIP, "skip": False})] * 4)
    insights, run_provider = await world.coach_on_price()
    assert [i.content for i in insights][:1] == [GEMINI_TIP]
    assert {i.provider for i in insights} == {"gemini"}
    assert run_provider == "gemini"
