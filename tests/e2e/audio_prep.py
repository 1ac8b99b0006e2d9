"""Makes the WAV file Chromium's fake microphone plays in the browser tests."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def customer_channel_clip(src: Path, dst: Path, *, max_pause: float = 0.8) -> Path:
    """Write the customer channel (1) of the stereo demo call as a mono 16-bit WAV.

    Pauses longer than `max_pause` seconds (the rep's turns, silent on this channel) are cut down
    to `max_pause`, so the customer's lines come sooner while each still ends in a pause the
    speech engine can finalize on.
    """
    with wave.open(str(src), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        if width != 2:
            raise ValueError(f"{src}: expected 16-bit PCM, got {8 * width}-bit")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, channels)
    mono = pcm[:, 1 if channels > 1 else 0]

    hop = rate // 50  # 20 ms
    frames = len(mono) // hop
    level = np.sqrt(np.mean(mono[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2, axis=1))
    loud = level > 0.01 * 32768
    keep_quiet = int(max_pause * 50)
    kept: list[np.ndarray] = []
    quiet_run = 0
    for i in range(frames):
        quiet_run = 0 if loud[i] else quiet_run + 1
        if quiet_run <= keep_quiet:
            kept.append(mono[i * hop : (i + 1) * hop])
    out = np.concatenate(kept).astype("<i2")

    dst.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(dst), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out.tobytes())
    return dst
