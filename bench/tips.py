"""Right tip at the right moment, and a summary worth pasting into a CRM, on the labelled set.

The calls of tests/data/eval (4 made-up companies, each with its own profile and knowledge base;
see its README) go through the real agents (coach, search, Q&A), the real gate and the real
end-of-call summary, with the local engine. Per split (dev, holdout) it prints precision and
recall per kind (objections, competitor briefs, knowledge-base answers citing the labelled
document, buying signals), summary fact recall, next steps with owner and date, file-name leaks,
other-company leaks (a tip or summary naming another company of the set, or the sample company)
and tips per minute. The last line is one comparable figure (holdout).

    .venv/bin/python bench/tips.py [--split dev|holdout|all] [--show] [--by-company]
        [--speech [--band phone|wide|both] [--calls N]] [--only a,b] [--skip a,b]
    (--show: every tip, summary, miss and why; --by-company: one figures line per company too,
    to judge a change on the companies whose calls were not looked at while making it)

Transcript level (default, fast, for tuning): each turn is one transcript block with realistic
timings. Speech level (`--speech`, slow: about the call's length in CPU per call): each call is
spoken by espeak-ng on one telephone channel and goes through the local speech engine and its
diarizer first (bench/_tips_speech.py); `--calls N` takes the first N calls of each split.
`--band wide` speaks them at 16 kHz (VoIP) instead of the telephone band, where espeak-ng's voices
lose much more than real ones: it judges the tip logic apart from those speech errors; `--band
both` runs each split at both and prints both reports.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (the repo on sys.path)
import yaml
from _tips_speech import speech_blocks

from tests.fakes.agents import shared_embedder
from tests.fakes.store import MemoryStore
from wingman.agents.metrics import DetectionScore
from wingman.agents.runner import AgentWorker
from wingman.agents.summary import CallSummary, summarize_call
from wingman.bus.memory import MemoryBus
from wingman.events import Insight, TranscriptBlock
from wingman.llm.local import LocalLlm
from wingman.profile import CompanyProfile, ProfileService
from wingman.sample import sample_profile
from wingman.search.knowledge import KnowledgeBase
from wingman.search.uploads import ParsedDocument, UploadWorker, parse_document, precheck
from wingman.settings import Settings
from wingman.stt.local import LocalWhisperStt

EVAL = _common.ROOT / "tests" / "data" / "eval"
KINDS = ("objection", "competitor", "answer", "signal")
WORDS_PER_SECOND = 2.6
GAP = 0.5


class InProcessUploads(UploadWorker):
    """The upload worker, parsing in this process: the bench's documents are ours, and a child
    process per document cost most of the run in start-up."""

    async def parse(self, filename: str, data: bytes, content_type: str | None) -> ParsedDocument:
        precheck(filename, data, content_type, self.limits)
        return parse_document(filename, data, content_type, self.limits)


@dataclass
class Report:
    counts: dict[str, DetectionScore] = field(
        default_factory=lambda: {k: DetectionScore() for k in KINDS}
    )
    facts: int = 0
    facts_held: int = 0
    steps: int = 0
    steps_held: int = 0
    file_leaks: int = 0
    company_leaks: int = 0
    tips: int = 0
    minutes: float = 0.0
    misses: list[str] = field(default_factory=list)

    def merge(self, other: Report) -> None:
        """Add `other`'s counts (one call's, say) to this report."""
        for kind, count in other.counts.items():
            mine = self.counts[kind]
            mine.tp, mine.fp, mine.fn = mine.tp + count.tp, mine.fp + count.fp, mine.fn + count.fn
        self.facts += other.facts
        self.facts_held += other.facts_held
        self.steps += other.steps
        self.steps_held += other.steps_held
        self.file_leaks += other.file_leaks
        self.company_leaks += other.company_leaks
        self.tips += other.tips
        self.minutes += other.minutes
        self.misses += other.misses


def label_of(insight: Insight) -> str | None:
    """The scored label an insight stands for (None: tone, nudges, product briefs)."""
    if insight.agent == "qa":
        return f"answer:{insight.source}"
    if insight.agent == "search" and insight.kind.startswith("competitor."):
        return f"competitor:{insight.entity}"
    if insight.kind.startswith("objection."):
        return insight.kind
    if insight.kind == "signal.buying":
        return insight.kind
    return None


def _family(label: str) -> str:
    return label.split(":", 1)[0].split(".", 1)[0]


def _holds(text: str, must: list[str]) -> bool:
    low = text.lower()
    return all(any(alt.strip().lower() in low for alt in item.split("|")) for item in must)


def companies() -> dict[str, tuple[CompanyProfile, list[Path]]]:
    out = {}
    for directory in sorted((EVAL / "companies").iterdir()):
        profile = CompanyProfile.model_validate(yaml.safe_load((directory / "profile.yaml").read_text()))
        out[directory.name] = (profile, sorted((directory / "knowledge").glob("*.md")))
    return out


def _foreign_names(mine: CompanyProfile, every: list[CompanyProfile]) -> list[str]:
    """Names of the other companies (and of the sample company) that must never show up."""
    own = {
        mine.name.lower(),
        *(c.name.lower() for c in mine.competitors),
        *(p.lower() for p in mine.products),
    }
    names = set()
    for other in [*every, sample_profile()]:
        for name in [other.name, *other.products]:
            if name.lower() not in own:
                names.add(name)
    return sorted(names)


def transcript_blocks(
    call: dict[str, Any], *, call_id: str, tenant: str
) -> tuple[list[tuple[int, TranscriptBlock]], float]:
    """One block per labelled turn, timed as if spoken; and the call's length in seconds."""
    t = 0.0
    talk = {"rep": 0.0, "customer": 0.0}
    out = []
    for seq, turn in enumerate(call["turns"]):
        duration = len(turn["text"].split()) / WORDS_PER_SECOND
        talk[turn["speaker"]] += duration
        block = TranscriptBlock(
            call_id=call_id, user_id=tenant, seq=seq, text=turn["text"], speaker=turn["speaker"],
            start=t, end=t + duration, talk_seconds=dict(talk),
        )
        out.append((seq, block))
        t += duration + GAP
    return out, t


