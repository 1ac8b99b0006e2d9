"""Whisper's log-mel features computed by wingman.stt.batch.log_mel: the same as faster-whisper's
FeatureExtractor (to float32 rounding) on real speech, for any length and band count."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from tests.audio_sets import at16k, real_phone_call
from wingman.stt.batch import log_mel


@pytest.mark.parametrize("n_mels", [80, 128])
def test_log_mel_is_faster_whispers_features(n_mels: int) -> None:
    audio = at16k(real_phone_call(0)).audio[:, 0]
    reference = FeatureExtractor(feature_size=n_mels)
    # a whole window, a short turn, a clip not a whole number of hops, a near-empty one
    for start, end in [(0, 7 * 16000), (3 * 16000, 5 * 16000), (160_000, 172_345), (0, 800)]:
        clip = np.ascontiguousarray(audio[start:end])
        expected, got = reference(clip), log_mel(clip, n_mels)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert float(np.abs(got - expected).max()) < 1e-5


def test_log_mel_of_silence_is_whispers_floor() -> None:
    silence = np.zeros(16000, dtype=np.float32)
    expected = FeatureExtractor()(silence)
    assert np.array_equal(log_mel(silence), expected)
