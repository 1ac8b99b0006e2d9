"""decode_chunk: the client's binary PCM frames -> float32 (frames, channels), or a BadInput."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.audio_support import FIXTURES
from wingman.audio.pcm import bytes_per_frame, decode_chunk, encode_chunk, read_wav
from wingman.errors import BadInput
from wingman.events import AudioFormat

F32_MONO = AudioFormat(sample_rate=16000, encoding="f32le", channels=1)
F32_STEREO = AudioFormat(sample_rate=44100, encoding="f32le", channels=2)
S16_STEREO = AudioFormat(sample_rate=48000, encoding="s16le", channels=2)
MAX = 256 * 1024


def code_of(data: bytes, fmt: AudioFormat, max_bytes: int = MAX) -> str:
    with pytest.raises(BadInput) as info:
        decode_chunk(data, fmt, max_bytes=max_bytes)
    return info.value.code


def test_f32_mono_decodes_to_a_column() -> None:
    samples = np.array([0.0, 0.5, -0.25, 1.0], dtype="<f4")
    out = decode_chunk(samples.tobytes(), F32_MONO, max_bytes=MAX)
    assert out.dtype == np.float32 and out.shape == (4, 1)
    np.testing.assert_array_equal(out[:, 0], samples)


def test_stereo_is_interleaved_frame_by_frame() -> None:
    # L0 R0 L1 R1 L2 R2: channel 0 is the rep, channel 1 the customer
    frames = np.array([0.1, -0.1, 0.2, -0.2, 0.3, -0.3], dtype="<f4")
    out = decode_chunk(frames.tobytes(), F32_STEREO, max_bytes=MAX)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out[:, 0], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], [-0.1, -0.2, -0.3], rtol=1e-6)


def test_s16_scales_to_unit_range_little_endian() -> None:
    ints = np.array([32767, -32768, 0, 16384], dtype="<i2")
    out = decode_chunk(ints.tobytes(), S16_STEREO, max_bytes=MAX)
    assert out.shape == (2, 2)
    assert out[0, 0] == pytest.approx(1.0, abs=1e-4)
    assert out[0, 1] == -1.0
    assert out[1, 0] == 0.0 and out[1, 1] == 0.5
    # explicit byte order: 0x0100 little-endian is 1, not 256
    assert decode_chunk(b"\x01\x00\x01\x00", S16_STEREO, max_bytes=MAX)[0, 0] == pytest.approx(1 / 32768)


def test_float_a_little_over_full_scale_is_clipped() -> None:
    out = decode_chunk(np.array([1.5, -2.0, 0.5], dtype="<f4").tobytes(), F32_MONO, max_bytes=MAX)
    np.testing.assert_array_equal(out[:, 0], [1.0, -1.0, 0.5])


def test_error_codes() -> None:
    assert code_of(b"", F32_MONO) == "audio_empty"
    assert code_of(b"\x00" * 4096, F32_MONO, max_bytes=4092) == "audio_too_large"
    assert code_of(b"\x00" * 6, F32_MONO) == "audio_misaligned"  # 1.5 float samples
    assert code_of(b"\x00" * 12, F32_STEREO) == "audio_misaligned"  # 1.5 stereo frames
    assert code_of(b"\x00" * 6, S16_STEREO) == "audio_misaligned"  # 3 int16 = 1.5 frames
    for bad in (np.nan, np.inf, -np.inf):
        data = np.array([0.0, bad, 0.1, 0.2], dtype="<f4").tobytes()
        assert code_of(data, F32_MONO) == "audio_not_finite"
    assert code_of(np.array([0.0, 4.5], dtype="<f4").tobytes(), F32_MONO) == "audio_out_of_range"
    assert code_of(np.array([-100.0], dtype="<f4").tobytes(), F32_MONO) == "audio_out_of_range"


def test_the_message_is_safe_to_show_and_names_the_problem() -> None:
    with pytest.raises(BadInput, match="not a whole number"):
        decode_chunk(b"\x00" * 7, S16_STEREO, max_bytes=MAX)


def test_bytes_per_frame() -> None:
    assert bytes_per_frame(F32_MONO) == 4
    assert bytes_per_frame(F32_STEREO) == 8
    assert bytes_per_frame(S16_STEREO) == 4


@given(
    st.lists(st.floats(-1.0, 1.0, width=32), min_size=2, max_size=400).filter(lambda v: len(v) % 2 == 0),
    st.sampled_from(["f32le", "s16le"]),
)
def test_encode_decode_round_trip(values: list[float], encoding: str) -> None:
    pcm = np.array(values, dtype=np.float32).reshape(-1, 2)
    fmt = AudioFormat.model_validate({"sample_rate": 16000, "encoding": encoding, "channels": 2})
    out = decode_chunk(encode_chunk(pcm, encoding), fmt, max_bytes=MAX)
    assert out.shape == pcm.shape
    np.testing.assert_allclose(out, pcm, atol=1e-7 if encoding == "f32le" else 1 / 16000)


def test_read_wav_fixture() -> None:
    pcm, rate = read_wav(FIXTURES / "two_sentences_16k.wav")
    assert rate == 16000 and pcm.shape[1] == 1 and pcm.dtype == np.float32
    assert 4.0 < pcm.shape[0] / rate < 10.0
    assert 0.3 < float(np.max(np.abs(pcm))) <= 1.0
