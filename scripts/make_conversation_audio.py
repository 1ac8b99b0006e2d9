"""Synthesize realistic two-voice sales calls (espeak-ng) with their ground truth.

Unlike the demo call (a clean 0.7 s between turns, one speaker per channel), these calls sound
like a phone line: the two voices answer each other 0.1-0.3 s apart, sometimes overlap, the
listener says "mm-hm" while the other talks, and the mix goes through a telephone band
(300-3400 Hz, 8 kHz) with background noise at a set SNR. Variants:

  mono         one channel, telephone band, 8 kHz: what a phone recording or one mic gives
  stereo       16 kHz, rep on channel 0, customer on channel 1 (the browser's mic + tab audio)
  stereo_echo  stereo, and the customer's voice also leaks into the rep's mic, attenuated and
               delayed 20-60 ms as through laptop speakers (the browser's echo cancellation
               does not remove another tab's audio)

Ground truth (JSON beside the WAV): per turn `speaker` (rep/customer), `text`, `start`, `end`
(seconds of the call), `channel` (stereo) and `backchannel` (a short "mm-hm" over the other).

Deterministic for a seed (espeak-ng is deterministic; noise, gaps and rates come from the
seed) and fast (about a second): tests and benchmarks import it and synthesize on the fly.

Run: .venv/bin/python scripts/make_conversation_audio.py --out /tmp/calls [--seed 0] [--snr 20]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import re
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

RATE = 16000
PHONE_RATE = 8000
F32 = npt.NDArray[np.float32]
# a US male and a US female voice: the CAM++ speaker model tells these apart (attribution 0.88
# in bench/speakers.py); en-gb+f4 sounds nearly like en-us+m3 to it (0.49), see "close" there
VOICES = {"rep": "en-us+m3", "customer": "en+f3"}
SPEAKERS = ("rep", "customer")
BACKCHANNELS = ("Mm-hm.", "Right.", "Okay.", "Yeah.")

# Turns of several sentences, spoken without the pauses a VAD endpointer waits for
SALES_CALL: tuple[tuple[str, str], ...] = (
    ("rep", "Hi Dana, this is Sam from Relay. Thanks for taking the time to talk with me today."),
    ("customer", "Sure, happy to. We are looking at new phone systems for our support team of forty agents."),
    ("rep", "Great. What made you start looking now? Is something not working with the current setup?"),
    (
        "customer",
        "Our calls drop a few times a day and the reporting is weak. "
        "My managers export everything to spreadsheets every week.",
    ),
    ("rep", "That sounds painful. How do you track customer history today?"),
    ("customer", "We use HubSpot for that. Do you integrate with HubSpot?"),
    ("rep", "Yes, we have a native HubSpot integration. Calls and notes show up on the contact record."),
    ("customer", "Good. Honestly, the price seems high compared to what we pay now."),
    ("rep", "I understand. What budget did you have in mind for this year?"),
    ("customer", "Around thirty dollars per seat. We are also talking to Aircall."),
    ("rep", "That is fair. Most teams are live in about two weeks, and we include training."),
    ("customer", "I would need to check with my vice president before we sign anything."),
    ("rep", "Of course. Would a pilot for your team help with that conversation?"),
    ("customer", "Yes, that would help. Please send me a proposal by Friday."),
)


@dataclass(frozen=True)
class Turn:
    """One stretch of one speaker's speech in the call (seconds of call audio)."""

    speaker: str
    text: str
    start: float
    end: float
    channel: int = 0
    backchannel: bool = False
    sentence_ends: tuple[float, ...] = ()  # where each sentence of the turn ends


@dataclass(frozen=True)
class Conversation:
    """A synthesized call: audio shaped (frames, channels) at `rate`, and its ground truth."""

    audio: F32
    rate: int
    turns: tuple[Turn, ...]

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / self.rate


