"""Voice activity detection: Silero VAD v6 on onnxruntime, and a streaming segmenter.

The model file is the one faster-whisper ships in its assets (no download, no torch). It takes
windows of 512 samples at 16 kHz, each prefixed by the previous window's last 64 samples, and an
LSTM state (h, c) of shape (1, 1, 128). Its batch axis is time: a batch of consecutive windows
with the state carried is the same as feeding them one by one, so each chunk costs one call.

`VadSegmenter` turns the per-window speech probabilities of one channel into speech start/end
sample positions with hysteresis, a minimum speech length, an end-of-speech silence (the main
term of final-transcript latency), padding and a maximum utterance length.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from wingman.errors import ConfigError
from wingman.stt.base import SAMPLE_RATE

WINDOW = 512  # samples per model step at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window prepended to each window
STATE_SHAPE = (1, 1, 128)
F32 = npt.NDArray[np.float32]


def silero_model_path() -> Path:
    """The Silero VAD v6 ONNX file inside the installed faster_whisper package."""
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or spec.origin is None:
        raise ConfigError("faster-whisper is not installed: it ships the Silero VAD model")
    path = Path(spec.origin).parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise ConfigError(f"Silero VAD model not found at {path}")
    return path


@dataclass
class SileroState:
    """One channel's recurrent state: LSTM (h, c) and the last CONTEXT samples."""

    h: F32 = field(default_factory=lambda: np.zeros(STATE_SHAPE, dtype=np.float32))
    c: F32 = field(default_factory=lambda: np.zeros(STATE_SHAPE, dtype=np.float32))
    context: F32 = field(default_factory=lambda: np.zeros(CONTEXT, dtype=np.float32))


