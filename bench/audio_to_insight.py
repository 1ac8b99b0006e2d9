"""Seconds from the end of the sentence that holds a cue to its tip reaching the client.

The sample call is streamed at real-time pace through the embedded default (local speech,
local agents, in-process bus, SQLite) over real Socket.IO. Each of its seven cues (CUES: the
utterance, the tip it deserves, the sentence that holds it) is timed from the end of that
sentence in the audio (sample_call.json gives each sentence's start and end as
scripts/make_demo_audio.py synthesized it) to the first insight of the cue's kind whose block
ends in that utterance (the insight's `audio_end`, matched to the nearest sentence end).

A tip that reaches the client before its sentence has ended is never timed: it is counted as
early and printed with the sentence it answered, which tells whether the label is wrong (the
tip answered an earlier sentence that holds the cue too) or the tip fired on other words.

The old figure is printed beside the new one: from the end of the utterance to the first
insight of any kind whose context shares words with it. There a tip that answers an utterance's
first sentence counts negative, early by design (the aggregator hands every finished sentence
to the agents at once), and another tip on the same utterance can stand in for the cue's.

--audio mono: the same call mixed onto one channel (16 kHz, as one microphone hears both);
--audio phone: that channel in the telephone band too (8 kHz, 300-3400 Hz, noise at 20 dB SNR),
as a phone line gives it. On one channel, who speaks comes from diarization, not the channel.

The client sends each 0.1 s chunk when its first sample is due, so the server holds a
sentence's last audio up to 0.1 s sooner than a microphone could send it.
Prints a line per cue (new and old delay, and why an old one is negative), a line per extra tip
(no cue's), then one comparable line with both figures.
Target on a 2-core machine: p50 <= 1.0 s, p95 <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEMO_WAV, demo_script, percentile, word_set  # noqa: E402

from tests.audio_sets import conversation, demo_one_channel  # noqa: E402
from tests.server import running_server  # noqa: E402
from wingman.demo import DemoResult, run_demo  # noqa: E402
from wingman.settings import Settings  # noqa: E402


@dataclass(frozen=True)
class Cue:
    utterance: int  # 1-based index in sample_call.json (notes/CONTRACTS.md)
    kind: str  # the tip it deserves
    sentence: str  # the first sentence of the utterance that holds the cue


CUES = (
    Cue(4, "competitor.aircall", "We're also talking to Aircall."),
    Cue(6, "objection.price", "Honestly, your price seems high."),
    Cue(8, "qa.integrations", "Does Relay integrate with Salesforce?"),
    Cue(10, "qa.implementation", "How long does implementation usually take?"),
    Cue(12, "objection.authority", "I would also need to check with my VP before we sign anything."),
    Cue(13, "qa.security-and-compliance", "Is your platform SOC 2 compliant?"),
    Cue(15, "signal.buying", "This sounds promising."),
)


@dataclass(frozen=True)
class Sentence:
    utterance: int
    number: int  # 1-based within its utterance
    of: int  # sentences in its utterance
    text: str
    end: float  # seconds of call audio


@dataclass(frozen=True)
class Timing:
    cue: Cue
    sentence: Sentence  # the one holding the cue
    delay: float | None  # seconds from its end to the cue's tip; None: no tip
    answered: Sentence | None  # where the block of the cue's tip ended
    old: float | None  # seconds from the utterance's end to the old match (any kind)
    old_kind: str
    old_answered: Sentence | None

    @property
    def early(self) -> bool:
        return self.delay is not None and self.delay < 0


def sentences() -> list[Sentence]:
    out = []
    for u in demo_script():
        parts = u["sentences"]
        for k, s in enumerate(parts, start=1):
            out.append(Sentence(int(u["index"]), k, len(parts), str(s["text"]), float(s["end"])))
    return out


def answered_sentence(event: dict[str, Any], script: list[Sentence]) -> Sentence | None:
    """The sentence whose end is nearest to where the insight's block ended, or, without an
    `audio_end`, the one sharing the most words with its context."""
    if event.get("audio_end") is not None:
        end = float(event["audio_end"])
        return min(script, key=lambda s: abs(s.end - end))
    snippet = word_set(event.get("context_snippet") or "")
    best = max(script, key=lambda s: len(snippet & word_set(s.text)))
    return best if snippet & word_set(best.text) else None


def utterance_end_match(event: dict[str, Any], utterances: list[dict[str, Any]]) -> int | None:
    """The old bench's match: the cue utterance sharing most of its words with the context."""
    snippet = word_set(event.get("context_snippet") or "")
    if not snippet:
        return None
    triggers = [c.utterance for c in CUES]

    def share(n: int) -> float:
        words = word_set(utterances[n - 1]["text"])
        return len(snippet & words) / max(1, len(words))

    best = max(triggers, key=share)
    return best if len(snippet & word_set(utterances[best - 1]["text"])) >= 2 else None


def timings(result: DemoResult) -> list[Timing]:
    utterances = demo_script()
    script = sentences()
    insights = sorted(result.of("insight"), key=lambda e: e.at)
    out = []
    for cue in CUES:
        sentence = next(s for s in script if s.utterance == cue.utterance and s.text == cue.sentence)
        delay: float | None = None
        answered = None
        for e in insights:
            where = answered_sentence(e.data, script)
            if e.data.get("kind") == cue.kind and where is not None and where.utterance == cue.utterance:
                delay, answered = e.at - result.wall_time_of(sentence.end), where
                break
        old: float | None = None
        old_kind, old_answered = "", None
        for e in insights:
            if utterance_end_match(e.data, utterances) == cue.utterance:
                latency = e.at - result.wall_time_of(float(utterances[cue.utterance - 1]["end"]))
                if old is None or latency < old:
                    old, old_kind = latency, str(e.data.get("kind"))
                    old_answered = answered_sentence(e.data, script)
        out.append(Timing(cue, sentence, delay, answered, old, old_kind, old_answered))
    return out


