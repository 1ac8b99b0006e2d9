"""Decoding and validating the client's binary PCM frames.

A frame is little-endian PCM, interleaved when stereo, in the encoding declared at `start-call`.
Everything wrong with a frame becomes a `BadInput` with a stable code the client can show;
nothing here touches the event loop's time budget beyond a few vectorized numpy passes.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from wingman.errors import BadInput
from wingman.events import AudioFormat
from wingman.stt.base import Pcm

# Float input a little above full scale is ordinary (browser gain stages overshoot) and is
# clipped; far above it means the client sent something that is not normalized float PCM.
OUT_OF_RANGE = 4.0
_DTYPES: dict[str, np.dtype[np.float32] | np.dtype[np.int16]] = {
    "f32le": np.dtype("<f4"),
    "s16le": np.dtype("<i2"),
}


def bytes_per_frame(fmt: AudioFormat) -> int:
    """Bytes in one frame (one sample of every channel)."""
    return int(_DTYPES[fmt.encoding].itemsize) * fmt.channels


def decode_chunk(data: bytes, fmt: AudioFormat, *, max_bytes: int) -> Pcm:
    """Decode one `audio-chunk` into float32 of shape (frames, channels), values in [-1, 1].

    Raises BadInput with code audio_empty, audio_too_large, audio_misaligned, audio_not_finite
    (NaN or inf in float input) or audio_out_of_range (float samples beyond +-4).
    """
    if not data:
        raise BadInput("audio chunk is empty", code="audio_empty")
    if len(data) > max_bytes:
        raise BadInput(
            f"audio chunk of {len(data)} bytes exceeds the limit of {max_bytes}",
            code="audio_too_large",
        )
    frame = bytes_per_frame(fmt)
    if len(data) % frame:
        raise BadInput(
            f"audio chunk of {len(data)} bytes is not a whole number of {fmt.encoding} "
            f"frames of {fmt.channels} channel(s) ({frame} bytes each)",
            code="audio_misaligned",
        )
    raw = np.frombuffer(data, dtype=_DTYPES[fmt.encoding])
    if fmt.encoding == "s16le":
        samples = raw.astype(np.float32) * np.float32(1.0 / 32768.0)
    else:
        samples = raw.astype(np.float32)  # native-endian copy: frombuffer is read-only
        if not np.isfinite(samples).all():
            raise BadInput("audio chunk contains NaN or infinity", code="audio_not_finite")
        peak = float(np.max(np.abs(samples)))
        if peak > OUT_OF_RANGE:
            raise BadInput(
                f"float audio must be in [-1, 1]; got a sample of magnitude {peak:.3g}",
                code="audio_out_of_range",
            )
        if peak > 1.0:
            np.clip(samples, -1.0, 1.0, out=samples)
    out: Pcm = samples.reshape(-1, fmt.channels)
    return out


def encode_chunk(pcm: Pcm, encoding: str = "f32le") -> bytes:
    """The inverse of decode_chunk: float32 (frames, channels) -> interleaved little-endian bytes."""
    if encoding == "s16le":
        ints = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype("<i2")
        return ints.tobytes()
    return np.ascontiguousarray(pcm, dtype="<f4").tobytes()


def read_wav(path: Path | str) -> tuple[Pcm, int]:
    """Read a 16-bit PCM WAV file -> (float32 (frames, channels), sample rate)."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise BadInput(f"{path}: only 16-bit PCM WAV is supported", code="audio_format")
        channels, rate = w.getnchannels(), w.getframerate()
        raw = w.readframes(w.getnframes())
    pcm = np.frombuffer(raw, dtype="<i2").astype(np.float32) / np.float32(32768.0)
    return pcm.reshape(-1, channels), rate
