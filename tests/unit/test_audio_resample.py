"""StreamResampler: any client rate to 16 kHz, chunk by chunk, state kept across chunks."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.audio_support import FIXTURES, sine
from wingman.audio.pcm import read_wav
from wingman.audio.resample import StreamResampler, resample
from wingman.errors import BadInput


def stream_through(pcm: np.ndarray, rate: int, chunk_sizes: list[int]) -> np.ndarray:
    rs = StreamResampler(in_rate=rate, channels=pcm.shape[1])
    out, i, k = [], 0, 0
    while i < pcm.shape[0]:
        n = chunk_sizes[k % len(chunk_sizes)]
        out.append(rs.process(pcm[i : i + n]))
        i, k = i + n, k + 1
    out.append(rs.flush())
    return np.concatenate(out)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_rates_to_16k_keep_length_and_pitch(rate: int) -> None:
    pcm = sine(440.0, rate, 2.0)
    out = stream_through(pcm, rate, [rate // 10])  # 100 ms chunks
    assert out.dtype == np.float32 and out.shape[1] == 1
    assert abs(out.shape[0] - 32000) <= 2
    assert peak_hz(out[4000:28000, 0], 16000) == pytest.approx(440.0, abs=2.0)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_chunk_boundaries_do_not_change_the_output(rate: int) -> None:
    rng = np.random.default_rng(5)
    pcm = (rng.standard_normal((rate * 2, 1)) * 0.1).astype(np.float32)
    whole = stream_through(pcm, rate, [pcm.shape[0]])
    odd = stream_through(pcm, rate, [1, 127, 441, 1000, 4410, 3])  # awkward sizes, prime-ish
    assert abs(whole.shape[0] - odd.shape[0]) <= 1
    n = min(whole.shape[0], odd.shape[0])
    np.testing.assert_allclose(odd[:n], whole[:n], atol=1e-4)


def test_stereo_channels_stay_apart() -> None:
    left, right = sine(300.0, 44100, 1.0), sine(1200.0, 44100, 1.0)
    out = stream_through(np.hstack([left, right]), 44100, [4410])
    assert out.shape[1] == 2
    assert peak_hz(out[2000:14000, 0], 16000) == pytest.approx(300.0, abs=3.0)
    assert peak_hz(out[2000:14000, 1], 16000) == pytest.approx(1200.0, abs=3.0)


def test_16k_passes_through_untouched() -> None:
    rs = StreamResampler(in_rate=16000, channels=1)
    pcm = sine(440.0, 16000, 0.1)
    assert rs.passthrough
    assert rs.process(pcm) is pcm
    assert rs.flush().shape == (0, 1)


def test_counts_and_flush_once() -> None:
    rs = StreamResampler(in_rate=48000, channels=1)
    got = sum(rs.process(sine(100.0, 48000, 0.01)).shape[0] for _ in range(100))
    got += rs.flush().shape[0]
    assert rs.frames_in == 48000 and rs.frames_out == got and abs(got - 16000) <= 1
    assert rs.flush().shape == (0, 1)
    with pytest.raises(RuntimeError):
        rs.process(sine(100.0, 48000, 0.01))


def test_rates_outside_8_to_48k_are_refused() -> None:
    for rate in (7999, 96000):
        with pytest.raises(BadInput) as info:
            StreamResampler(in_rate=rate)
        assert info.value.code == "audio_bad_rate"


def test_real_speech_at_44k1_matches_the_16k_rendering() -> None:
    """The fixture pair is one espeak rendering written at both rates."""
    hi, hi_rate = read_wav(FIXTURES / "two_sentences_44k1.wav")
    lo, lo_rate = read_wav(FIXTURES / "two_sentences_16k.wav")
    assert (hi_rate, lo_rate) == (44100, 16000)
    out = stream_through(hi, hi_rate, [4410])
    assert abs(out.shape[0] - lo.shape[0]) <= 0.001 * lo.shape[0]
    n = min(out.shape[0], lo.shape[0]) - 8
    # the two renderings were trimmed separately: allow a few samples of offset
    corr = max(np.corrcoef(out[4 + lag : 4 + lag + n, 0], lo[4 : 4 + n, 0])[0, 1] for lag in range(-4, 5))
    assert corr > 0.97
    np.testing.assert_allclose(resample(hi, hi_rate)[:n], out[:n], atol=0.02)