async def run_call(
    path: Path,
    world: dict[str, tuple[CompanyProfile, list[Path]]],
    report: Report,
    show: bool,
    stt: LocalWhisperStt | None = None,
    seed: int = 0,
    wideband: bool = False,
) -> None:
    call = yaml.safe_load(path.read_text())  # noqa: ASYNC240 - a bench reading its inputs
    profile, documents = world[call["company"]]
    store = MemoryStore()
    embedder = shared_embedder()
    knowledge = KnowledgeBase(store=store, embedder=embedder, uploads=InProcessUploads(embedder=embedder))
    tenant = f"tenant-{call['company']}"
    for doc in documents:
        await knowledge.add_document(tenant, doc.name, doc.read_bytes(), "text/markdown")  # noqa: ASYNC240
    profiles = ProfileService(store=store)
    await profiles.put(tenant, profile)
    worker = AgentWorker(
        bus=MemoryBus(),
        store=store,
        llm=LocalLlm(),
        knowledge=knowledge,
        web_search=None,
        settings=Settings(agent_deadline_seconds=5.0),
        profiles=profiles,
    )
    for agent in worker.agents:
        await agent.start()
        await agent.warm(tenant)
    call_id = path.stem
    if stt is not None:
        blocks, length = await speech_blocks(
            call, call_id=call_id, tenant=tenant, stt=stt, profile=profile, seed=seed,
            wideband=wideband,
        )
    else:
        blocks, length = transcript_blocks(call, call_id=call_id, tenant=tenant)
    shown: list[Insight] = []
    got_by_turn: dict[int, set[str]] = {}
    for turn_index, block in blocks:
        published = await worker.handle_block(block)
        shown += published
        got_by_turn.setdefault(turn_index, set()).update(label for i in published if (label := label_of(i)))
        if show:
            for i in published:
                print(f"    #{turn_index:2} {i.agent:6} {i.kind:26} {(i.source or ''):28} {i.content[:90]}")
    for seq, turn in enumerate(call["turns"]):
        got = got_by_turn.get(seq, set())
        expected = set(turn.get("expect", []))
        for kind, count in report.counts.items():
            mine = {label for label in expected | got if _family(label) == kind}
            misses = count.add(expected & mine, got & mine, turn["text"][:70])
            report.misses += [f"{path.stem}#{seq} {m}" for m in misses]
            if show and misses and stt is None:  # what the agents said about the moment they got wrong
                block_id = blocks[seq][1].id
                for run in await store.list_agent_runs(user_id=tenant, call_id=call_id):
                    if run.block_id == block_id and run.agent in ("coach", "qa", "search"):
                        print(f"      why #{seq} {run.agent}: {run.output[:200]}")
    report.tips += len(shown)
    report.minutes += length / 60
    segments = [block for _, block in blocks]
    summary = await summarize_call(
        llm=LocalLlm(), call_id=call_id, segments=segments, insights=shown, profile=profile
    )
    check_summary(path.stem, call, summary, profile, documents, world, shown, report, show)


