"""Synthesize the demo call and the audio test fixtures with espeak-ng.

Outputs (committed, so nothing is synthesized at run time):
  src/wingman/data/demo/sample_call.wav   16 kHz s16 stereo: rep on channel 0, customer on 1
  src/wingman/data/demo/sample_call.json  each utterance's speaker, channel, text, start, end (s)
                                          and its sentences' text, start, end (s)
  tests/fixtures/audio/two_sentences_16k.wav   mono 16 kHz, two sentences
  tests/fixtures/audio/two_sentences_44k1.wav  the same speech at 44.1 kHz (resampler tests)
  tests/fixtures/audio/two_sentences.txt       its reference text

Run: .venv/bin/python scripts/make_demo_audio.py  (needs Debian's espeak-ng; soxr from the venv)
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "src" / "wingman" / "data" / "demo"
FIXTURES = ROOT / "tests" / "fixtures" / "audio"
RATE = 16000
WPM = 155
WORD_GAP = 0  # espeak-ng -g: extra pause between words, in 10 ms units
GAP_S = 0.7  # silence between turns
SAME_SPEAKER_GAP_S = 1.0  # utterances 12 and 13: one speaker, two sentences, a clear pause
# pause between sentences inside one turn (espeak's own is ~0.4 s, longer than the endpointer's
# silence, which would split every turn; people pause less mid-turn)
SENTENCE_GAP_S = 0.25
LEAD_S = 0.8
TAIL_S = 1.2
VOICES = {"rep": "en-us+m8", "customer": "en-us+f3"}  # male and female variants of US English
CHANNELS = {"rep": 0, "customer": 1}
NOISE_STD = 3e-4  # about -70 dBFS: a quiet line, never digital silence

CALL: list[tuple[str, str]] = [
    ("rep", "Hi Dana, thanks for making time today. I'm Sam from Relay."),
    (
        "customer",
        "Thanks Sam. We're evaluating a few phone systems for our support team of forty agents.",
    ),
    ("rep", "Great. What made you start looking now?"),
    (
        "customer",
        "Our current setup drops calls and the reporting is weak. We're also talking to Aircall.",
    ),
    ("rep", "Understood. What matters most to you in the decision?"),
    ("customer", "Honestly, your price seems high. It's more than we budgeted for this year."),
    ("rep", "That's fair. Can I ask what budget you had in mind?"),
    ("customer", "Around thirty dollars per seat. Does Relay integrate with Salesforce?"),
    ("rep", "Yes, we have a native Salesforce integration."),
    ("customer", "How long does implementation usually take?"),
    ("rep", "Most teams are live in about two weeks."),
    ("customer", "I would also need to check with my VP before we sign anything."),
    ("customer", "Is your platform SOC 2 compliant?"),
    ("rep", "Yes, we are SOC 2 Type 2 certified."),
    ("customer", "This sounds promising. What would the next steps look like?"),
    ("rep", "I will send a proposal on Friday and set up a pilot for your team."),
]

# What the demo user's vocabulary gives the speech engine (company, product, competitors, terms)
VOCABULARY = ["Relay", "Aircall", "Dialpad", "RingCentral", "Salesforce", "HubSpot", "Gong", "SOC 2"]

FIXTURE_TEXT = "The quarterly report is ready for review. Please send it to the whole team by Friday."


def synth(text: str, voice: str, rate: int) -> np.ndarray:
    """espeak-ng -> float32 mono at `rate`, trimmed to the speech, peak-normalized."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(WPM), "-g", str(WORD_GAP), "--stdout", text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        src_rate = w.getframerate()
        raw = w.readframes(w.getnframes())
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    x = soxr.resample(x, src_rate, rate, quality="VHQ").astype(np.float32)
    loud = np.flatnonzero(np.abs(x) > 0.01 * float(np.max(np.abs(x))))
    x = x[loud[0] : loud[-1] + 1]
    return (x * (0.6 / float(np.max(np.abs(x))))).astype(np.float32)


def synth_turn(text: str, voice: str, rate: int) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """One speaker's turn: its sentences synthesized apart, joined by a short pause; returns
    the audio and each sentence's (text, first sample, sample after its last) in it."""
    sentences = [p for p in re.split(r"(?<=[.?!])\s+", text) if p]
    pause = np.zeros(round(SENTENCE_GAP_S * rate), dtype=np.float32)
    parts: list[np.ndarray] = []
    spans: list[tuple[str, int, int]] = []
    n = 0
    for i, sentence in enumerate(sentences):
        if i:
            parts.append(pause)
            n += len(pause)
        clip = synth(sentence, voice, rate)
        parts.append(clip)
        spans.append((sentence, n, n + len(clip)))
        n += len(clip)
    return np.concatenate(parts), spans


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    """float32 (frames, channels) -> s16 little-endian WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if pcm.ndim == 1:
        pcm = pcm[:, None]
    s16 = np.clip(np.round(pcm * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(s16.tobytes())


def make_call() -> None:
    turns = [synth_turn(text, VOICES[who], RATE) for who, text in CALL]
    t = LEAD_S
    placed: list[tuple[int, float, np.ndarray]] = []
    script = []
    for i, ((who, text), (clip, spans)) in enumerate(zip(CALL, turns, strict=True), start=1):
        if i > 1:
            t += SAME_SPEAKER_GAP_S if CALL[i - 2][0] == who else GAP_S
        start = round(t * RATE)
        placed.append((CHANNELS[who], start, clip))
        script.append(
            {
                "index": i,
                "speaker": who,
                "channel": CHANNELS[who],
                "text": text,
                "start": round(start / RATE, 3),
                "end": round((start + len(clip)) / RATE, 3),
                "sentences": [
                    {
                        "text": sentence,
                        "start": round((start + a) / RATE, 3),
                        "end": round((start + b) / RATE, 3),
                    }
                    for sentence, a, b in spans
                ],
            }
        )
        t = (start + len(clip)) / RATE
    total = round((t + TAIL_S) * RATE)
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal((total, 2)) * NOISE_STD).astype(np.float32)
    for ch, start, clip in placed:
        pcm[start : start + len(clip), ch] += clip
    write_wav(DEMO_DIR / "sample_call.wav", pcm, RATE)
    meta = {
        "sample_rate": RATE,
        "channels": {"0": "rep", "1": "customer"},
        "voices": VOICES,
        "words_per_minute": WPM,
        "duration": round(total / RATE, 3),
        "vocabulary": VOCABULARY,
        "utterances": script,
    }
    (DEMO_DIR / "sample_call.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"sample_call.wav: {total / RATE:.1f} s, {len(script)} utterances")


def make_fixtures() -> None:
    rng = np.random.default_rng(11)
    for rate, name in ((RATE, "two_sentences_16k.wav"), (44100, "two_sentences_44k1.wav")):
        clip, _ = synth_turn(FIXTURE_TEXT, "en-us", rate)
        pad = np.zeros(int(0.5 * rate), dtype=np.float32)
        x = np.concatenate([pad, clip, pad])
        x += (rng.standard_normal(len(x)) * NOISE_STD).astype(np.float32)
        write_wav(FIXTURES / name, x, rate)
    (FIXTURES / "two_sentences.txt").write_text(FIXTURE_TEXT + "\n")
    print("fixtures written to", FIXTURES.relative_to(ROOT))


if __name__ == "__main__":
    make_call()
    make_fixtures()
