"""Turning a call's raw recording (16-bit little-endian PCM, interleaved channels) into the
file the browser plays: Ogg/Opus by default (about 3 KB a second of speech), FLAC when it
must be lossless, WAV when neither encoder is there.

The encoders are FFmpeg's, shipped inside the PyAV wheel (a dependency of the speech engine),
so they work offline. The raw file is read a few seconds at a time, never whole, and the
result is written beside it and renamed into place: a crash mid-encode leaves the raw file
and no half-written recording.
"""

from __future__ import annotations

import os
import uuid
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Codec = Literal["opus", "flac", "wav"]
SUFFIX: dict[str, str] = {"opus": ".ogg", "flac": ".flac", "wav": ".wav"}
MEDIA_TYPE: dict[str, str] = {"opus": "audio/ogg", "flac": "audio/flac", "wav": "audio/wav"}
OPUS_BITRATE = 24_000  # speech at 16 kHz: clear at 24 kb/s
_READ_SECONDS = 5


@dataclass(frozen=True)
class Encoded:
    path: Path
    media_type: str
    size_bytes: int
    seconds: float


def available(codec: Codec) -> bool:
    """Whether this machine can write `codec` (WAV always)."""
    if codec == "wav":
        return True
    try:
        import av
    except ImportError:
        return False
    return ("libopus" if codec == "opus" else "flac") in av.codecs_available


def usable(codec: Codec) -> Codec:
    """`codec`, or WAV when its encoder is missing."""
    return codec if available(codec) else "wav"


def encode(raw: Path, out: Path, *, sample_rate: int, channels: int, codec: Codec) -> Encoded:
    """Encode `raw` into `out` (atomically: written to a temporary name, then renamed)."""
    codec = usable(codec)
    tmp = out.with_name(f"{out.name}.{uuid.uuid4().hex[:8]}.part")  # two encoders never share one
    frames_each = sample_rate * _READ_SECONDS
    if codec == "wav":
        _write_wav(raw, tmp, sample_rate=sample_rate, channels=channels, frames_each=frames_each)
    else:
        _write_av(raw, tmp, sample_rate=sample_rate, channels=channels, codec=codec, frames_each=frames_each)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, out)
    frames = raw.stat().st_size // (2 * channels)
    return Encoded(path=out, media_type=MEDIA_TYPE[codec], size_bytes=out.stat().st_size,
                   seconds=frames / sample_rate)


def _write_wav(raw: Path, out: Path, *, sample_rate: int, channels: int, frames_each: int) -> None:
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        with raw.open("rb") as f:
            while block := f.read(frames_each * channels * 2):
                w.writeframes(block[: len(block) - len(block) % (2 * channels)])


def _write_av(
    raw: Path, out: Path, *, sample_rate: int, channels: int, codec: Codec, frames_each: int
) -> None:
    import av

    layout = "stereo" if channels == 2 else "mono"
    container = av.open(str(out), "w", format="ogg" if codec == "opus" else "flac")
    try:
        name = "libopus" if codec == "opus" else "flac"
        stream = container.add_stream(name, rate=sample_rate, layout=layout)
        assert isinstance(stream, av.audio.stream.AudioStream)
        if codec == "opus":
            stream.bit_rate = OPUS_BITRATE
        pts = 0
        with raw.open("rb") as f:
            while block := f.read(frames_each * channels * 2):
                block = block[: len(block) - len(block) % (2 * channels)]
                if not block:
                    break
                samples = np.frombuffer(block, dtype="<i2").reshape(1, -1)  # packed: interleaved
                frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
                frame.sample_rate = sample_rate
                frame.pts = pts
                pts += samples.shape[1] // channels
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    finally:
        container.close()