@functools.cache
def synth(text: str, voice: str, wpm: int) -> F32:
    """espeak-ng -> float32 mono at 16 kHz, trimmed to the speech, peak 0.5."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", text], check=True, capture_output=True
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    x = soxr.resample(x, rate, RATE).astype(np.float32)
    loud = np.flatnonzero(np.abs(x) > 0.02)
    x = x[loud[0] : loud[-1] + 1] if loud.size else x
    peak = float(np.max(np.abs(x))) or 1.0
    return (0.5 * x / peak).astype(np.float32)


def band(x: F32, rate: int, low: float, high: float, *, edge: float = 100.0) -> F32:
    """Band-pass by FFT with raised-cosine edges `edge` Hz wide (offline: whole signal)."""
    n = x.shape[0]
    spec = np.fft.rfft(x, axis=0)
    f = np.fft.rfftfreq(n, 1 / rate)
    gain = np.ones_like(f)
    lo = np.clip((f - (low - edge)) / edge, 0, 1)
    hi = np.clip(((high + edge) - f) / edge, 0, 1)
    gain *= 0.5 - 0.5 * np.cos(np.pi * lo)
    gain *= 0.5 - 0.5 * np.cos(np.pi * hi)
    shaped = spec * (gain[:, None] if spec.ndim == 2 else gain)
    return np.fft.irfft(shaped, n=n, axis=0).astype(np.float32)


def place_turns(
    script: Sequence[tuple[str, str]],
    *,
    seed: int = 0,
    gap: tuple[float, float] = (0.1, 0.3),
    overlap_share: float = 0.2,
    overlap: tuple[float, float] = (0.1, 0.3),
    backchannels: bool = True,
    lead: float = 0.5,
    tail: float = 1.0,
    voices: dict[str, str] | None = None,
) -> tuple[dict[str, F32], tuple[Turn, ...]]:
    """Lay the script out in time: one 16 kHz track per speaker and the turns' truth.

    Each turn starts `gap` seconds after the previous one ends, or (with probability
    `overlap_share`) `overlap` seconds before it does. During a long turn the listener may say a
    backchannel that overlaps it."""
    rng = np.random.default_rng(seed)
    voices = voices or VOICES
    placed: list[tuple[Turn, F32]] = []
    t = lead
    for i, (speaker, text) in enumerate(script):
        wpm = int(rng.integers(150, 176))
        clip, ends = _sentences(text, voices[speaker], wpm, rng)
        if i > 0:
            if rng.random() < overlap_share:
                t -= float(rng.uniform(*overlap))
            else:
                t += float(rng.uniform(*gap))
        start = round(t, 3)
        end = round(start + clip.shape[0] / RATE, 3)
        sentence_ends = tuple(round(start + e, 3) for e in ends)
        placed.append((Turn(speaker, text, start, end, sentence_ends=sentence_ends), clip))
        t = end
        if backchannels and clip.shape[0] > 4 * RATE and rng.random() < 0.6:
            other = SPEAKERS[1 - SPEAKERS.index(speaker)] if speaker in SPEAKERS else speaker
            word = str(rng.choice(BACKCHANNELS))
            bc = synth(word, voices[other], 170)
            at = round(start + float(rng.uniform(0.4, 0.6)) * (end - start), 3)
            bc_end = round(at + bc.shape[0] / RATE, 3)
            placed.append((Turn(other, word, at, bc_end, backchannel=True, sentence_ends=(bc_end,)), bc))
    total = int((t + tail) * RATE)
    tracks = {s: np.zeros(total, dtype=np.float32) for s in voices}
    for turn, clip in placed:
        i = int(turn.start * RATE)
        tracks[turn.speaker][i : i + clip.shape[0]] += clip[: total - i]
    turns = tuple(sorted((turn for turn, _ in placed), key=lambda x: x.start))
    return tracks, turns


def _sentences(text: str, voice: str, wpm: int, rng: np.random.Generator) -> tuple[F32, list[float]]:
    """A turn sentence by sentence, 0.08-0.2 s apart (espeak's own ~0.4 s sentence pause is
    longer than people leave inside a turn); returns the audio and each sentence's end (s)."""
    parts = [p for p in re.split(r"(?<=[.?!])\s+", text.strip()) if p]
    out: list[F32] = []
    ends: list[float] = []
    n = 0
    for k, part in enumerate(parts):
        if k:
            pause = np.zeros(int(float(rng.uniform(0.08, 0.2)) * RATE), dtype=np.float32)
            out.append(pause)
            n += pause.shape[0]
        clip = synth(part, voice, wpm)
        out.append(clip)
        n += clip.shape[0]
        ends.append(n / RATE)
    return np.concatenate(out), ends


def _noise(rng: np.random.Generator, n: int, channels: int) -> F32:
    return rng.standard_normal((n, channels)).astype(np.float32)


def _at_snr(speech: F32, noise: F32, snr_db: float) -> F32:
    """Scale `noise` so the speech's power (where it is loud) over the noise's is `snr_db`."""
    active = speech[np.abs(speech) > 0.01]
    p_speech = float(np.mean(active**2)) if active.size else 1e-4
    p_noise = float(np.mean(noise**2)) or 1.0
    return (noise * np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))).astype(np.float32)


