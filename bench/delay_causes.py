"""Why a sentence's final comes late: each slow sentence end of a replay run, by cause.

Runs sets through bench/replay.py's deterministic replay (same clock and cache) and, for every
sentence end of the truth whose final arrives more than `--slow` seconds after it, looks at the
interim and pause decodes that arrived between that sentence end and its final, heard past it,
while it was still uncommitted. The first cause that fits:

  cap           the final came from a cap rule
  no_decode     no such decode (cadence: the final was the next decode, or the span's end)
  pause_held    a pause decode ended the sentence there, but the pause rule held it (too
                short, under pause_min_s / pause_min_words, or its last word maybe cut off)
  words_flip    two or more decodes put . ? ! near it with words after, but no two of them
                agreed word for word on the text before it
  punct_flip    ... two of them agreed on the words but not on the punctuation
  one_decode    only one decode put the mark near it with words after (the others: a comma,
                no mark, no new words): LocalAgreement never had a second to agree with
  stops_at_end  decodes ended their text at this sentence and left out the speech after it
                (the other voice): waiting for the stop gap
  no_punct      decodes heard past it but none put a sentence mark near it (Whisper ran the
                sentences together, or put a comma): only a pause or a cap ends it
  no_words      decodes past it gave no new word, or stopped before it

`with_empty` counts the slow ones with a decode in between that gave no new word at all.
It also prints which rule made each late final. Run:
PYTHONPATH=src .venv/bin/python bench/delay_causes.py [--sets synthetic_phone,real_phone]
[--seeds 0,1,2,3,4,5] [--policy key=value] [--cache PATH] [-v] [--trace]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conversation import SEEDED, SETS  # noqa: E402
from replay import CACHE, CachedDecoder, Replay, parse_policy  # noqa: E402

from tests.audio_sets import DEMO_SCRIPT  # noqa: E402
from wingman.stt.base import SAMPLE_RATE  # noqa: E402
from wingman.stt.channel import ChannelDecoder, Out, _Job  # noqa: E402
from wingman.stt.commit import Agreement, agreed_prefix, ends_sentence  # noqa: E402
from wingman.stt.whisper import Transcript, WhisperDecoder, Word, glossary_prompt, model_dir  # noqa: E402

NEAR_S = 0.4  # a decode's sentence-ending word ends this near the truth's sentence end


@dataclasses.dataclass
class Decode:
    at: float
    kind: str
    end: float  # audio end (s)
    words: tuple[Word, ...]
    done: float


@dataclasses.dataclass
class Final:
    at: float
    start: float
    end: float
    rule: str
    text: str


class Recorder:
    """Decodes and finals of one replay run, with the rule that made each final."""

    def __init__(self) -> None:
        self.decodes: list[Decode] = []
        self.finals: list[Final] = []
        self.rule = "span_end"
        self.rep: Replay | None = None

    def install(self) -> None:
        rec = self
        apply, update = ChannelDecoder._apply, Agreement.update

        def _apply(ch: ChannelDecoder, job: _Job, tr: Transcript) -> None:
            assert rec.rep is not None
            words = ch._new_words(job, tr)
            rec.decodes.append(
                Decode(rec.rep.now, job.kind, job.end / SAMPLE_RATE, words, ch.done_at / SAMPLE_RATE)
            )
            rec.rule = "span_end"
            apply(ch, job, tr)
            rec.rule = "span_end"

        def _update(ag: Agreement, *a: Any, **kw: Any) -> Any:
            commit = update(ag, *a, **kw)
            if commit is not None:
                rec.rule = commit.rule
            return commit

        ChannelDecoder._apply = _apply  # type: ignore[method-assign]
        Agreement.update = _update  # type: ignore[method-assign]

    def emit(self, out: Out) -> None:
        assert self.rep is not None
        if out.is_final and out.text:
            self.finals.append(Final(self.rep.now, out.start, out.end, self.rule, out.text))


def sentence_word(d: Decode, end: float) -> int | None:
    """Index of the decode's word that ends a sentence near `end`, with a word after it."""
    best = None
    for i, w in enumerate(d.words[:-1]):
        if (
            ends_sentence(w)
            and abs(w.end - end) <= NEAR_S
            and (best is None or abs(w.end - end) < abs(d.words[best].end - end))
        ):
            best = i
    return best


def state(d: Decode, e: float) -> str:
    """What one decode (past the sentence end `e`, which is not committed yet) made of it."""
    if not d.words:
        return "empty"
    i = sentence_word(d, e)
    if i is not None:
        return "marked"
    last = d.words[-1]
    if ends_sentence(last) and abs(last.end - e) <= NEAR_S:
        return "ends"
    if last.end < e - NEAR_S:
        return "behind"
    return "unmarked"


