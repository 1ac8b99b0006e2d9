"""The online diarizer with scripted embeddings: each "voice" is a tone, and the scripted
embedding maps a window's dominant frequency to that voice's vector plus noise, so clustering,
splitting and change placement are tested without the model."""

from __future__ import annotations

import numpy as np
import pytest

from wingman.speakers.diarizer import CUSTOMER, REP, DiarizerParams, OnlineDiarizer
from wingman.speakers.embedder import normalize

SR = 16000
RNG = np.random.default_rng(7)
BASE = normalize(RNG.normal(size=192))
# two voices whose prints are 0.3 apart in cosine (like two real people), both near BASE
VOICES = {
    f: normalize(BASE * 0.55 + normalize(RNG.normal(size=192)) * 0.83) for f in (300.0, 700.0)
}


def scripted_embed(noise: float = 0.6):
    rng = np.random.default_rng(1)

    def embed(audio: np.ndarray) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(audio))
        freq = float(np.argmax(spectrum)) * SR / audio.shape[0]
        voice = min(VOICES, key=lambda f: abs(f - freq))
        return normalize(VOICES[voice] + rng.normal(size=192) * noise / np.sqrt(192))

    return embed


def tone(freq: float, seconds: float) -> np.ndarray:
    """A "voice": a tone with a syllable-rate envelope (4 per second), loud and soft like speech."""
    t = np.arange(int(seconds * SR)) / SR
    envelope = 0.05 + np.abs(np.sin(2 * np.pi * 2 * t))
    return (0.3 * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)


Truth = list[tuple[float, float, float]]


def call(turns: list[tuple[float, float]], gap: float = 0.2) -> tuple[np.ndarray, Truth]:
    """(audio, [(start, end, freq)]) of tones separated by near-silence."""
    parts, truth, t = [], [], 0.3
    parts.append(np.zeros(int(0.3 * SR), dtype=np.float32))
    for freq, seconds in turns:
        parts.append(tone(freq, seconds))
        truth.append((t, t + seconds, freq))
        t += seconds
        parts.append(np.zeros(int(gap * SR), dtype=np.float32))
        t += gap
    audio = np.concatenate(parts)
    audio += np.random.default_rng(3).normal(0, 1e-4, audio.shape).astype(np.float32)
    return audio, truth


def run(audio: np.ndarray, **kw: object) -> OnlineDiarizer:
    d = OnlineDiarizer(embed=scripted_embed(), **kw)  # type: ignore[arg-type]
    for i in range(0, audio.shape[0], 1600):
        d.push(audio[i : i + 1600])
    return d


def accuracy(d: OnlineDiarizer, truth: list[tuple[float, float, float]], roles: dict[float, str]) -> float:
    spans = [(t, t + 0.1) for s, e, _ in truth for t in np.arange(s + 0.05, e - 0.1, 0.1)]
    want = [roles[f] for s, e, f in truth for _ in np.arange(s + 0.05, e - 0.1, 0.1)]
    got = d.label_words(spans)
    return sum(g == w for g, w in zip(got, want, strict=True)) / len(want)


TURNS = [(300.0, 3.0), (700.0, 2.5), (300.0, 2.0), (700.0, 3.5), (300.0, 2.5), (700.0, 2.0), (300.0, 3.0)]


def test_two_voices_are_told_apart_and_the_first_is_the_rep() -> None:
    audio, truth = call(TURNS)
    d = run(audio)
    assert d.speakers == 2
    assert accuracy(d, truth, {300.0: REP, 700.0: CUSTOMER}) >= 0.9


def test_change_goes_to_the_pause_between_turns() -> None:
    audio, truth = call(TURNS, gap=0.25)
    d = run(audio)
    # just either side of each change: the right speaker, not the one before or after
    for (_s0, e0, f0), (s1, _e1, f1) in zip(truth, truth[1:], strict=False):
        before, after = d.label_words([(e0 - 0.15, e0 - 0.05), (s1 + 0.05, s1 + 0.15)])
        assert before == (REP if f0 == 300.0 else CUSTOMER)
        assert after == (REP if f1 == 300.0 else CUSTOMER)


