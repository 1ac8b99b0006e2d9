"""The shared speech test sets: synthesized calls laid out as promised, real clips found."""

from __future__ import annotations

import numpy as np

from tests.audio_sets import (
    conversation,
    demo_call_set,
    librivox_clips,
    normalize,
    real_phone_call,
    synthetic_call,
    synthetic_stereo,
    two_cities,
)


def test_synthetic_call_is_one_telephone_channel_with_tight_turns() -> None:
    s = synthetic_call()
    assert s.rate == 8000 and s.channels == 1
    spoken = s.spoken
    assert {t.speaker for t in spoken} == {"rep", "customer"}
    gaps = [b.start - a.end for a, b in zip(spoken, spoken[1:], strict=False)]
    assert all(g <= 0.3 + 1e-3 for g in gaps)  # never a clean pause between turns
    assert any(g < 0 for g in gaps)  # some overlap
    assert any(t.backchannel for t in s.turns)
    assert all(t.start < e <= t.end + 1e-3 for t in s.turns for e in t.sentence_ends)
    # the band: next to nothing above 3.4 kHz
    spec = np.abs(np.fft.rfft(s.audio[:, 0]))
    f = np.fft.rfftfreq(s.audio.shape[0], 1 / s.rate)
    assert spec[f > 3600].mean() < 0.1 * spec[(f > 500) & (f < 3000)].mean()


def test_synthesis_is_deterministic_per_seed() -> None:
    a = conversation.mono_call(seed=3)
    b = conversation.mono_call(seed=3)
    c = conversation.mono_call(seed=4)
    assert np.array_equal(a.audio, b.audio) and a.turns == b.turns
    assert a.turns != c.turns


def test_stereo_echo_puts_the_customer_on_the_rep_mic_later_and_softer() -> None:
    clean, echo = synthetic_stereo(), synthetic_stereo(echo=True)
    cust = next(t for t in clean.spoken if t.speaker == "customer")
    lo, hi = int(cust.start * 16000), int(cust.end * 16000)
    leak = echo.audio[lo:hi, 0] - clean.audio[lo:hi, 0]
    ref = clean.audio[lo:hi, 1]
    assert np.sqrt(np.mean(leak**2)) < 0.5 * np.sqrt(np.mean(ref**2))
    corr = np.correlate(leak[:16000], ref[:16000], mode="full")[16000 - 1 :]
    lag_ms = int(np.argmax(corr[:1600])) / 16
    assert 15 <= lag_ms <= 65, lag_ms
    assert {t.channel for t in clean.turns if t.speaker == "customer"} == {1}


def test_real_speech_sets_have_their_transcripts() -> None:
    clips = librivox_clips()
    assert len(clips) == 5 and all(len(a) > 16000 and text for _, a, text in clips)
    audio, text = two_cities()
    assert 40 < len(audio) / 16000 < 46 and text.startswith("It was the best of times")
    call = real_phone_call()
    assert call.rate == 8000 and len(call.turns) == 14
    assert [t.speaker for t in call.turns[:3]] == ["rep", "customer", "rep"]
    assert all(0.09 <= b.start - a.end <= 0.31 for a, b in zip(call.turns, call.turns[1:], strict=False))


def test_demo_set_and_normalize() -> None:
    demo = demo_call_set()
    assert demo.channels == 2 and len(demo.turns) == 16
    assert normalize("Around $30 per seat, SOC 2!") == "around thirty dollars per seat soc two"
    assert normalize("forty agents") == normalize("40 agents")
