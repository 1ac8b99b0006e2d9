"""Shared helpers for the agents' tests: one embedding model per test session (loading it and
embedding the sample knowledge base is the slow part), fresh stores and knowledge bases per
test, scripted agents for the worker tests, and the labelled utterances."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.store import MemoryStore
from wingman.agents.base import Agent, AgentOutcome, CallContext, EntityCatalog, stable_id
from wingman.agents.runner import catalog_for as runner_catalog
from wingman.events import Insight, TranscriptBlock
from wingman.sample import sample_profile
from wingman.search.embeddings import Embedder
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import DATA_DIR

DATA = Path(__file__).resolve().parents[1] / "data"
USER = "user-1"

# the shipped sample call's script (what its audio says), as (speaker, text)
SAMPLE_CALL: list[tuple[str, str]] = [
    (u["speaker"], u["text"])
    for u in json.loads((DATA_DIR / "demo" / "sample_call.json").read_text())["utterances"]
]


@cache
def shared_embedder() -> Embedder:
    embedder = Embedder()
    embedder.warm_up()
    return embedder


async def sample_knowledge(user_id: str = USER) -> tuple[KnowledgeBase, MemoryStore]:
    store = MemoryStore()
    kb = KnowledgeBase(store=store, embedder=shared_embedder())
    await kb.load_sample(user_id)
    return kb, store


async def catalog_for(kb: KnowledgeBase, user_id: str = USER) -> EntityCatalog:
    """The sample company's catalog: its profile's competitors and its documents' names."""
    return runner_catalog(sample_profile(), await kb.entities(user_id))


def utterances(name: str = "utterances.yaml") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = yaml.safe_load((DATA / name).read_text())
    return items


def sample_blocks(call_id: str, user_id: str = USER, *, words_per_second: float = 2.5,
                  gap: float = 0.6) -> list[TranscriptBlock]:
    """The sample call as blocks with realistic timings and running talk totals."""
    blocks: list[TranscriptBlock] = []
    t = 0.0
    talk = {"rep": 0.0, "customer": 0.0}
    for seq, (speaker, text) in enumerate(SAMPLE_CALL):
        duration = len(text.split()) / words_per_second
        talk[speaker] += duration
        blocks.append(TranscriptBlock(call_id=call_id, user_id=user_id, seq=seq, text=text,
                                      speaker=speaker, start=t, end=t + duration,
                                      talk_seconds=dict(talk)))
        t += duration + gap
    return blocks


def block(text: str, *, speaker: str | None = "customer", seq: int = 0, call_id: str = "call-1",
          user_id: str = USER, start: float = 0.0, end: float = 3.0,
          workspace_id: str = "") -> TranscriptBlock:
    return TranscriptBlock(call_id=call_id, user_id=user_id, workspace_id=workspace_id, seq=seq, text=text,
                           speaker=speaker, start=start, end=end)


@dataclass
class ScriptedAgent(Agent):
    """An agent that waits `delay` seconds (or raises) and then says `content`."""

    name: str = "scripted"
    delay: float = 0.0
    content: str = "scripted tip"
    kind: str = "scripted.tip"
    fail: bool = False
    priority: float = 0.6

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        import time

        started = time.perf_counter()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("scripted failure")
        insight = Insight(id=stable_id(block.call_id, block.seq, self.name), call_id=block.call_id,
                          user_id=block.user_id, block_id=block.id, agent="coach",
                          category="Test", kind=self.kind,
                          content=f"{self.content} #{block.seq}", priority=self.priority)
        return self.outcome(block, started=started, rule_or_prompt="script", output="said it",
                            insights=[insight])
