"""audio/levels.py gives numpy's values exactly: the echo gate's decisions must not move."""

from __future__ import annotations

import math
import wave

import numpy as np
import pytest

from tests.audio_sets import DEMO_WAV
from wingman.audio.levels import frame_power, percentile


@pytest.mark.parametrize("n", [1, 2, 3, 7, 599, 600, 640, 641])
@pytest.mark.parametrize("q", [0, 10, 20, 30, 50, 99.5, 100])
def test_percentile_is_numpys_linear_percentile(n: int, q: float) -> None:
    rng = np.random.default_rng(n)
    for scale in (1e-9, 1.0, 1e6):
        values = rng.normal(size=n) * scale
        assert percentile(values, q) == float(np.percentile(values, q))
        ties = np.round(values / scale, 1)  # repeated values
        assert percentile(ties, q) == float(np.percentile(ties, q))


def test_percentile_of_frame_energies_in_db() -> None:
    with wave.open(str(DEMO_WAV)) as w:
        stereo = np.frombuffer(w.readframes(16000 * 10), dtype=np.int16).reshape(-1, 2)
    customer = stereo[:, 1].astype(np.float32).reshape(-1, 160) / 32768
    db = 10 * np.log10(frame_power(customer) + 1e-12)  # 10 s of the customer's 10 ms frames
    for q in (20, 30):
        assert percentile(db, q) == float(np.percentile(db, q))


def test_percentile_nan_and_bad_input() -> None:
    assert math.isnan(percentile(np.array([1.0, np.nan, 3.0]), 20))
    with pytest.raises(ValueError):
        percentile(np.zeros(0), 20)
    with pytest.raises(ValueError):
        percentile(np.zeros(3, dtype=np.float32), 20)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        percentile(np.zeros(3), 101)


def test_frame_power_is_the_mean_square() -> None:
    with wave.open(str(DEMO_WAV)) as w:
        stereo = np.frombuffer(w.readframes(16000), dtype=np.int16).reshape(-1, 2)
    x = (stereo.astype(np.float32) / 32768).reshape(-1, 160, 2)
    expected = np.mean(x.astype(np.float64) ** 2, axis=1)
    assert np.array_equal(frame_power(x), expected)
    mono = np.ascontiguousarray(x[:, :, 1])
    assert np.array_equal(frame_power(mono), np.mean(mono.astype(np.float64) ** 2, axis=1))
