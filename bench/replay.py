"""The local engine's commit policy on a deterministic replay: audio time, no wall clock.

bench/conversation.py streams in real time, so its delays move with the machine's load (other
benchmarks, other helpers). This replays the same sets through the same `ChannelDecoder`
(VAD, windows, commit policy) on a simulated clock: 100 ms chunks at audio time, each decode
done at once by the real model but its result delivered `--latency` + `--per-s` x (seconds
decoded) later, one decode at a time (one call: it never waits for another call's decode).
Decodes are cached on disk by (audio, prompt), so comparing two policies costs only the
decodes that differ. Figures are audio seconds, the same ones on every run:

  WER / alone   finals against the turns / each turn decoded alone (bench/conversation.py)
  delay         sentence end -> arrival of the final that holds it (p50, p95)
  longest, dup  the longest final (s), 4-word phrases repeated (tests/speech_metrics.py)
  empty         interim and pause decodes that gave no new word, of all of them
  speakers      with `--speakers`: share of final words with the right speaker

`--speakers`: the pipeline's diarizer (speakers/) hears the same 16 kHz audio on the same clock,
chunk by chunk, and finals are labelled as DiarizedStream labels them when they arrive;
`--turns` also cuts at each turn change it reports (CommitPolicy.turn_cuts, off by default),
handed to the channel before the next chunk, as DiarizedStream hands it to the engine. The
embeddings are the real model's (deterministic on one machine).

Run: PYTHONPATH=src .venv/bin/python bench/replay.py [--sets synthetic_phone,real_phone,two_cities]
     [--seeds 0,1,2] [--policy key=value,...] [--log SET:SEED] [--speakers | --turns]
(`--policy soft_cap_s=5,hard_cap_s=6`: CommitPolicy fields; `--log`: every decode of one run,
with the words it gave and what was committed)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import heapq
import itertools
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.audio_sets import DEMO_SCRIPT, AudioSet, at16k  # noqa: E402
from tests.speech_metrics import (  # noqa: E402
    StreamRun,
    alone_wer,
    duplicated_phrases,
    final_delays,
    longest_final,
    percentile,
    speaker_accuracy,
    wer,
)
from wingman.audio.pool import AudioWorkerPool  # noqa: E402
from wingman.audio.vad import VadParams, VadSegmenter  # noqa: E402
from wingman.events import WordTiming  # noqa: E402
from wingman.speakers.diarizer import OnlineDiarizer  # noqa: E402
from wingman.speakers.embedder import SpeakerEmbedder  # noqa: E402
from wingman.speakers.stream import DiarizedStream  # noqa: E402
from wingman.stt.base import SAMPLE_RATE, SttResult, SttStream  # noqa: E402
from wingman.stt.channel import ChannelDecoder, Out, _Job  # noqa: E402
from wingman.stt.commit import CommitPolicy  # noqa: E402
from wingman.stt.local import MAX_SPAN_S  # noqa: E402
from wingman.stt.whisper import F32, Transcript, WhisperDecoder, glossary_prompt, model_dir  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conversation import SEEDED, SETS  # noqa: E402

CHUNK = SAMPLE_RATE // 10
CACHE = Path("data") / "replay_cache.pkl"


class CachedDecoder:
    """The model's decodes, on disk by (audio, prompt, words)."""

    def __init__(self, decoder: WhisperDecoder, path: Path) -> None:
        self.decoder = decoder
        self.path = path
        self.cache: dict[str, Transcript] = {}
        if path.is_file():
            self.cache = pickle.loads(path.read_bytes())
        self.misses = 0

    def decode(self, audio: F32, prompt: str | None, *, words: bool = True) -> Transcript:
        h = hashlib.sha1(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
        h.update(repr((prompt, words, str(self.decoder.path))).encode())
        key = h.hexdigest()
        if key not in self.cache:
            self.misses += 1
            self.cache[key] = self.decoder.decode(audio, prompt=prompt, words=words)
        return self.cache[key]

    def save(self) -> None:
        if self.misses:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(self.cache))
            tmp.replace(self.path)


class Unheard(SttStream):
    """The one-channel stream a `DiarizedStream` labels results for; never run (the replay
    hands the labeller each final itself)."""

    async def _run(self) -> None:
        raise AssertionError("not run")


