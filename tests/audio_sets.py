"""The speech audio sets the tests and benchmarks share, each with its ground truth.

- `synthetic_call()`: two espeak-ng voices on ONE channel, telephone band (8 kHz), turns
  0.1-0.3 s apart with overlaps and backchannels, noise at 20 dB SNR
  (scripts/make_conversation_audio.py); `synthetic_stereo(echo=...)` the same call on two
  channels, optionally with the customer leaking into the rep's mic.
- `demo_call_set()`: the stereo demo call (src/wingman/data/demo/sample_call.wav).
- Real human speech: `librivox_clips()` (Debian pocketsphinx-testdata: five LibriVox clips of
  Sense and Sensibility with their transcripts) and `two_cities()` (the moonshine-voice wheel's
  two_cities.wav: a reading of the whole first paragraph of A Tale of Two Cities, 44 s).
- `real_phone_call()`: "real phone speech": those two real readers answering each other on one
  channel, 0.1-0.3 s apart, telephone band, with the turns' truth.

A set is an `AudioSet`: audio (frames, channels) float32 at `rate`, and `Turn`s (speaker, text,
start, end, channel). `normalize()` makes texts comparable for WER (case, punctuation, numbers).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import soxr

from wingman.audio.pcm import read_wav
from wingman.settings import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
F32 = npt.NDArray[np.float32]
RATE = 16000
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
DEMO_WAV = DATA_DIR / "demo" / "sample_call.wav"
DEMO_SCRIPT = DATA_DIR / "demo" / "sample_call.json"


def _load_generator() -> ModuleType:
    """scripts/make_conversation_audio.py as a module (scripts/ is not a package)."""
    name = "make_conversation_audio"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


conversation = _load_generator()
Turn = conversation.Turn


@dataclass(frozen=True)
class AudioSet:
    """A recording and its truth. `turns` are sorted by start."""

    name: str
    audio: F32  # (frames, channels)
    rate: int
    turns: tuple[Turn, ...]

    @property
    def channels(self) -> int:
        return int(self.audio.shape[1])

    @property
    def duration(self) -> float:
        return self.audio.shape[0] / self.rate

    @property
    def spoken(self) -> tuple[Turn, ...]:
        """The turns that carry the conversation (backchannels left out: a transcript may or may
        not keep an "mm-hm" under the other voice, and WER should not hinge on it)."""
        return tuple(t for t in self.turns if not t.backchannel)

    def reference(self, channel: int | None = None) -> str:
        """The spoken text in time order (of one channel, if given)."""
        return " ".join(t.text for t in self.spoken if channel is None or t.channel == channel)

    def turn_audio(self, turn: Turn, *, pad: float = 0.15) -> F32:
        """One turn's audio, alone as far as the recording allows (its channel; on one channel
        an overlapping voice stays in), 16 kHz mono: the input of an utterance decoded alone."""
        lo = max(int((turn.start - pad) * self.rate), 0)
        hi = min(int((turn.end + pad) * self.rate), self.audio.shape[0])
        x = np.ascontiguousarray(self.audio[lo:hi, turn.channel if self.channels > 1 else 0])
        return x if self.rate == RATE else soxr.resample(x, self.rate, RATE).astype(np.float32)


def at16k(s: AudioSet) -> AudioSet:
    """The set at 16 kHz, as the pipeline resamples every call before speech and speakers."""
    if s.rate == RATE:
        return s
    x = soxr.resample(np.ascontiguousarray(s.audio), s.rate, RATE).astype(np.float32)
    return AudioSet(s.name, x.reshape(-1, s.channels), RATE, s.turns)


# -- number words, so "$30" and "thirty dollars" compare equal
_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + _number_words(rest))
    return str(n)


def normalize(text: str) -> str:
    """Lower case, no punctuation, numbers as words, a few spellings unified."""
    text = text.lower()
    text = re.sub(r"\$(\d+)", r"\1 dollars", text)
    text = re.sub(r"\bsoc ?2\b", "soc two", text)
    text = re.sub(r"\bmm-?hmm?\b|\bmhm\b|\bmm hmm\b", "mm hm", text)
    text = re.sub(r"(\d+)%", r"\1 percent", text)
    text = re.sub(r"\b(\d{1,3})\b", lambda m: _number_words(int(m.group(1))), text)
    text = text.replace("-", " ")
    return " ".join(re.sub(r"[^\w\s']", " ", text).split())


# -- synthetic sets
@functools.cache
def synthetic_call(seed: int = 0, snr_db: float = 20.0, wideband: bool = False) -> AudioSet:
    """Two espeak-ng voices on one channel: telephone band, or 16 kHz VoIP with `wideband`."""
    conv = conversation.mono_call(seed=seed, snr_db=snr_db, wideband=wideband)
    kind = "wideband" if wideband else "phone"
    return AudioSet(f"synthetic_mono_{kind}_s{seed}", conv.audio, conv.rate, conv.turns)


@functools.cache
def synthetic_stereo(seed: int = 0, echo: bool = False) -> AudioSet:
    """The synthetic call on two channels (rep 0, customer 1), with the customer's echo on the
    rep's mic when `echo`."""
    conv = conversation.stereo_call(seed=seed, echo=echo)
    return AudioSet(f"synthetic_stereo{'_echo' if echo else ''}_s{seed}", conv.audio, conv.rate, conv.turns)