def extras(result: DemoResult, found: list[Timing]) -> list[str]:
    """The insights that are no cue's tip: kind and the sentence each answered."""
    script = sentences()
    tips = {(t.cue.kind, t.cue.utterance) for t in found if t.delay is not None}
    out = []
    for e in result.of("insight"):
        where = answered_sentence(e.data, script)
        if where is None or (e.data.get("kind"), where.utterance) not in tips:
            at = f"utterance {where.utterance} sentence {where.number}/{where.of}" if where else "no sentence"
            out.append(f"{e.data.get('kind')} on {at}: {e.data.get('context_snippet')!r}")
    return out


def why_old(t: Timing) -> str:
    """Why the old figure came out as it did, when it is negative."""
    if t.old is None or t.old >= 0:
        return ""
    a = t.old_answered
    where = f"sentence {a.number}/{a.of}" if a else "no sentence"
    if t.old_kind != t.cue.kind:
        return f": that was {t.old_kind} on {where}, not this cue's tip"
    if a is not None and a.utterance == t.cue.utterance and a.number >= t.sentence.number:
        return f": early by design, the tip answers {where}"
    return f": the tip answers {where}, before the sentence holding its cue"


def describe(t: Timing) -> str:
    s = t.sentence
    head = f"utterance {t.cue.utterance:2d} {t.cue.kind:27s} sentence {s.number}/{s.of} ends {s.end:5.2f} s: "
    if t.delay is None:
        new = "no tip"
    elif t.early:
        a = t.answered
        assert a is not None
        new = (
            f"EARLY by {-t.delay:.2f} s: the tip answers sentence {a.number} ({a.text!r}), which the "
            "label says does not hold the cue: the tip fired on other words, unless the label is wrong"
        )
    else:
        new = f"{t.delay:.2f} s"
        if t.answered is not None and t.answered != s:
            new += f" (on sentence {t.answered.number}/{t.answered.of})"
    old = "none" if t.old is None else f"{t.old:+.2f} s{why_old(t)}"
    return f"{head}{new:8s} (old, from the utterance end: {old})  {s.text}"


def summary_line(found: list[Timing], audio: str, extra: int) -> str:
    timed = [t.delay for t in found if t.delay is not None and t.delay >= 0]
    early = sum(t.early for t in found)
    old = [t.old for t in found if t.old is not None]
    return (
        f"audio_to_insight audio={audio} from_sentence_end p50_s={percentile(timed, 0.5):.2f} "
        f"p95_s={percentile(timed, 0.95):.2f} tips={len(timed)}/{len(CUES)} early={early} extra={extra} | "
        f"old from_utterance_end p50_s={percentile(old, 0.5):.2f} p95_s={percentile(old, 0.95):.2f} "
        f"matched={len(old)}/{len(CUES)} negative={sum(v < 0 for v in old)}"
    )


def one_channel(path: Path, *, phone: bool) -> Path:
    """The sample call on one channel (tests.audio_sets.demo_one_channel), written to `path`."""
    call = demo_one_channel(phone=phone)
    written: Path = conversation.write(conversation.Conversation(call.audio, call.rate, call.turns), path)
    return written


def dump(path: Path, url: str, result: DemoResult) -> None:
    """What the call said and decided, to find why a cue's tip is missing: each final with its
    speaker, each insight, and each agent run (its input, rule and output) from the REST API."""
    with httpx.Client(base_url=url, timeout=30) as http:
        r = http.get(f"/api/calls/{result.call_id}/agent-runs")
        r.raise_for_status()
        runs = r.json()
        r = http.get(f"/api/calls/{result.call_id}")
        r.raise_for_status()
        saved = r.json()["transcript"]
    finals = [{k: f.get(k) for k in ("speaker", "start", "end", "text")} for f in result.finals]
    insights = [{"at": round(e.at - result.stream_started_at, 2), **e.data} for e in result.of("insight")]
    path.write_text(
        json.dumps(
            {"finals": finals, "saved": saved, "insights": insights, "agent_runs": runs},
            indent=1,
            default=str,
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--audio",
        choices=("stereo", "mono", "phone"),
        default="stereo",
        help="the shipped two channels, both on one, or one in the telephone band",
    )
    ap.add_argument(
        "--dump",
        type=Path,
        help="write the finals (text, speaker, times), the insights and every agent run as JSON here",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        audio = DEMO_WAV
        if args.audio != "stereo":
            audio = one_channel(Path(tmp) / f"{args.audio}.wav", phone=args.audio == "phone")
        with running_server(Settings(data_dir=Path(tmp), auth="local")) as url:
            result = asyncio.run(run_demo(url=url, audio=audio, speed=1.0, title="bench", sample_data=True))
            if args.dump is not None:
                dump(args.dump, url, result)
    found = timings(result)
    for t in found:
        print(describe(t))
    other = extras(result, found)
    for line in other:
        print(f"extra tip: {line}")
    print(summary_line(found, args.audio, len(other)))


if __name__ == "__main__":
    main()