@dataclasses.dataclass
class Replay:
    """One set through one channel on the simulated clock."""

    decoder: CachedDecoder
    policy: CommitPolicy
    glossary: str | None
    latency: float
    per_s: float
    interim_s: float
    log: bool = False
    labeller: DiarizedStream | None = None  # with its diarizer: speakers (and turn changes)
    cut_turns: bool = False
    now: float = 0.0
    results: list[tuple[float, SttResult]] = dataclasses.field(default_factory=list)
    labelled: list[SttResult] = dataclasses.field(default_factory=list)  # finals with speakers
    decodes: int = 0
    empty: int = 0
    turns: int = 0  # turn changes the diarizer reported

    def __post_init__(self) -> None:
        self._due: list[tuple[float, int, concurrent.futures.Future[Transcript | None], Transcript]] = []
        self._seq = itertools.count()

    def submit(
        self, audio: F32, prompt: str | None, final: bool
    ) -> concurrent.futures.Future[Transcript | None]:
        fut: concurrent.futures.Future[Transcript | None] = concurrent.futures.Future()
        tr = self.decoder.decode(audio, prompt)
        done = self.now + self.latency + self.per_s * audio.shape[0] / SAMPLE_RATE
        heapq.heappush(self._due, (done, next(self._seq), fut, tr))
        return fut

    def emit(self, out: Out) -> None:
        r = SttResult(out.text, out.is_final, 0, out.start, out.end, out.utterance_id, None, out.confidence)
        self.results.append((self.now, r))
        if self.labeller is not None and out.is_final and out.text:
            words = tuple(WordTiming(text=w.text, start=w.start, end=w.end) for w in out.words)
            self.labelled += self.labeller.label(dataclasses.replace(r, words=words))
        if self.log and out.is_final and out.text:
            print(f"      {self.now:7.2f} FINAL {out.start:6.2f}-{out.end:6.2f} {out.text}")

    def run_until(self, t: float) -> None:
        while self._due and self._due[0][0] <= t:
            done, _, fut, tr = heapq.heappop(self._due)
            self.now = done
            fut.set_running_or_notify_cancel()
            fut.set_result(tr)
        self.now = t

    def run(self, audio: AudioSet) -> StreamRun:
        x = at16k(audio).audio[:, 0].astype(np.float32)
        replay = self

        class Logged(ChannelDecoder):
            def _apply(self, job: _Job, tr: Transcript) -> None:
                words = self._new_words(job, tr)
                if job.kind != "final":
                    replay.decodes += 1
                    replay.empty += not words
                if replay.log:
                    print(
                        f"  {replay.now:7.2f} {job.kind:7} [{job.start / SAMPLE_RATE:6.2f}-"
                        f"{job.end / SAMPLE_RATE:6.2f}] done={self.done_at / SAMPLE_RATE:6.2f} "
                        f"ns={tr.no_speech_prob:.2f} lp={tr.avg_logprob:.2f} all='{tr.text}' "
                        f"new='{' '.join(w.text for w in words)}'"
                    )
                super()._apply(job, tr)

        channel = Logged(
            index=0,
            segmenter=VadSegmenter(params=VadParams(max_speech_s=MAX_SPAN_S)),
            submit=self.submit,
            emit=self.emit,
            fail=lambda exc: (_ for _ in ()).throw(exc),
            interim_every=lambda: int(self.interim_s * SAMPLE_RATE),
            glossary=self.glossary,
            policy=self.policy,
            clock=lambda: self.now,
        )
        if self.log:
            update = channel._agreement.update

            def logged_update(*a: Any, **kw: Any) -> Any:
                commit = update(*a, **kw)
                if commit is not None:
                    print(f"      rule={commit.rule}")
                return commit

            channel._agreement.update = logged_update  # type: ignore[method-assign]
        diarizer = None if self.labeller is None else self.labeller.diarizer
        changes: list[float] = []
        for i in range(0, x.shape[0], CHUNK):
            self.run_until(min(i + CHUNK, x.shape[0]) / SAMPLE_RATE)
            for at in changes if self.cut_turns else ():  # heard with the last chunk: taken before this
                if self.log:
                    print(f"      {self.now:7.2f} TURN at {at:6.2f}")
                channel.speaker_changed(int(at * SAMPLE_RATE))
            chunk = np.ascontiguousarray(x[i : i + CHUNK])
            channel.feed(chunk)
            if diarizer is not None:
                diarizer.push(chunk)
                changes = diarizer.take_changes()
                self.turns += len(changes)
        channel.finish()
        while not channel.idle:
            assert self._due, "the channel waits on no decode"
            self.run_until(self._due[0][0])
        return StreamRun(audio, self.results, t0=0.0)