@functools.cache
def demo_call_set() -> AudioSet:
    """The stereo demo call and its script."""
    pcm, rate = read_wav(DEMO_WAV)
    script = json.loads(DEMO_SCRIPT.read_text())
    turns = tuple(
        Turn(u["speaker"], u["text"], u["start"], u["end"], channel=u["channel"], sentence_ends=(u["end"],))
        for u in script["utterances"]
    )
    return AudioSet("demo_stereo", pcm, rate, tuple(sorted(turns, key=lambda t: t.start)))


@functools.cache
def demo_one_channel(*, phone: bool = False) -> AudioSet:
    """The demo call mixed onto one channel (16 kHz, as one microphone hears both voices); with
    `phone`, that channel in the telephone band too (8 kHz, 300-3400 Hz, noise at 20 dB SNR), as
    scripts/make_conversation_audio.py makes its phone calls."""
    demo = demo_call_set()
    mono = demo.audio.sum(axis=1).astype(np.float32)
    turns = tuple(
        Turn(t.speaker, t.text, t.start, t.end, channel=0, sentence_ends=t.sentence_ends) for t in demo.turns
    )
    if phone:
        line = conversation.telephone(mono, snr_db=20.0, rng=np.random.default_rng(0))
        return AudioSet("demo_phone", line[:, None], conversation.PHONE_RATE, turns)
    return AudioSet("demo_mono", mono[:, None], demo.rate, turns)


