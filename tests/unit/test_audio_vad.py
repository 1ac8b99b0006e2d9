"""Silero VAD v6 (onnxruntime) and the streaming segmenter, on the real demo call."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from tests.unit.audio_support import FIXTURES, demo_call, sine
from wingman.audio.vad import (
    CONTEXT,
    WINDOW,
    SileroState,
    VadParams,
    VadSegmenter,
    shared_vad,
    silero_model_path,
    speech_segments,
)

RATE = 16000


def test_the_model_file_has_the_inputs_we_feed() -> None:
    session = ort.InferenceSession(str(silero_model_path()), providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert inputs["input"][1] == CONTEXT + WINDOW
    assert inputs["h"] == [1, 1, 128] and inputs["c"] == [1, 1, 128]


def test_batched_windows_equal_one_by_one_with_state_carried() -> None:
    from wingman.audio.pcm import read_wav

    pcm, _ = read_wav(FIXTURES / "two_sentences_16k.wav")
    n = pcm.shape[0] // WINDOW
    windows = np.ascontiguousarray(pcm[: n * WINDOW, 0].reshape(n, WINDOW))
    vad = shared_vad()
    batched = vad.probs(SileroState(), windows)
    state = SileroState()
    single = np.concatenate([vad.probs(state, windows[i : i + 1]) for i in range(n)])
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert batched.max() > 0.9 and batched[:5].max() < 0.3  # speech, after 0.5 s of quiet


def test_finds_every_utterance_of_the_demo_call() -> None:
    pcm, script = demo_call()
    for channel in (0, 1):
        expected = [u for u in script["utterances"] if u["channel"] == channel]
        found = speech_segments(np.ascontiguousarray(pcm[:, channel]))
        assert len(found) == len(expected), (channel, found)
        for (start, end), u in zip(found, expected, strict=True):
            assert start / RATE == pytest.approx(u["start"], abs=0.3), u
            assert end / RATE == pytest.approx(u["end"], abs=0.3), u


def test_same_speaker_pause_splits_utterances_12_and_13() -> None:
    pcm, script = demo_call()
    u12, u13 = script["utterances"][11], script["utterances"][12]
    assert u12["speaker"] == u13["speaker"] == "customer"
    found = speech_segments(np.ascontiguousarray(pcm[:, 1]))
    ends = [e / RATE for _, e in found]
    starts = [s / RATE for s, _ in found]
    assert any(abs(e - u12["end"]) < 0.3 for e in ends)
    assert any(abs(s - u13["start"]) < 0.3 for s in starts)


def test_chunk_size_does_not_change_segments() -> None:
    pcm, _ = demo_call()
    audio = np.ascontiguousarray(pcm[: 30 * RATE, 0])
    assert speech_segments(audio, chunk=160) == speech_segments(audio, chunk=RATE)


def test_silence_noise_and_a_tone_are_not_speech() -> None:
    rng = np.random.default_rng(1)
    quiet = (rng.standard_normal(5 * RATE) * 3e-4).astype(np.float32)
    assert speech_segments(quiet) == []
    assert speech_segments(np.zeros(3 * RATE, dtype=np.float32)) == []
    assert speech_segments(np.ascontiguousarray(sine(1000.0, RATE, 3.0)[:, 0])) == []


def test_end_of_speech_silence_sets_when_the_end_is_reported() -> None:
    """The end comes min_silence_ms after the speech stops, and is placed speech_pad_ms after it."""
    pcm, script = demo_call()
    u = script["utterances"][0]
    audio = np.ascontiguousarray(pcm[: int((u["end"] + 2.0) * RATE), u["channel"]])
    for silence_ms in (300, 500):
        seg = VadSegmenter(params=VadParams(min_silence_ms=silence_ms, speech_pad_ms=100))
        reported_at = None
        for i in range(0, audio.shape[0], 160):
            for ev in seg.push(audio[i : i + 160]):
                if ev.kind == "end":
                    reported_at, end = seg.position, ev.sample
        assert reported_at is not None
        assert end / RATE == pytest.approx(u["end"] + 0.1, abs=0.1)
        wait = reported_at / RATE - u["end"]
        assert silence_ms / 1000 - 0.05 < wait < silence_ms / 1000 + 0.15


def test_pending_end_announces_the_end_before_it_is_confirmed() -> None:
    pcm, script = demo_call()
    u = script["utterances"][2]
    audio = np.ascontiguousarray(pcm[int((u["start"] - 1) * RATE) : int((u["end"] + 1) * RATE), u["channel"]])
    seg = VadSegmenter()
    announced: set[int] = set()
    end = None
    for i in range(0, audio.shape[0], 512):
        events = seg.push(audio[i : i + 512])
        if seg.pending_end is not None:
            assert seg.in_pause
            announced.add(seg.pending_end)
        end = next((e.sample for e in events if e.kind == "end"), end)
    assert end is not None and end in announced


def test_a_long_monologue_is_cut_at_max_speech() -> None:
    pcm, script = demo_call()
    channel = 1
    speech = [pcm[int(u["start"] * RATE) : int(u["end"] * RATE), channel] for u in script["utterances"]]
    audio = np.ascontiguousarray(
        np.concatenate(
            [s for s, u in zip(speech, script["utterances"], strict=True) if u["channel"] == channel]
        )
    )
    assert audio.shape[0] > 20 * RATE
    found = speech_segments(audio, params=VadParams(max_speech_s=6.0))
    assert len(found) >= 4
    assert all((e - s) / RATE <= 6.0 + 0.05 for s, e in found)
    covered = sum(e - s for s, e in found)
    assert covered > 0.8 * audio.shape[0]
    assert all(a[1] <= b[0] for a, b in zip(found, found[1:], strict=False))


def test_flush_closes_an_open_utterance() -> None:
    pcm, script = demo_call()
    u = script["utterances"][0]
    cut = int((u["start"] + 1.5) * RATE)
    seg = VadSegmenter()
    events = seg.push(np.ascontiguousarray(pcm[:cut, u["channel"]]))
    assert [e.kind for e in events] == ["start"] and seg.in_speech
    tail = seg.flush()
    assert [(e.kind, e.sample) for e in tail] == [("end", cut)]
    assert seg.flush() == []