def test_one_voice_stays_one_speaker() -> None:
    audio, truth = call([(300.0, 4.0)] * 8)
    d = run(audio)
    assert d.speakers == 1
    assert accuracy(d, truth, {300.0: REP}) == 1.0


def test_enrolled_print_makes_the_second_voice_the_rep() -> None:
    audio, truth = call(TURNS)
    d = run(audio, rep_print=VOICES[700.0])
    assert accuracy(d, truth, {300.0: CUSTOMER, 700.0: REP}) >= 0.9
    assert d.tells_roles


def test_print_of_someone_else_labels_everyone_customer() -> None:
    stranger = normalize(-BASE)
    audio, truth = call(TURNS)
    d = run(audio, rep_print=stranger)
    assert set(d.label_words([(s, e) for s, e, _ in truth])) == {CUSTOMER}


def test_nothing_heard_yet_gives_no_label() -> None:
    d = OnlineDiarizer(embed=scripted_embed())
    d.push(np.zeros(SR, dtype=np.float32))
    assert d.label_span(0.0, 1.0) is None
    assert not d.tells_roles


def test_words_in_silence_take_the_nearest_speaker() -> None:
    audio, truth = call([(300.0, 3.0), (700.0, 3.0)], gap=1.0)
    d = run(audio)
    s0, e0, _ = truth[0]
    assert d.label_span(e0 + 0.1, e0 + 0.2) == REP  # in the gap, nearer the rep's turn


def test_old_speech_mask_is_dropped_on_long_calls() -> None:
    params = DiarizerParams(keep_s=10.0)
    audio, _ = call([(300.0, 3.0), (700.0, 3.0)] * 4)
    d = OnlineDiarizer(embed=scripted_embed(), params=params)
    for i in range(0, audio.shape[0], 1600):
        d.push(audio[i : i + 1600])
    assert d._speech.shape[0] <= 1000 + 16  # noqa: SLF001 - bounded memory is the point
    assert d.label_span(d.position - 1.0, d.position - 0.5) is not None


@pytest.mark.parametrize("chunk", [160, 1000, 4800])
def test_chunk_size_does_not_matter(chunk: int) -> None:
    audio, truth = call(TURNS)
    d = OnlineDiarizer(embed=scripted_embed())
    for i in range(0, audio.shape[0], chunk):
        d.push(audio[i : i + chunk])
    assert d.speakers == 2
    assert accuracy(d, truth, {300.0: REP, 700.0: CUSTOMER}) >= 0.9


def test_turn_changes_are_reported_live_near_each_change() -> None:
    audio, truth = call(TURNS, gap=0.25)
    d = OnlineDiarizer(embed=scripted_embed())
    heard: list[tuple[float, float]] = []  # (change, position when reported)
    for i in range(0, audio.shape[0], 1600):
        d.push(audio[i : i + 1600])
        heard += [(at, d.position) for at in d.take_changes()]
    changes = [(e0 + s1) / 2 for (_, e0, _), (s1, _, _) in zip(truth, truth[1:], strict=False)]
    # each report lies at a change, no change is reported twice, and all but the first (the
    # second voice is told apart only after a few of its windows) are reported, within 2 s
    nearest = [min(changes, key=lambda c, at=at: abs(c - at)) for at, _ in heard]
    assert all(abs(c - at) <= 0.4 for c, (at, _) in zip(nearest, heard, strict=True))
    assert len(set(nearest)) == len(nearest) >= len(changes) - 1
    assert all(pos - at <= 2.0 for at, pos in heard)
    assert d.take_changes() == []


def test_one_voice_reports_no_turn_change() -> None:
    audio, _ = call([(300.0, 4.0)] * 8)
    d = run(audio)
    assert d.take_changes() == []
