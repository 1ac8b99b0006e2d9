"""How well the speaker embeddings tell voices apart: same/different-speaker AUC and EER.

Clips of 1.5 s (the diarizer's window) cut from real readers (pocketsphinx-testdata's LibriVox
reader and its "cards" speaker, the moonshine-voice wheel's two_cities, beckett and clone-test
readers), wideband and telephone band (8 kHz and back), plus four espeak-ng voices. Pairs from
one reader are "same", pairs across readers "different". Prints one comparable line last.

    .venv/bin/python bench/speakers_verify.py
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wingman.speakers.embedder import SpeakerEmbedder  # noqa: E402

PS = Path("/usr/share/pocketsphinx/test/data")
CLIP = 24000  # 1.5 s
ESPEAK_TEXT = (
    "Thanks for taking the time today. We looked at the pricing page and the integrations, "
    "and honestly the numbers work for a team of forty, if the rollout takes less than a month."
)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        rate, data = w.getframerate(), w.readframes(w.getnframes())
    x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    return x if rate == 16000 else soxr.resample(x, rate, 16000).astype(np.float32)


def _moonshine(name: str) -> Path:
    spec = importlib.util.find_spec("moonshine_voice")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "assets" / name


def _espeak(voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(out), ESPEAK_TEXT], check=True)
        return _read(out)


def _chunks(x: np.ndarray) -> list[np.ndarray]:
    """Non-overlapping 1.5 s clips with speech in them (RMS within 20 dB of the loudest)."""
    clips = [x[i : i + CLIP] for i in range(0, len(x) - CLIP + 1, CLIP)]
    rms = [float(np.sqrt(np.mean(c**2)) + 1e-9) for c in clips]
    top = max(rms, default=0.0)
    return [c for c, r in zip(clips, rms, strict=True) if r > top / 10]


def _phone(x: np.ndarray) -> np.ndarray:
    return soxr.resample(soxr.resample(x, 16000, 8000), 8000, 16000).astype(np.float32)


def speakers() -> dict[str, np.ndarray]:
    """Reader -> all of their audio, 16 kHz."""
    out = {
        "librivox": np.concatenate([_read(p) for p in sorted((PS / "librivox").glob("*.wav"))]),
        "cards": np.concatenate([_read(p) for p in sorted((PS / "cards").glob("*.wav"))]),
        "two_cities": _read(_moonshine("two_cities.wav")),
        "beckett": _read(_moonshine("beckett.wav")),
        "clone": _read(_moonshine("clone-test.wav")),
    }
    for voice in ("en-us", "en+f3", "en-gb+m3", "en-us+f4"):
        out[f"espeak:{voice}"] = _espeak(voice)
    return out


def auc_eer(same: list[float], diff: list[float]) -> tuple[float, float]:
    s, d = np.array(same), np.array(diff)
    auc = float((s[:, None] > d[None, :]).mean() + 0.5 * (s[:, None] == d[None, :]).mean())
    best = 1.0
    for t in np.unique(np.concatenate([s, d])):
        far, frr = float((d >= t).mean()), float((s < t).mean())
        best = min(best, max(far, frr))
    return auc, best


def scores(embedder: SpeakerEmbedder, audio: dict[str, np.ndarray], *, real_only: bool, phone: bool):
    embs: list[tuple[str, np.ndarray]] = []
    for name, x in audio.items():
        if real_only and name.startswith("espeak"):
            continue
        for c in _chunks(_phone(x) if phone else x)[:12]:
            embs.append((name, embedder.embed(c)))
    same: list[float] = []
    diff: list[float] = []
    for (a, ea), (b, eb) in itertools.combinations(embs, 2):
        (same if a == b else diff).append(float(ea @ eb))
    return same, diff


def verification_figures() -> str:
    """One line: AUC / EER per condition."""
    embedder = SpeakerEmbedder()
    audio = speakers()
    parts = []
    for label, real_only, phone in (
        ("real", True, False),
        ("real phone-band", True, True),
        ("all", False, False),
    ):
        same, diff = scores(embedder, audio, real_only=real_only, phone=phone)
        auc, eer = auc_eer(same, diff)
        parts.append(
            f"{label}: AUC {auc:.3f} EER {eer:.3f} (same {np.mean(same):.2f}, different {np.mean(diff):.2f})"
        )
    return "1.5 s clips, " + "; ".join(parts)


if __name__ == "__main__":
    print(verification_figures())