def classify(decodes: list[Decode], e: float, final: Final) -> str:
    """The first thing that held the sentence end `e` until `final` (see the module doc)."""
    if final.rule in ("soft_cap", "hard_cap", "last_resort"):
        return "cap"
    seen = [
        d for d in decodes if e < d.at < final.at and d.kind != "final" and d.done < e and d.end > e + 0.2
    ]
    if not seen:
        return "no_decode"
    states = [(d, state(d, e)) for d in seen]
    if any(d.kind == "pause" and s == "ends" for d, s in states):
        return "pause_held"
    marked = [(d, sentence_word(d, e)) for d, s in states if s == "marked"]
    if len(marked) >= 2:
        for (a, ia), (b, ib) in zip(marked, marked[1:], strict=False):
            assert ia is not None and ib is not None
            bare_a = [Word(w.text.rstrip(".?!,;:"), w.start, w.end, 1.0) for w in a.words]
            bare_b = [Word(w.text.rstrip(".?!,;:"), w.start, w.end, 1.0) for w in b.words]
            if agreed_prefix(bare_a, bare_b) > max(ia, ib):
                return "punct_flip"
        return "words_flip"
    if marked:
        return "one_decode"
    kinds = [s for _, s in states]
    if "ends" in kinds:
        return "stops_at_end"
    if "unmarked" in kinds:
        return "no_punct"
    return "no_words"  # decodes past it gave no new word, or stopped before it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="synthetic_phone,real_phone")
    parser.add_argument("--seeds", default="0,1,2,3,4,5")
    parser.add_argument("--policy", default="")
    parser.add_argument("--slow", type=float, default=1.5)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--trace", action="store_true", help="and the decodes between each slow end and its final"
    )
    args = parser.parse_args()
    decoder = CachedDecoder(
        WhisperDecoder(model_dir("tiny.en", data_dir=Path("data")), cpu_threads=1), args.cache
    )
    glossary = glossary_prompt(list(json.loads(DEMO_SCRIPT.read_text())["vocabulary"]))
    policy = parse_policy(args.policy)
    rec = Recorder()
    rec.install()
    total: collections.Counter[str] = collections.Counter()
    rules: collections.Counter[str] = collections.Counter()
    for name in filter(None, args.sets.split(",")):
        causes: collections.Counter[str] = collections.Counter()
        n = slow = 0
        for seed in [int(s) for s in args.seeds.split(",")] if name in SEEDED else [0]:
            audio = SETS[name](seed)
            rep = Replay(decoder, policy, glossary, 0.12, 0.03, 0.7)
            rec.rep, rec.decodes, rec.finals = rep, [], []
            emit = rep.emit
            rep.emit = lambda out, emit=emit: (emit(out), rec.emit(out))  # type: ignore[method-assign]
            rep.run(audio)
            finals = sorted(rec.finals, key=lambda f: f.at)
            for turn in audio.spoken:
                for e in turn.sentence_ends:
                    f = next((f for f in finals if f.start < e and f.end >= e - 0.3), None)
                    if f is None:
                        continue
                    n += 1
                    if f.at - e <= args.slow:
                        continue
                    slow += 1
                    cause = classify(rec.decodes, e, f)
                    causes[cause] += 1
                    between = [d for d in rec.decodes if e < d.at < f.at and d.kind != "final" and d.done < e]
                    causes["with_empty"] += any(not d.words for d in between)
                    rules[f.rule] += 1
                    if args.verbose:
                        print(
                            f"  {name}_s{seed} end={e:6.2f} delay={f.at - e:4.2f} {cause:14} "
                            f"rule={f.rule:10} {f.text[:60]}"
                        )
                    if args.trace:
                        for d in rec.decodes:
                            if e < d.at <= f.at and d.done < e:
                                near = " ".join(
                                    f"{w.text}@{w.end:.2f}" for w in d.words if e - 1.2 < w.end < e + 1.5
                                )
                                print(
                                    f"      {d.at:6.2f} {d.kind:7} end={d.end:6.2f} done={d.done:6.2f} {near}"
                                )
            decoder.save()
        total += causes
        print(f"{name:16} sentences={n} slow={slow} " + " ".join(f"{k}={v}" for k, v in causes.most_common()))
    print("all " + " ".join(f"{k}={v}" for k, v in total.most_common()))
    print("rule of the late final: " + " ".join(f"{k}={v}" for k, v in rules.most_common()))


if __name__ == "__main__":
    main()
