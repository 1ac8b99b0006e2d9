"""Audio that says what time it is, and a script of what was "said" when.

Every 10 ms block of test audio carries its own block index as its sample value (k / 32767, so
int16 k after our float->linear16 conversion). A stand-in speech engine that receives any slice of
it can tell exactly which call-time that slice covers: that is how the Deepgram stand-in and the
scripted local engine prove that resent/replayed audio starts where it should and that the times
we report stay call-relative.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wingman.stt.base import SttResult, SttStream

SR = 16000
BLOCK = 160  # frames in 10 ms


@dataclass(frozen=True)
class Segment:
    """What was said on one channel between start and end (seconds, multiples of 10 ms)."""

    channel: int
    start: float
    end: float
    text: str
    speaker: int | None = None

    @property
    def start_frame(self) -> int:
        return round(self.start * SR)

    @property
    def end_frame(self) -> int:
        return round(self.end * SR)

    @property
    def mid_frame(self) -> int:
        return (self.start_frame + self.end_frame) // 2


class Script:
    """Segments per channel, with silence filled in so each channel's finals cover all audio
    (Deepgram finalizes silence too, with an empty transcript)."""

    def __init__(self, spoken: Sequence[Segment], *, duration: float, channels: int = 1) -> None:
        self.duration = duration
        self.channels = channels
        self.spoken = sorted(spoken, key=lambda s: (s.start, s.channel))
        segments: list[Segment] = []
        for ch in range(channels):
            t = 0.0
            for seg in (s for s in self.spoken if s.channel == ch):
                if seg.start > t:
                    segments.append(Segment(ch, t, seg.start, ""))
                segments.append(seg)
                t = seg.end
            if t < duration:
                segments.append(Segment(ch, t, duration, ""))
        self.segments = sorted(segments, key=lambda s: (s.end, s.channel))

    @property
    def frames(self) -> int:
        return round(self.duration * SR)


def encode(start_frame: int, end_frame: int, channels: int = 1) -> npt.NDArray[np.float32]:
    """Test audio for frames [start_frame, end_frame): each sample is its block index / 32767."""
    blocks = np.arange(start_frame, end_frame) // BLOCK
    mono = (blocks / 32767.0).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


def chunks(
    start: float, end: float, *, channels: int = 1, seconds: float = 0.1
) -> Iterator[npt.NDArray[np.float32]]:
    """Test audio from `start` to `end` seconds, in chunks like the gateway pushes."""
    step = round(seconds * SR)
    first, last = round(start * SR), round(end * SR)
    for f in range(first, last, step):
        yield encode(f, min(f + step, last), channels)


def first_frame(samples: npt.NDArray[np.int16]) -> int:
    """Call frame of samples[0], from the block indices the samples carry."""
    k0 = int(samples[0])
    changes = np.nonzero(samples != k0)[0]
    if changes.size:
        i = int(changes[0])
        return int(samples[i]) * BLOCK - i
    return k0 * BLOCK


def to_int16(pcm: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    out: npt.NDArray[np.int16] = np.rint(np.clip(pcm, -1, 1) * 32767.0).astype(np.int16)
    return out


async def transcribe(
    stream: SttStream, audio: Iterable[npt.NDArray[np.float32]], *, timeout: float = 15.0
) -> list[SttResult]:
    """Push all of `audio`, end the input and collect every result the stream gives."""
    for chunk in audio:
        stream.push_audio(chunk)
    stream.end_input()
    return await collect(stream, timeout=timeout)


async def collect(stream: SttStream, *, timeout: float = 15.0) -> list[SttResult]:
    async def _all() -> list[SttResult]:
        return [r async for r in stream]

    try:
        return await asyncio.wait_for(_all(), timeout)
    finally:
        await stream.aclose()