class SileroVad:
    """The ONNX session; stateless itself, so one instance serves every channel and thread."""

    def __init__(self, path: Path | None = None) -> None:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a tiny model: threads cost more than they save
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.path = path or silero_model_path()
        self._session = ort.InferenceSession(
            str(self.path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        names = {i.name for i in self._session.get_inputs()}
        if names != {"input", "h", "c"}:
            raise ConfigError(f"unexpected Silero VAD inputs {sorted(names)} in {self.path}")

    def probs(self, state: SileroState, windows: F32) -> F32:
        """Speech probability of each window (shape (n, WINDOW)); updates `state`."""
        n = windows.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        batch = np.empty((n, CONTEXT + WINDOW), dtype=np.float32)
        batch[:, CONTEXT:] = windows
        batch[0, :CONTEXT] = state.context
        if n > 1:
            batch[1:, :CONTEXT] = windows[:-1, -CONTEXT:]
        out, state.h, state.c = self._session.run(None, {"input": batch, "h": state.h, "c": state.c})
        state.context = windows[-1, -CONTEXT:].copy()
        return np.asarray(out, dtype=np.float32).reshape(n)


@functools.cache
def shared_vad() -> SileroVad:
    """The process-wide Silero session (loaded on first use)."""
    return SileroVad()


@dataclass(frozen=True)
class VadParams:
    """Segmenter tuning. Times in milliseconds unless named _s."""

    threshold: float = 0.5  # speech starts (or resumes) at or above this probability
    neg_threshold: float | None = None  # silence below this; default threshold - 0.15
    min_speech_ms: int = 250  # shorter bursts are not speech (coughs, clicks)
    min_silence_ms: int = 350  # silence that ends an utterance: sets the final latency
    speech_pad_ms: int = 100  # audio kept either side of the detected speech
    max_speech_s: float = 20.0  # longer monologues are cut, at a pause when there is one

    @property
    def low(self) -> float:
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class VadEvent:
    """Speech started or ended at `sample` (position in the channel's 16 kHz stream)."""

    kind: Literal["start", "end"]
    sample: int


def _ms(ms: float) -> int:
    return int(ms * SAMPLE_RATE / 1000)


class VadSegmenter:
    """Streaming speech segmentation of one channel of 16 kHz float32 audio."""

    def __init__(self, *, params: VadParams | None = None, vad: SileroVad | None = None) -> None:
        self.params = params or VadParams()
        self._vad = vad or shared_vad()
        self._state = SileroState()
        self._pending = np.zeros(0, dtype=np.float32)  # < WINDOW samples not yet scored
        self.position = 0  # samples pushed so far
        self._scored = 0  # samples scored by the model (a multiple of WINDOW)
        self._min_speech = _ms(self.params.min_speech_ms)
        self._min_silence = _ms(self.params.min_silence_ms)
        self._pad = min(_ms(self.params.speech_pad_ms), self._min_silence)
        self._max_speech = int(self.params.max_speech_s * SAMPLE_RATE)
        self._pause = _ms(100)  # a pause this long is a good place to cut a long monologue
        self._triggered = False  # probability went over threshold; not yet confirmed speech
        self._candidate = 0  # where the triggering window started
        self._silence_at: int | None = None  # where the current run of silence started
        self._cut_at: int | None = None  # the latest pause inside the current utterance
        self._last_end = 0
        self.in_speech = False  # a start was emitted and its end not yet
        self.speech_start = 0

    @property
    def in_pause(self) -> bool:
        """Speech is open but the latest audio is silence: the utterance may be ending."""
        return self.in_speech and self._silence_at is not None

    @property
    def pending_end(self) -> int | None:
        """Where the open utterance will end if the current pause lasts long enough."""
        if self.in_speech and self._silence_at is not None:
            return self._silence_at + self._pad
        return None

    def push(self, samples: F32) -> list[VadEvent]:
        """Score new audio (1-D float32 at 16 kHz); return the events it completes."""
        self.position += samples.shape[0]
        buf = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = buf.shape[0] // WINDOW
        self._pending = buf[n * WINDOW :].copy()
        if n == 0:
            return []
        probs = self._vad.probs(self._state, buf[: n * WINDOW].reshape(n, WINDOW))
        events: list[VadEvent] = []
        for prob in probs:
            self._step(float(prob), self._scored, events)
            self._scored += WINDOW
        return events

    def flush(self) -> list[VadEvent]:
        """End of audio: close an open utterance."""
        if not self.in_speech:
            return []
        end = self.position
        if self._silence_at is not None:
            end = min(self._silence_at + self._pad, self.position)
        return [self._end(end)]

    def _step(self, prob: float, at: int, events: list[VadEvent]) -> None:
        p = self.params
        window_end = at + WINDOW
        if prob >= p.threshold:
            self._silence_at = None
            if not self._triggered:
                self._triggered = True
                self._candidate = at
            if not self.in_speech and window_end - self._candidate >= self._min_speech:
                self.in_speech = True
                self.speech_start = max(self._candidate - self._pad, self._last_end, 0)
                self._cut_at = None
                events.append(VadEvent("start", self.speech_start))
        elif prob < p.low and self._triggered:
            if self._silence_at is None:
                self._silence_at = at
            silent = window_end - self._silence_at
            if silent >= self._pause and self.in_speech:
                self._cut_at = self._silence_at + min(silent // 2, self._pad)
            if silent >= self._min_silence:
                if self.in_speech:
                    events.append(self._end(self._silence_at + self._pad))
                self._triggered = False
                self._silence_at = None
        if self.in_speech and window_end - self.speech_start >= self._max_speech:
            # Whisper sees 30 s at most, and a final that never comes is no use to anyone
            cut = self._cut_at
            if cut is None or cut <= self.speech_start + self._min_speech:
                cut = window_end
            events.append(self._end(cut))
            self.in_speech = True
            self.speech_start = cut
            self._cut_at = None
            events.append(VadEvent("start", cut))

    def _end(self, sample: int) -> VadEvent:
        self.in_speech = False
        self._last_end = sample
        return VadEvent("end", sample)


def speech_segments(
    audio: F32, *, params: VadParams | None = None, chunk: int = 1600
) -> list[tuple[int, int]]:
    """Offline helper: (start, end) sample pairs of the speech in a 1-D 16 kHz clip."""
    seg = VadSegmenter(params=params)
    events: list[VadEvent] = []
    for i in range(0, audio.shape[0], chunk):
        events += seg.push(np.ascontiguousarray(audio[i : i + chunk], dtype=np.float32))
    events += seg.flush()
    out: list[tuple[int, int]] = []
    start = 0
    for ev in events:
        if ev.kind == "start":
            start = ev.sample
        else:
            out.append((start, ev.sample))
    return out
