"""The local speech engine end to end: real Silero VAD, real Whisper tiny.en, real speech audio.

The demo call is streamed in 100 ms chunks as fast as the engine accepts it (each chunk waits
for `settle()`, i.e. for the engine to have segmented the audio so far and emitted its results),
not at real-time pace. Latency at real-time pace is measured by bench/stt_latency.py.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import jiwer
import numpy as np
import pytest

from tests.unit.audio_support import FIXTURES, demo_call
from wingman.audio.pcm import read_wav
from wingman.stt.base import SttResult
from wingman.stt.local import LocalWhisperStt
from wingman.stt.whisper import glossary_prompt

pytestmark = pytest.mark.slow

NUMBERS = {"2": "two", "30": "thirty", "40": "forty"}


def normalize(text: str) -> str:
    """Case and punctuation out; Whisper writes some numbers as digits, the script as words."""
    text = text.lower().replace("$30", "thirty dollars")
    text = re.sub(r"\bsoc2\b", "soc 2", text)
    return " ".join(NUMBERS.get(w, w) for w in re.sub(r"[^\w\s']", " ", text).split())


async def run_stream(
    stt: LocalWhisperStt, pcm: np.ndarray, rate: int, *, settle: bool, vocabulary: list[str] | None = None
) -> tuple[list[SttResult], int]:
    stream = stt.stream(sample_rate=rate, channels=pcm.shape[1], vocabulary=vocabulary or [])
    results: list[SttResult] = []

    async def consume() -> None:
        async for r in stream:
            results.append(r)

    chunk = rate // 10
    async with asyncio.TaskGroup() as tg:
        tg.create_task(consume())
        for i in range(0, pcm.shape[0], chunk):
            stream.push_audio(pcm[i : i + chunk])
            if settle:
                await stream.settle()
        stream.end_input()
    finalized = stream.finalized_samples
    await stream.aclose()
    return results, finalized


def overlapping(result: SttResult, utterances: list[dict[str, Any]]) -> dict[str, Any]:
    """The script utterance a result belongs to: same channel, largest time overlap."""
    mine = [u for u in utterances if u["channel"] == result.channel]
    return max(mine, key=lambda u: min(u["end"], result.end) - max(u["start"], result.start))


async def test_demo_call_transcribed_with_speakers_interims_and_times(engine: LocalWhisperStt) -> None:
    pcm, script = demo_call()
    utterances = script["utterances"]
    results, finalized = await run_stream(engine, pcm, 16000, settle=True, vocabulary=script["vocabulary"])
    finals = [r for r in results if r.is_final]
    assert finals, results

    # words: finals of each script utterance, against its text
    by_utt: dict[int, list[SttResult]] = {u["index"]: [] for u in utterances}
    for r in finals:
        by_utt[overlapping(r, utterances)["index"]].append(r)
    refs = [normalize(u["text"]) for u in utterances]
    hyps = [normalize(" ".join(r.text for r in by_utt[u["index"]])) for u in utterances]
    wer = jiwer.wer(refs, hyps)
    # streaming commits sentences while people talk: as accurate as the same model decoding
    # each utterance alone (the engine's accuracy ceiling; about 0.16 on this call)
    prompt = glossary_prompt(script["vocabulary"])
    cuts = [
        pcm[int((u["start"] - 0.15) * 16000) : int((u["end"] + 0.15) * 16000), u["channel"]]
        for u in utterances
    ]
    alone = await engine.pool.run(lambda: [engine.decoder.decode(c, prompt=prompt).text for c in cuts])
    alone_wer = jiwer.wer(refs, [normalize(t) for t in alone])
    assert wer <= alone_wer + 0.02 and wer < 0.2, list(zip(refs, hyps, strict=True))

    # every final carries its words' timings, in call seconds, in order, within the final
    for r in finals:
        assert r.words and " ".join(w.text for w in r.words) == r.text, r
        assert all(r.start - 0.05 <= w.start <= w.end <= r.end + 0.05 for w in r.words), r
        assert [w.start for w in r.words] == sorted(w.start for w in r.words)
        assert all(w.probability is not None and 0 <= w.probability <= 1 for w in r.words)

    # every utterance heard, by the right speaker, at the right time
    for u in utterances:
        got = by_utt[u["index"]]
        assert got, f"utterance {u['index']} missing"
        assert {r.speaker for r in got} == {u["speaker"]}
        assert got[0].start == pytest.approx(u["start"], abs=0.4)
        assert got[-1].end == pytest.approx(u["end"], abs=0.4)
        assert all(r.audio_end_at is not None for r in got)

    # interims come before their final and share its id; one final per utterance id
    final_ids = [r.utterance_id for r in finals]
    assert len(set(final_ids)) == len(final_ids)
    interims = [r for r in results if not r.is_final]
    assert len({r.utterance_id for r in interims}) >= len(utterances) // 2
    position = {id(r): i for i, r in enumerate(results)}
    final_at = {r.utterance_id: position[id(r)] for r in finals}
    for r in interims:
        assert r.utterance_id in final_at, r
        assert position[id(r)] < final_at[r.utterance_id]
        assert r.speaker == overlapping(r, utterances)["speaker"]
        assert r.text

    # results of a channel come out in time order; the whole call is finalized at the end
    for channel in (0, 1):
        starts = [r.start for r in finals if r.channel == channel]
        assert starts == sorted(starts)
    assert finalized >= pcm.shape[0] - 16000


async def test_44k1_mono_pushed_all_at_once(engine: LocalWhisperStt) -> None:
    """A browser at 44.1 kHz; the sender never waits: every final still comes, interims may not."""
    pcm, rate = read_wav(FIXTURES / "two_sentences_44k1.wav")
    reference = (FIXTURES / "two_sentences.txt").read_text()
    results, _ = await run_stream(engine, pcm, rate, settle=False)
    finals = [r for r in results if r.is_final]
    assert 1 <= len(finals) <= 2
    assert all(r.speaker is None and r.channel == 0 for r in results)
    assert jiwer.wer(normalize(reference), normalize(" ".join(r.text for r in finals))) < 0.2
    assert finals[0].start == pytest.approx(0.5, abs=0.3)  # seconds of call audio, not samples
    seen_final: set[str] = set()
    for r in results:
        assert r.utterance_id not in seen_final  # nothing after its final
        if r.is_final:
            seen_final.add(r.utterance_id)


async def test_two_calls_share_one_decoder(engine: LocalWhisperStt) -> None:
    pcm, rate = read_wav(FIXTURES / "two_sentences_16k.wav")
    reference = normalize((FIXTURES / "two_sentences.txt").read_text())
    (a, _), (b, _) = await asyncio.gather(
        run_stream(engine, pcm, rate, settle=False), run_stream(engine, pcm, rate, settle=False)
    )
    for results in (a, b):
        text = normalize(" ".join(r.text for r in results if r.is_final))
        assert jiwer.wer(reference, text) < 0.2
    assert {r.utterance_id for r in a}.isdisjoint({r.utterance_id for r in b})
