"""What the Q&A agent's re-rank costs on a call's first question: cold (the sentence embeddings
not cached yet, `warm_sentences` not done) and warm, and what `warm_sentences` costs at the start.

For each dev call (tests/data/eval/calls/dev), its company's documents are uploaded once; the
call's first customer question labelled with an answer goes through what QaAgent does for it:
`retrieve` (4 passages), `rerank`, `rank_sentences` on the best two. Each run gets a fresh
embedder (model loaded, empty cache) and knowledge base over the same stored chunks, so the
question's own embedding is never cached; "warm" runs `warm_sentences` first. Wall clock and
process CPU (every thread) per question: run it under the bench lock and give the load.

    .venv/bin/python bench/rerank_cold.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import _common  # noqa: F401  (the repo on sys.path)
import yaml
from _common import percentile
from tips import InProcessUploads

from tests.fakes.store import MemoryStore
from wingman.search.embeddings import Embedder
from wingman.search.knowledge import KnowledgeBase

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "eval"


def first_question(call: dict[str, object]) -> str | None:
    for turn in call["turns"]:  # type: ignore[attr-defined]
        if any(str(label).startswith("answer:") for label in turn.get("expect", [])):
            return str(turn["text"])
    return None


def fresh(store: MemoryStore) -> KnowledgeBase:
    embedder = Embedder()
    embedder.warm_up()
    return KnowledgeBase(store=store, embedder=embedder)


async def answer_path(kb: KnowledgeBase, tenant: str, question: str) -> tuple[float, float]:
    """(wall ms, process CPU ms) of retrieve + rerank + rank_sentences for `question`."""
    w, p = time.perf_counter(), time.process_time()
    passages = await kb.rerank(question, await kb.retrieve(tenant, question, limit=4))
    await kb.rank_sentences(question, passages[:2])
    return (time.perf_counter() - w) * 1000, (time.process_time() - p) * 1000


async def main(calls: int) -> None:
    stores: dict[str, MemoryStore] = {}
    keys = ("cold", "cold_cpu", "warm", "warm_cpu", "ws", "ws_cpu")
    figures: dict[str, list[float]] = {k: [] for k in keys}
    paths = sorted((EVAL / "calls" / "dev").glob("*.yaml"))
    for path in paths[:calls] if calls else paths:
        call = yaml.safe_load(path.read_text())  # noqa: ASYNC240 - a bench reading its inputs
        question = first_question(call)
        if question is None:
            continue
        company, tenant = call["company"], f"tenant-{call['company']}"
        if company not in stores:
            store = stores[company] = MemoryStore()
            embedder = Embedder()
            kb = KnowledgeBase(store=store, embedder=embedder, uploads=InProcessUploads(embedder=embedder))
            for doc in sorted((EVAL / "companies" / company / "knowledge").glob("*.md")):
                await kb.add_document(tenant, doc.name, doc.read_bytes(), "text/markdown")  # noqa: ASYNC240
        cold = fresh(stores[company])
        await cold.warm(tenant)
        wall, cpu = await answer_path(cold, tenant, question)
        figures["cold"].append(wall)
        figures["cold_cpu"].append(cpu)
        warm = fresh(stores[company])
        await warm.warm(tenant)
        w, p = time.perf_counter(), time.process_time()
        await warm.warm_sentences(tenant)
        figures["ws"].append((time.perf_counter() - w) * 1000)
        figures["ws_cpu"].append((time.process_time() - p) * 1000)
        wall, cpu = await answer_path(warm, tenant, question)
        figures["warm"].append(wall)
        figures["warm_cpu"].append(cpu)

    def stats(key: str) -> str:
        values = figures[key]
        return f"p50 {percentile(values, 0.5):6.1f}  max {max(values):6.1f} ms"

    n = len(figures["cold"])
    print(f"{n} first questions, {len(stores)} companies")
    print(f"cold  wall {stats('cold')}   process CPU {stats('cold_cpu')}")
    print(f"warm  wall {stats('warm')}   process CPU {stats('warm_cpu')}")
    print(f"warm_sentences at call start  wall {stats('ws')}   process CPU {stats('ws_cpu')}")
    print(
        f"rerank_first_question cold_ms_p50={percentile(figures['cold'], 0.5):.1f} "
        f"cold_cpu_ms_p50={percentile(figures['cold_cpu'], 0.5):.1f} "
        f"warm_ms_p50={percentile(figures['warm'], 0.5):.1f} "
        f"warm_cpu_ms_p50={percentile(figures['warm_cpu'], 0.5):.1f} "
        f"warm_sentences_ms_p50={percentile(figures['ws'], 0.5):.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=0, help="only the first N dev calls")
    asyncio.run(main(parser.parse_args().calls))
