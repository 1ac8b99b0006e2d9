"""Streaming resampling to the 16 kHz the speech engines want.

Browsers capture at whatever the sound card runs (44.1 kHz is common, 48 kHz too, 8 kHz from
telephony bridges), so the rate comes from `start-call` and is never assumed. soxr keeps the
filter state across chunks, so chunk boundaries leave no clicks and no drift in length.
"""

from __future__ import annotations

import numpy as np
import soxr

from wingman.errors import BadInput
from wingman.stt.base import SAMPLE_RATE, Pcm

MIN_RATE = 8000
MAX_RATE = 48000


class StreamResampler:
    """Resample one stream, chunk by chunk, keeping state; `flush()` once at the end.

    Input and output are float32 of shape (frames, channels). A stream already at the target
    rate passes through untouched (no copy, no delay).
    """

    def __init__(
        self, *, in_rate: int, out_rate: int = SAMPLE_RATE, channels: int = 1, quality: str = "HQ"
    ) -> None:
        if not MIN_RATE <= in_rate <= MAX_RATE:
            raise BadInput(
                f"sample rate {in_rate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz",
                code="audio_bad_rate",
            )
        if channels < 1:
            raise BadInput("channels must be at least 1", code="audio_bad_channels")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self.frames_in = 0
        self.frames_out = 0
        self._flushed = False
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(in_rate, out_rate, channels, dtype="float32", quality=quality)

    @property
    def passthrough(self) -> bool:
        return self._stream is None

    def process(self, pcm: Pcm) -> Pcm:
        """Resample one chunk; may return fewer frames than the ratio says (filter delay)."""
        if self._flushed:
            raise RuntimeError("StreamResampler.process() after flush()")
        if pcm.ndim != 2 or pcm.shape[1] != self.channels:
            raise ValueError(f"expected shape (n, {self.channels}), got {pcm.shape}")
        self.frames_in += pcm.shape[0]
        if self._stream is None:
            out = pcm
        else:
            out = self._stream.resample_chunk(np.ascontiguousarray(pcm, dtype=np.float32))
            out = out.reshape(-1, self.channels)
        self.frames_out += out.shape[0]
        return out

    def flush(self) -> Pcm:
        """The filter's tail: call once at the end of the stream."""
        if self._flushed:
            return np.zeros((0, self.channels), dtype=np.float32)
        self._flushed = True
        if self._stream is None:
            return np.zeros((0, self.channels), dtype=np.float32)
        empty = np.zeros((0, self.channels), dtype=np.float32)
        out: Pcm = self._stream.resample_chunk(empty, last=True).reshape(-1, self.channels)
        self.frames_out += out.shape[0]
        return out


def resample(pcm: Pcm, in_rate: int, out_rate: int = SAMPLE_RATE) -> Pcm:
    """Resample a whole clip (float32 (frames, channels)) in one go."""
    if in_rate == out_rate:
        return pcm
    out = soxr.resample(np.ascontiguousarray(pcm, dtype=np.float32), in_rate, out_rate)
    result: Pcm = np.asarray(out, dtype=np.float32).reshape(-1, pcm.shape[1])
    return result
