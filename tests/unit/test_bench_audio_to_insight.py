"""bench/audio_to_insight.py times each tip from the end of the sentence that holds its cue:
the demo call's sentence timings must be where its audio says, and the bench must time, flag
and explain tips as its docstring says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.audio_to_insight import CUES, extras, one_channel, summary_line, timings, why_old
from wingman.audio.pcm import read_wav
from wingman.demo import DemoResult, Received
from wingman.settings import DATA_DIR

DEMO = DATA_DIR / "demo"
START = 100.0  # the monotonic time the made-up stream started


def test_the_demo_calls_sentence_timings_are_where_its_audio_has_speech() -> None:
    pcm, rate = read_wav(DEMO / "sample_call.wav")
    script = json.loads((DEMO / "sample_call.json").read_text())
    ms = rate // 1000  # the timings are rounded to the millisecond
    for u in script["utterances"]:
        parts = u["sentences"]
        assert " ".join(s["text"] for s in parts) == u["text"]
        assert (parts[0]["start"], parts[-1]["end"]) == (u["start"], u["end"])
        channel = pcm[:, u["channel"]]
        for s in parts:
            start, end = round(s["start"] * rate), round(s["end"] * rate)
            # speech right inside both edges, only the line's noise for 0.2 s outside them
            assert np.abs(channel[start + ms : start + 30 * ms]).max() > 0.005
            assert np.abs(channel[end - 30 * ms : end - ms]).max() > 0.005
            assert np.abs(channel[start - 200 * ms : start - ms]).max() < 0.002
            assert np.abs(channel[end + ms : end + 200 * ms]).max() < 0.002
    cue_sentences = {s["text"] for u in script["utterances"] for s in u["sentences"]}
    assert {c.sentence for c in CUES} <= cue_sentences


def insight(kind: str, at: float, audio_end: float, snippet: str) -> Received:
    data = {"kind": kind, "audio_end": audio_end, "context_snippet": snippet}
    return Received("insight", data, START + at)


def test_a_tip_is_timed_from_the_end_of_the_sentence_that_holds_its_cue() -> None:
    # shapes from a real run: a pain tip on utterance 4's first sentence, the Aircall brief on its
    # second (ends 20.912 s), the price tip on utterance 6's first (ends 27.576 s, the utterance 30.076 s)
    result = DemoResult(stream_started_at=START)
    result.events = [
        insight("objection.need", 19.24, 19.012, "Our current setup, lap, skulls and the reporting is weak."),
        insight("competitor.aircall", 21.38, 20.996, "We're also talking to Ericall."),
        insight("objection.price", 28.63, 27.739, "Honestly, your price seems high."),
    ]
    found = {t.cue.utterance: t for t in timings(result)}

    aircall, price = found[4], found[6]
    assert aircall.delay is not None and abs(aircall.delay - (21.38 - 20.912)) < 1e-6
    assert aircall.old is not None and abs(aircall.old - (19.24 - 20.912)) < 1e-6
    assert aircall.old_kind == "objection.need"  # the old bench took another tip for the cue's
    assert price.delay is not None and abs(price.delay - (28.63 - 27.576)) < 1e-6
    assert price.old is not None and price.old < 0 and price.old_kind == "objection.price"
    assert price.answered is not None and (price.answered.number, price.answered.of) == (1, 2)
    assert why_old(price) == ": early by design, the tip answers sentence 1/2"
    assert why_old(aircall) == ": that was objection.need on sentence 1/2, not this cue's tip"
    assert [t.delay for u, t in found.items() if u not in (4, 6)] == [None] * 5

    assert extras(result, list(found.values())) == [
        "objection.need on utterance 4 sentence 1/2: "
        "'Our current setup, lap, skulls and the reporting is weak.'"
    ]
    line = summary_line(list(found.values()), "stereo", 1)
    assert "from_sentence_end p50_s=0.76 " in line and "tips=2/7 early=0 extra=1" in line
    assert "negative=2" in line


def test_a_tip_before_its_sentence_ended_is_early_and_not_timed() -> None:
    # the Aircall brief on utterance 4's first sentence: it reaches the client before the
    # sentence holding "Aircall" has ended
    result = DemoResult(stream_started_at=START)
    result.events = [insight("competitor.aircall", 19.3, 18.95, "Our current setup drops calls.")]
    found = timings(result)
    aircall = next(t for t in found if t.cue.utterance == 4)
    assert aircall.early and aircall.answered is not None and aircall.answered.number == 1
    assert why_old(aircall) == ": the tip answers sentence 1/2, before the sentence holding its cue"
    line = summary_line(found, "stereo", 0)
    assert "p50_s=nan" in line and "tips=0/7 early=1" in line


def test_the_one_channel_variants_hold_the_whole_call(tmp_path: Path) -> None:
    stereo, rate = read_wav(DEMO / "sample_call.wav")
    mono, mono_rate = read_wav(one_channel(tmp_path / "mono.wav", phone=False))
    assert mono.shape == (stereo.shape[0], 1) and mono_rate == rate
    assert np.abs(mono[:, 0] - stereo.sum(axis=1)).max() < 1e-3  # both voices, in place
    phone, phone_rate = read_wav(one_channel(tmp_path / "phone.wav", phone=True))
    assert phone.shape[1] == 1 and phone_rate == 8000
    assert abs(phone.shape[0] / phone_rate - stereo.shape[0] / rate) < 0.01
    spectrum = np.abs(np.fft.rfft(phone[:, 0])) ** 2
    freqs = np.fft.rfftfreq(phone.shape[0], 1 / phone_rate)
    assert spectrum[(freqs > 300) & (freqs < 3400)].sum() > 100 * spectrum[freqs < 150].sum()