# -- real human speech
def _need(path: Path, how: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: {how}")
    return path


def _trim(x: F32, *, threshold: float = 0.02, keep: float = 0.05) -> tuple[F32, int]:
    """Cut leading and trailing quiet; returns the audio and the offset of its first sample."""
    frame = RATE // 100
    n = x.shape[0] // frame
    level = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    peak = float(level.max()) if n else 0.0
    loud = np.flatnonzero(level > threshold * max(peak, 1e-6) * 5)
    if not loud.size:
        return x, 0
    lo = max(loud[0] * frame - int(keep * RATE), 0)
    hi = min((loud[-1] + 1) * frame + int(keep * RATE), x.shape[0])
    return x[lo:hi], lo


@functools.cache
def librivox_clips() -> tuple[tuple[str, F32, str], ...]:
    """(id, 16 kHz mono audio trimmed to the speech, transcript) of the LibriVox clips in
    pocketsphinx-testdata: one reader, Sense and Sensibility chapter 1, 3-7 s each."""
    base = _need(POCKETSPHINX / "librivox", "apt-get install pocketsphinx-testdata (scripts/services.sh)")
    out = []
    for line in (base / "transcription").read_text().splitlines():
        m = re.match(r"<s>(.*)</s>\s*\((.+)\)", line.strip())
        if not m:
            continue
        text, clip_id = " ".join(m.group(1).split()), m.group(2)
        text = text.replace("a amiable", "amiable")  # the transcript keeps a false start the reader fixes
        pcm, rate = read_wav(base / f"{clip_id}.wav")
        audio, _ = _trim(np.ascontiguousarray(pcm[:, 0]))
        out.append((clip_id, audio, text[0].upper() + text[1:] + "."))
    return tuple(out)


# The first paragraph of A Tale of Two Cities (Dickens, 1859; public domain), which
# two_cities.wav reads in full, cut at the reader's pauses: (start s, end s, text)
TWO_CITIES = (
    (1.0, 4.75, "It was the best of times, it was the worst of times,"),
    (4.85, 8.45, "it was the age of wisdom, it was the age of foolishness,"),
    (8.65, 12.98, "it was the epoch of belief, it was the epoch of incredulity,"),
    (13.3, 16.9, "it was the season of Light, it was the season of Darkness,"),
    (17.4, 20.65, "it was the spring of hope, it was the winter of despair,"),
    (21.05, 24.25, "we had everything before us, we had nothing before us,"),
    (24.45, 26.3, "we were all going direct to Heaven,"),
    (26.35, 28.6, "we were all going direct the other way,"),
    (
        28.9,
        41.9,
        "in short, the period was so far like the present period, that some of its noisiest "
        "authorities insisted on its being received, for good or for evil, in the superlative "
        "degree of comparison only.",
    ),
)


@functools.cache
def two_cities() -> tuple[F32, str]:
    """two_cities.wav (moonshine-voice wheel) at 16 kHz mono, and its text."""
    spec = importlib.util.find_spec("moonshine_voice")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("two_cities.wav needs the moonshine-voice package (a dev dependency)")
    wav = _need(Path(spec.origin).parent / "assets" / "two_cities.wav", "reinstall moonshine-voice")
    pcm, rate = read_wav(wav)
    audio = soxr.resample(np.ascontiguousarray(pcm[:, 0]), rate, RATE).astype(np.float32)
    return audio, " ".join(text for _, _, text in TWO_CITIES)


def two_cities_set() -> AudioSet:
    """two_cities.wav as a set: one reader, 44 s of continuous reading, one clause per turn."""
    audio, _ = two_cities()
    turns = tuple(Turn("reader", text, s, e, sentence_ends=(e,)) for s, e, text in TWO_CITIES)
    return AudioSet("two_cities", audio[:, None], RATE, turns)


@functools.cache
def real_phone_call(seed: int = 0, snr_db: float = 25.0) -> AudioSet:
    """Two real readers on one telephone channel taking turns 0.1-0.3 s apart: the two_cities
    reader ("rep", clause by clause) and the LibriVox reader ("customer", clip by clip)."""
    rng = np.random.default_rng(seed)
    audio, _ = two_cities()
    rep = []
    for s, e, text in TWO_CITIES:
        piece, _ = _trim(audio[int(s * RATE) : int(e * RATE)])
        rep.append(("rep", piece, text))
    customer = [("customer", clip, text) for _, clip, text in librivox_clips()]
    order = []
    for i in range(max(len(rep), len(customer))):
        order += rep[i : i + 1] + customer[i : i + 1]
    parts: list[F32] = [np.zeros(int(0.5 * RATE), dtype=np.float32)]
    turns = []
    t = 0.5
    for k, (speaker, clip, text) in enumerate(order):
        if k:
            gap = float(rng.uniform(0.1, 0.3))
            parts.append(np.zeros(int(gap * RATE), dtype=np.float32))
            t += int(gap * RATE) / RATE
        clip = clip / max(float(np.max(np.abs(clip))), 1e-6) * 0.5
        parts.append(clip.astype(np.float32))
        end = t + clip.shape[0] / RATE
        turns.append(Turn(speaker, text, round(t, 3), round(end, 3), sentence_ends=(round(end, 3),)))
        t = end
    parts.append(np.zeros(RATE, dtype=np.float32))
    mix = np.concatenate(parts)
    phone = conversation.telephone(mix, snr_db=snr_db, rng=np.random.default_rng(seed + 1))
    phone = (phone * (0.7 / max(float(np.max(np.abs(phone))), 1e-6))).astype(np.float32)
    return AudioSet(f"real_phone_s{seed}", phone[:, None], conversation.PHONE_RATE, tuple(turns))