def telephone(mono: F32, *, snr_db: float, rng: np.random.Generator) -> F32:
    """16 kHz mono -> 8 kHz telephone band with band-limited noise at `snr_db`."""
    x = band(mono, RATE, 300, 3400)
    x = soxr.resample(x, RATE, PHONE_RATE).astype(np.float32)
    noise = band(_noise(rng, x.shape[0], 1)[:, 0], PHONE_RATE, 300, 3400)
    return x + _at_snr(x, noise, snr_db)


def mono_call(
    script: Sequence[tuple[str, str]] = SALES_CALL,
    *,
    seed: int = 0,
    snr_db: float = 20.0,
    wideband: bool = False,
    **layout: object,
) -> Conversation:
    """Both voices on one channel, noise at `snr_db`: telephone band at 8 kHz, or with
    `wideband` the 100-7000 Hz of VoIP / HD voice at 16 kHz. (espeak-ng's voices lose much
    more than real ones in the telephone band: tiny.en decodes them alone at about 55% WER
    there, 25% wideband, where real readers lose little; see README "Speech test sets".)"""
    tracks, turns = place_turns(script, seed=seed, **layout)  # type: ignore[arg-type]
    mix = sum(tracks.values())
    assert isinstance(mix, np.ndarray)
    rng = np.random.default_rng(seed + 1)
    if wideband:
        x = band(mix.astype(np.float32), RATE, 100, 7000)
        noise = band(_noise(rng, x.shape[0], 1)[:, 0], RATE, 100, 7000)
        return Conversation(_peak((x + _at_snr(x, noise, snr_db))[:, None]), RATE, turns)
    out = telephone(mix.astype(np.float32), snr_db=snr_db, rng=rng)
    return Conversation(_peak(out[:, None]), PHONE_RATE, turns)


def stereo_call(
    script: Sequence[tuple[str, str]] = SALES_CALL,
    *,
    seed: int = 0,
    snr_db: float = 30.0,
    echo: bool = False,
    echo_delay_ms: tuple[float, float] = (20.0, 60.0),
    echo_gain_db: float = -12.0,
    **layout: object,
) -> Conversation:
    """Rep on channel 0, customer on channel 1, 16 kHz. With `echo`, channel 0 also carries the
    customer through the rep's laptop speakers: band-limited (small speakers), delayed, softer,
    with a short room reflection. The truth's `channel` is where each turn is meant to be."""
    tracks, turns = place_turns(script, seed=seed, **layout)  # type: ignore[arg-type]
    rng = np.random.default_rng(seed + 2)
    rep, cust = tracks["rep"], tracks["customer"]
    mic = rep.copy()
    if echo:
        delay = int(float(rng.uniform(*echo_delay_ms)) * RATE / 1000)
        leak = band(cust, RATE, 250, 6000) * 10 ** (echo_gain_db / 20)
        room = int(0.011 * RATE)  # one reflection ~11 ms later, 8 dB down
        mic[delay:] += leak[: mic.shape[0] - delay]
        mic[delay + room :] += 0.4 * leak[: mic.shape[0] - delay - room]
    audio = np.stack([mic, cust], axis=1).astype(np.float32)
    audio += _at_snr(audio, _noise(rng, audio.shape[0], 2), snr_db)
    turns = tuple(replace(t, channel=SPEAKERS.index(t.speaker)) for t in turns)
    return Conversation(_peak(audio), RATE, turns)


def _peak(x: F32, peak: float = 0.7) -> F32:
    m = float(np.max(np.abs(x))) or 1.0
    return (x * (peak / m)).astype(np.float32)


def write(conv: Conversation, wav_path: Path) -> Path:
    """Write the call as 16-bit PCM WAV and its truth as JSON beside it (same stem)."""
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(conv.audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(conv.audio.shape[1])
        w.setsampwidth(2)
        w.setframerate(conv.rate)
        w.writeframes(pcm.tobytes())
    truth = {"rate": conv.rate, "channels": conv.audio.shape[1], "turns": [asdict(t) for t in conv.turns]}
    wav_path.with_suffix(".json").write_text(json.dumps(truth, indent=1) + "\n")
    return wav_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="directory for the WAV and JSON files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--snr", type=float, default=20.0, help="SNR of the telephone call, dB")
    args = ap.parse_args()
    calls = {
        "call_mono": mono_call(seed=args.seed, snr_db=args.snr),
        "call_mono_wideband": mono_call(seed=args.seed, snr_db=args.snr, wideband=True),
        "call_stereo": stereo_call(seed=args.seed),
        "call_stereo_echo": stereo_call(seed=args.seed, echo=True),
    }
    for name, conv in calls.items():
        path = write(conv, args.out / f"{name}.wav")
        print(f"{path}: {conv.duration:.1f} s, {conv.audio.shape[1]} channel(s), {len(conv.turns)} turns")


if __name__ == "__main__":
    main()
