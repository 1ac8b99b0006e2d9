"""Shared by the audio tests: where the fixtures and the demo call live, how to read them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wingman.audio.pcm import read_wav
from wingman.settings import DATA_DIR

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
DEMO_WAV = DATA_DIR / "demo" / "sample_call.wav"
DEMO_SCRIPT = DATA_DIR / "demo" / "sample_call.json"


def demo_call() -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
    """The demo call's audio (16 kHz, (frames, 2)) and its script."""
    pcm, rate = read_wav(DEMO_WAV)
    assert rate == 16000 and pcm.shape[1] == 2
    script: dict[str, Any] = json.loads(DEMO_SCRIPT.read_text())
    return pcm, script


def sine(freq: float, rate: int, seconds: float, channels: int = 1) -> npt.NDArray[np.float32]:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)
