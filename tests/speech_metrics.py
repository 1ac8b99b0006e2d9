"""Streaming an `AudioSet` through a speech engine and scoring what came out against its truth.

Shared by the speech integration tests and bench/conversation.py, so a test's assertion and a
benchmark's figure mean the same thing:

- `stream_set`: push the set in 100 ms chunks at real-time pace (or as fast as the engine
  settles), record every result with its arrival time.
- `wer`: word error rate of the finals against the spoken turns (per channel on stereo).
- `final_delays`: for every sentence end in the truth, the seconds from when it was spoken to
  the arrival of the final that holds it.
- `duplicated_phrases`: 4-word phrases the finals hold more often than the truth does (a final
  repeated whole shows up here).
- `speaker_accuracy`: share of final words whose `speaker` matches the truth at their time.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jiwer
import numpy as np

from tests.audio_sets import AudioSet, normalize
from wingman.audio.pool import AudioWorkerPool
from wingman.speakers.diarizer import Embed, OnlineDiarizer
from wingman.speakers.stream import DiarizedStream
from wingman.stt.base import SpeechToText, SttResult, SttStream

CHUNK_S = 0.1


@dataclass
class StreamRun:
    """What a stream gave for one set: (arrival monotonic time, result), and when audio began."""

    audio: AudioSet
    results: list[tuple[float, SttResult]] = field(default_factory=list)
    t0: float = 0.0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    realtime: bool = True

    @property
    def finals(self) -> list[SttResult]:
        return [r for _, r in self.results if r.is_final and r.text.strip()]


async def stream_set(
    engine: SpeechToText,
    audio: AudioSet,
    *,
    realtime: bool = True,
    vocabulary: Sequence[str] = (),
    wrap: Callable[[SttStream], SttStream] | None = None,
) -> StreamRun:
    """Stream `audio` through a new stream of `engine`; at real-time pace each 100 ms chunk is
    pushed when a microphone would have captured its last sample, else each waits for the
    engine to settle the previous one (`settle()`, when the stream has it). `wrap`: what the
    pipeline puts around the engine's stream (speaker labels on one channel)."""
    inner = engine.stream(sample_rate=audio.rate, channels=audio.channels, vocabulary=vocabulary)
    stream = inner if wrap is None else wrap(inner)
    run = StreamRun(audio, realtime=realtime)

    async def consume() -> None:
        async for r in stream:
            run.results.append((time.monotonic(), r))

    chunk = int(audio.rate * CHUNK_S)
    settle = getattr(inner, "settle", None)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        run.t0 = time.monotonic()
        cpu0 = time.process_time()
        for k, i in enumerate(range(0, audio.audio.shape[0], chunk)):
            if realtime:
                await asyncio.sleep(max(0.0, run.t0 + (k + 1) * CHUNK_S - time.monotonic()))
            stream.push_audio(audio.audio[i : i + chunk])
            if not realtime and settle is not None:
                await settle()
        stream.end_input()
    run.cpu_seconds = time.process_time() - cpu0
    run.wall_seconds = time.monotonic() - run.t0
    await stream.aclose()
    return run


def diarized(pool: AudioWorkerPool, embed: Embed) -> Callable[[SttStream], SttStream]:
    """A `wrap` for `stream_set`: speaker labels around a one-channel 16 kHz stream, as the
    pipeline puts them (no voiceprint: the first voice heard is the rep)."""

    def wrap(inner: SttStream) -> SttStream:
        return DiarizedStream(inner=inner, diarizer=OnlineDiarizer(embed=embed), pool=pool, max_wait=5.0)

    return wrap


def hypothesis(finals: Sequence[SttResult], channel: int | None = None) -> str:
    """The finals' text in time order (of one channel, if given)."""
    mine = [r for r in finals if channel is None or r.channel == channel]
    return " ".join(r.text for r in sorted(mine, key=lambda r: (r.start, r.end)))


def wer(audio: AudioSet, finals: Sequence[SttResult]) -> float:
    """Word error rate of the finals against the spoken turns (channel by channel on stereo)."""
    channels = range(audio.channels) if audio.channels > 1 else [None]
    refs = [normalize(audio.reference(c)) for c in channels]
    hyps = [normalize(hypothesis(finals, c)) for c in channels]
    keep = [i for i, r in enumerate(refs) if r]
    return float(jiwer.wer([refs[i] for i in keep], [hyps[i] for i in keep]))


def alone_wer(audio: AudioSet, texts: Sequence[str]) -> float:
    """WER of `texts`, one per spoken turn (each turn decoded alone)."""
    return float(jiwer.wer([normalize(t.text) for t in audio.spoken], [normalize(x) for x in texts]))


def final_delays(run: StreamRun, *, tolerance: float = 0.3) -> list[float]:
    """Per sentence end of the truth (backchannels aside): arrival of the first final of its
    channel that reaches that far (its end within `tolerance` of it, or past) - when it was
    spoken. Only meaningful at real-time pace. A sentence no final reaches is left out."""
    delays = []
    finals = sorted(
        ((at, r) for at, r in run.results if r.is_final and r.text.strip()), key=lambda x: x[0]
    )
    for turn in run.audio.spoken:
        for end in turn.sentence_ends:
            for at, r in finals:
                same = run.audio.channels == 1 or r.channel == turn.channel
                if same and r.start < end and r.end >= end - tolerance:
                    delays.append(at - (run.t0 + end))
                    break
    return delays


def ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def repeated_phrases(audio: AudioSet, finals: Sequence[SttResult], *, n: int = 4) -> list[str]:
    """Distinct n-word phrases of the truth that the finals hold more often than the truth."""
    channels = range(audio.channels) if audio.channels > 1 else [None]
    out = []
    for c in channels:
        ref = ngrams(normalize(audio.reference(c)).split(), n)
        hyp = ngrams(normalize(hypothesis(finals, c)).split(), n)
        out += [" ".join(g) for g, k in hyp.items() if g in ref and k > ref[g]]
    return out


def duplicated_phrases(audio: AudioSet, finals: Sequence[SttResult], *, n: int = 4) -> int:
    """How many `repeated_phrases` the finals hold."""
    return len(repeated_phrases(audio, finals, n=n))


def longest_final(finals: Sequence[SttResult]) -> float:
    return max((r.end - r.start for r in finals), default=0.0)


def _word_times(r: SttResult) -> list[tuple[str, float]]:
    """(word, mid time) for each word of a final: its own timings when it has them, else
    spread evenly over the final."""
    words = getattr(r, "words", ())
    if words:
        return [(w.text, (w.start + w.end) / 2) for w in words]
    parts = r.text.split()
    if not parts:
        return []
    step = (r.end - r.start) / len(parts)
    return [(p, r.start + (i + 0.5) * step) for i, p in enumerate(parts)]


def speaker_accuracy(audio: AudioSet, finals: Sequence[SttResult]) -> float:
    """Share of final words whose speaker is the truth's at the word's time (the turn that
    covers it, else the nearest; on stereo, the turns of the final's channel)."""
    right = total = 0
    for r in finals:
        turns = [t for t in audio.turns if audio.channels == 1 or t.channel == r.channel]
        if not turns:
            continue
        for _, mid in _word_times(r):
            def distance(t: object, mid: float = mid) -> float:
                assert hasattr(t, "start") and hasattr(t, "end")
                return 0.0 if t.start <= mid <= t.end else min(abs(mid - t.start), abs(mid - t.end))

            truth = min(turns, key=lambda t: (distance(t), t.backchannel))
            total += 1
            right += int(r.speaker == truth.speaker)
    return right / total if total else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")