def parse_policy(spec: str) -> CommitPolicy:
    fields = {f.name: f.type for f in dataclasses.fields(CommitPolicy)}
    kw: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        k, v = item.split("=")
        if k not in fields:
            raise SystemExit(f"no CommitPolicy field {k!r}")
        kind = fields[k]
        kw[k] = int(v) if kind in ("int", int) else bool(int(v)) if kind in ("bool", bool) else float(v)
    return CommitPolicy(**kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="synthetic_phone,real_phone,two_cities")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--policy", default="", help="CommitPolicy fields, e.g. soft_cap_s=5")
    parser.add_argument("--latency", type=float, default=0.12, help="seconds per decode")
    parser.add_argument("--per-s", type=float, default=0.03, help="... and per second decoded")
    parser.add_argument("--interim", type=float, default=0.7, help="seconds of speech between interims")
    parser.add_argument("--log", default="", help="SET:SEED whose decodes to print")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--speakers", action="store_true", help="run the diarizer: finals labelled")
    parser.add_argument(
        "--turns", action="store_true", help="... and the channel cuts at its turn changes (turn_cuts=1)"
    )
    args = parser.parse_args()
    args.speakers = args.speakers or args.turns

    decoder = CachedDecoder(
        WhisperDecoder(model_dir("tiny.en", data_dir=Path("data")), cpu_threads=1), args.cache
    )
    vocabulary = list(json.loads(DEMO_SCRIPT.read_text())["vocabulary"])
    glossary = glossary_prompt(vocabulary)
    policy = parse_policy(args.policy)
    if args.turns:
        policy = dataclasses.replace(policy, turn_cuts=True)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    print(f"policy={policy} latency={args.latency}+{args.per_s}/s interim={args.interim}")
    embedder = SpeakerEmbedder() if args.speakers else None
    pool = AudioWorkerPool(max_workers=1)  # the labeller's, never used: the replay labels inline
    print(
        f"{'set':18} {'WER':>6} {'alone':>6} {'p50':>5} {'p95':>5} {'longest':>7} {'dup':>3} {'empty':>7}"
        + (f" {'speakers':>8} {'turns':>5}" if args.speakers else "")
    )
    all_delays: list[float] = []
    by_set: dict[str, list[float]] = {}
    wers: dict[str, list[tuple[float, float]]] = {}
    gaps: list[float] = []
    for name in filter(None, args.sets.split(",")):
        for seed in seeds if name in SEEDED else [0]:
            audio = SETS[name](seed)
            label = f"{name}_s{seed}" if name in SEEDED else name
            log = args.log in (label, f"{name}:{seed}")
            labeller = None
            if embedder is not None:
                inner = Unheard(sample_rate=SAMPLE_RATE, channels=1, language="en")
                diarizer = OnlineDiarizer(embed=embedder.embed)
                labeller = DiarizedStream(inner=inner, diarizer=diarizer, pool=pool)
            rep = Replay(decoder, policy, glossary, args.latency, args.per_s, args.interim, log=log)
            rep.labeller, rep.cut_turns = labeller, args.turns
            run = rep.run(audio)
            finals = run.finals
            alone = alone_wer(
                audio, [decoder.decode(audio.turn_audio(t), glossary, words=False).text for t in audio.spoken]
            )
            streamed = wer(audio, finals)
            delays = final_delays(run)
            voices = len({t.speaker for t in audio.spoken})
            accuracy = f"{speaker_accuracy(audio, rep.labelled):.3f}" if voices > 1 else "-"
            if log:
                for turn in audio.spoken:
                    print(f"    turn {turn.start:6.2f}-{turn.end:6.2f} ends={turn.sentence_ends} {turn.text}")
                print(f"    delays {[round(d, 2) for d in delays]}")
            if name != "two_cities":
                all_delays += delays
            by_set.setdefault(name, []).extend(delays)
            wers.setdefault(name, []).append((streamed, alone))
            gaps.append(streamed - alone)
            print(
                f"{label:18} {streamed:6.3f} {alone:6.3f} {percentile(delays, 50):5.2f} "
                f"{percentile(delays, 95):5.2f} {longest_final(finals):7.1f} "
                f"{duplicated_phrases(audio, finals):3d} {rep.empty:3d}/{rep.decodes:<3d}"
                + (f" {accuracy:>8} {rep.turns:5d}" if labeller else "")
            )
            decoder.save()
    pool.shutdown()
    for name, delays in by_set.items():
        mean = [sum(x) / len(x) for x in zip(*wers[name], strict=True)]
        print(
            f"{name:18} all seeds: delay p50 {percentile(delays, 50):.2f} p95 {percentile(delays, 95):.2f}"
            f" WER {mean[0]:.3f} alone {mean[1]:.3f}"
        )
    print(
        f"replay delay_p50_s={percentile(all_delays, 50):.2f} p95_s={percentile(all_delays, 95):.2f} "
        f"wer_gap_max={max(gaps, default=float('nan')):.3f}"
    )


if __name__ == "__main__":
    main()
