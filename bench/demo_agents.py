"""The sample call's agents on a given transcript, without speech or a server: which tips the
demo call's finals (as one-channel audio gave them) get, and why each agent decided what it did.

Input: a JSON file with a list of finals {speaker, text, start, end} (e.g. the "finals" of
`bench/audio_to_insight.py --dump`), or none for the script's own utterances. Each final is one
transcript block (as the aggregator hands a finished sentence to the agents at once), through
the real agents (coach, search, Q&A) and the real gate, with the sample company loaded and the
local engine. Prints each block with its tips, and for a block without one the agents' outputs.
Deterministic: for checking an agent change on the demo's one-channel and phone transcripts.

    PYTHONPATH=src .venv/bin/python bench/demo_agents.py [finals.json ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (the repo on sys.path)
from _common import demo_script
from tips import InProcessUploads, local_worker

from tests.fakes.agents import shared_embedder
from tests.fakes.store import MemoryStore
from wingman.events import TranscriptBlock
from wingman.profile import ProfileService
from wingman.sample import load_sample_data
from wingman.search.knowledge import KnowledgeBase


async def run(finals: list[dict[str, Any]], label: str) -> None:
    store = MemoryStore()
    embedder = shared_embedder()
    knowledge = KnowledgeBase(store=store, embedder=embedder, uploads=InProcessUploads(embedder=embedder))
    tenant = "tenant-demo"
    profiles = ProfileService(store=store)
    await load_sample_data(tenant, knowledge=knowledge, profiles=profiles)
    worker = await local_worker(store, knowledge, profiles, tenant)
    talk = {"rep": 0.0, "customer": 0.0}
    print(f"== {label}")
    for seq, f in enumerate(finals):
        speaker = f.get("speaker")
        if speaker in talk:
            talk[speaker] += float(f["end"]) - float(f["start"])
        block = TranscriptBlock(
            call_id=label,
            user_id=tenant,
            seq=seq,
            text=f["text"],
            speaker=speaker,
            start=float(f["start"]),
            end=float(f["end"]),
            talk_seconds=dict(talk),
        )
        published = await worker.handle_block(block)
        tips = ", ".join(i.kind for i in published)
        print(f"{f['start']:6.2f} {speaker or '-':8} {f['text']!r}  -> {tips or '-'}")
        if not published:
            for r in await store.list_agent_runs(user_id=tenant, call_id=label):
                if r.block_id == block.id and r.agent in ("coach", "qa", "search"):
                    print(f"         {r.agent}: {r.output[:160]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("finals", nargs="*", type=Path, help="JSON: a list of finals, or an object with 'finals'")
    args = ap.parse_args()
    inputs: list[tuple[str, list[dict[str, Any]]]] = []
    for path in args.finals:
        data = json.loads(path.read_text())
        inputs.append((path.stem, data["finals"] if isinstance(data, dict) else data))
    if not inputs:
        script = [
            {"speaker": u["speaker"], "text": u["text"], "start": u["start"], "end": u["end"]}
            for u in demo_script()
        ]
        inputs.append(("script", script))
    for label, finals in inputs:
        asyncio.run(run(finals, label))


if __name__ == "__main__":
    main()