def check_summary(
    name: str,
    call: dict[str, Any],
    summary: CallSummary,
    profile: CompanyProfile,
    documents: list[Path],
    world: dict[str, tuple[CompanyProfile, list[Path]]],
    shown: list[Insight],
    report: Report,
    show: bool,
) -> None:
    text = "\n".join([summary.summary, *summary.action_items])
    if show:
        print("    summary:", summary.summary.replace("\n", " | "))
        print("    actions:", summary.action_items)
    for fact in call["summary"]:
        report.facts += 1
        held = _holds(text, fact["must"])
        if fact.get("owner"):
            report.steps += 1
            owner = "Rep" if fact["owner"] == "rep" else "Customer"
            step = any(
                item.startswith(owner) and _holds(item, fact["must"]) and fact["date"].lower() in item.lower()
                for item in summary.action_items
            )
            report.steps_held += step
            held = held and step
        report.facts_held += held
        if not held:
            report.misses.append(
                f"{name} summary lacks {fact['kind']} {fact['must']}"
                + (f" ({fact['owner']}, {fact['date']})" if fact.get("owner") else "")
            )
    # a file name, or a stem no one says ("battlecard-sentrix", "acme dialer faq"); a stem that is
    # a plain word ("pricing", "operations") is counted only as a file name
    files = {p.name for _, docs in world.values() for p in docs}
    for _, docs in world.values():
        for p in docs:
            if re.search(r"[-_]", p.stem):
                files |= {p.stem, re.sub(r"[-_]+", " ", p.stem)}
    report.file_leaks += sum(1 for f in files if f.lower() in text.lower()) + len(
        re.findall(r"\b\w+\.md\b", text)
    )
    foreign = _foreign_names(profile, [p for p, _ in world.values()])
    said = "\n".join([text, *(i.content for i in shown)]).lower()
    leaks = [n for n in foreign if re.search(rf"\b{re.escape(n.lower())}\b", said)]
    report.company_leaks += len(leaks)
    if leaks:
        report.misses.append(f"{name} names other companies: {leaks}")


def _selected(name: str, only: str, skip: str) -> bool:
    """Whether call `name` is in the --only prefixes (all when empty) and not in --skip's."""
    prefixes = [p for p in only.split(",") if p]
    skipped = [p for p in skip.split(",") if p]
    wanted = not prefixes or name.startswith(tuple(prefixes))
    return wanted and not (skipped and name.startswith(tuple(skipped)))


