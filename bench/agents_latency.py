"""Per-block latency of the agent layer on the local engine (coach + search + Q&A in parallel).

Loads the demo knowledge base into a fresh SQLite store, warms the agents (as CallStarted does),
then feeds the sample call and the labelled utterances (tests/data/utterances.yaml) as blocks
through AgentWorker.handle_block, several rounds, each round a new call. Reports the wall time
per block (all three agents, gate and publishing included) and each agent's own latency, for
customer blocks (the ones that do work) and all blocks.

The last line is one comparable figure:
    agents_block_ms_p50=12.3 p95=45.6 max=80.1

Numbers depend on the machine and on what else runs on it; the first round includes cold
caches. Run: .venv/bin/python bench/agents_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml
from _common import ROOT, percentile

from wingman.agents.runner import AgentWorker
from wingman.bus.memory import MemoryBus
from wingman.events import TranscriptBlock
from wingman.llm.local import LocalLlm
from wingman.search.embeddings import Embedder
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.records import Viewer
from wingman.store.repos import Store


def _texts() -> list[tuple[str, str]]:
    items = yaml.safe_load((ROOT / "tests" / "data" / "utterances.yaml").read_text())
    return [(i["speaker"], i["text"]) for i in items]


def _fmt(values: list[float]) -> str:
    return (f"p50 {percentile(values, 0.5):6.1f}  p95 {percentile(values, 0.95):6.1f}  "
            f"max {max(values):6.1f} ms  (n={len(values)})")


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await store.migrate()
        user = await store.create_user(email="bench@example.com", name="Bench", password_hash=None)
        knowledge = KnowledgeBase(store=store, embedder=Embedder())
        t = time.perf_counter()
        await knowledge.load_sample(user.id)
        print(f"sample knowledge base loaded in {time.perf_counter() - t:.1f} s")
        worker = AgentWorker(bus=MemoryBus(), store=store, llm=LocalLlm(), knowledge=knowledge,
                             web_search=None, settings=Settings(data_dir=Path(tmp)))
        t = time.perf_counter()
        for agent in worker.agents:
            await agent.warm(user.id)
        print(f"agents warmed in {time.perf_counter() - t:.1f} s")
        lines = _texts()
        customer_ms: list[float] = []
        agent_ms: dict[str, list[float]] = defaultdict(list)
        for _ in range(rounds):
            call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="bench")
            clock = 0.0
            for seq, (speaker, text) in enumerate(lines):
                block = TranscriptBlock(call_id=call.id, user_id=user.id, seq=seq, text=text,
                                        speaker=speaker, start=clock, end=clock + 4)
                clock += 30  # spread out: the rate limit must not hide work
                before = len(worker.block_ms)
                await worker.handle_block(block)
                if speaker == "customer" and len(worker.block_ms) > before:
                    customer_ms.append(worker.block_ms[-1])
            for run in await store.list_agent_runs(viewer=Viewer.own(user), call_id=call.id):
                agent_ms[run.agent].append(run.latency_ms)
        all_ms = list(worker.block_ms)
        print(f"blocks, all speakers:  {_fmt(all_ms)}")
        print(f"blocks, customer only: {_fmt(customer_ms)}")
        for name, values in sorted(agent_ms.items()):
            print(f"agent {name:6}          {_fmt(values)}")
        print(f"insights published {worker.counts['published']}, held {worker.counts['held']}, "
              f"timeouts {worker.counts['timeouts']}, errors {worker.counts['errors']}")
        await store.aclose()
        print(f"agents_block_ms_p50={percentile(customer_ms, 0.5):.1f} "
              f"p95={percentile(customer_ms, 0.95):.1f} max={max(customer_ms):.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