def print_report(split: str, report: Report) -> None:
    print(f"== {split}")
    for kind in KINDS:
        c = report.counts[kind]
        print(
            f"  {kind:10} precision {c.precision:.2f} recall {c.recall:.2f} (tp {c.tp}, fp {c.fp}, fn {c.fn})"
        )
    print(
        f"  summary facts {report.facts_held}/{report.facts} = "
        f"{report.facts_held / max(1, report.facts):.2f}; "
        f"next steps with owner and date {report.steps_held}/{report.steps}"
    )
    print(
        f"  file-name leaks {report.file_leaks}; other-company leaks {report.company_leaks}; "
        f"tips per minute {report.tips / max(report.minutes, 1e-9):.1f}"
    )


def summary_line(name: str, report: Report) -> str:
    """One comparable line of a report's figures."""
    c = report.counts
    return (
        f"{name} objection_p={c['objection'].precision:.2f} r={c['objection'].recall:.2f} "
        f"competitor_p={c['competitor'].precision:.2f} r={c['competitor'].recall:.2f} "
        f"answer_p={c['answer'].precision:.2f} r={c['answer'].recall:.2f} "
        f"signal_p={c['signal'].precision:.2f} r={c['signal'].recall:.2f} "
        f"facts={report.facts_held / max(1, report.facts):.2f} steps={report.steps_held}/{report.steps} "
        f"file_leaks={report.file_leaks} company_leaks={report.company_leaks} "
        f"tips_per_min={report.tips / max(report.minutes, 1e-9):.1f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=("dev", "holdout", "all"), default="dev")
    parser.add_argument("--show", action="store_true", help="print every tip, summary and miss")
    parser.add_argument("--speech", action="store_true", help="speak the calls and transcribe them first")
    parser.add_argument(
        "--band", choices=("phone", "wide", "both"), default="phone",
        help="--speech: telephone band (8 kHz), wideband VoIP (16 kHz), or both",
    )
    parser.add_argument("--calls", type=int, default=0, help="only the first N calls of each split")
    parser.add_argument(
        "--only", default="", help="only the calls whose name starts with one of these (comma-separated)"
    )
    parser.add_argument(
        "--skip", default="", help="leave out the calls whose name starts with one of these (comma-separated)"
    )
    parser.add_argument("--model", default="tiny.en", help="local speech model (--speech)")
    parser.add_argument(
        "--by-company", action="store_true", help="also print one figures line per company"
    )
    args = parser.parse_args()
    stt = None
    bands = [""]
    if args.speech:
        stt = LocalWhisperStt(model=args.model, data_dir=Path("data"))
        await stt.warm_up()
        bands = ["phone", "wide"] if args.band == "both" else [args.band]
    world = companies()
    splits = ["dev", "holdout"] if args.split == "all" else [args.split]
    reports = {}
    for band in bands:
        for split in splits:
            name = f"{split} ({band} band)" if band else split
            report = reports[(band, split)] = Report()
            paths = [
                p
                for p in sorted((EVAL / "calls" / split).glob("*.yaml"))
                if _selected(p.stem, args.only, args.skip)
            ]
            by_company: dict[str, Report] = {}
            for n, path in enumerate(paths[: args.calls or None]):
                if args.show:
                    print(f"-- {path.stem}")
                one = Report()
                await run_call(path, world, one, args.show, stt=stt, seed=n, wideband=band == "wide")
                report.merge(one)
                company = str(yaml.safe_load(path.read_text())["company"])
                by_company.setdefault(company, Report()).merge(one)
            print_report(name, report)
            if args.by_company:
                for company, part in sorted(by_company.items()):
                    print(summary_line(f"  {company}", part))
            if args.show:
                for miss in report.misses:
                    print("   ", miss)
    if stt is not None:
        await stt.aclose()
    for band in bands:
        level = f"speech_{'wide_' if band == 'wide' else ''}" if band else ""
        print(summary_line(f"tips_{level}{splits[-1]}", reports[(band, splits[-1])]))


if __name__ == "__main__":
    asyncio.run(main())
