"""Live diarization of one channel: speech detection, speaker-change detection and online
clustering of speaker embeddings. Pure code (numpy); the embedding function is injected, so
tests script it and production hands in `SpeakerEmbedder.embed`.

How it works, per call:
- Speech: 10 ms frames whose energy is 12 dB over the channel's noise floor (a running low
  percentile), so a window's embedding is computed from speech only, never from hiss.
- Windows: every `hop` (0.5 s) the last `window` (1 s) of audio is embedded if it holds at
  least 0.4 s of speech. About two embeddings a second: a few percent of one core.
- Clustering: a window goes to the nearest speaker (cosine to a running centroid) when it is
  similar enough. A new speaker is opened only after `confirm` windows in a row that match no
  one and match each other: one voice is not split in two by a noisy window or a cough.
- Change points: where two neighbouring windows belong to different speakers, the change is
  put at the longest pause between them (turns are 0.1-0.3 s apart in real talk), or, with no
  pause, the half-window they share goes to the speaker whose centroid it is closer to.
- Roles: speaker 0 is the rep: seeded from the rep's enrolled voiceprint when there is one,
  else the first voice heard. Every other speaker is "customer".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wingman.speakers.embedder import normalize

F32 = npt.NDArray[np.float32]
Embed = Callable[[F32], F32]

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms
REP = "rep"
CUSTOMER = "customer"
UNLABELLED = -1
FLOOR_FRAMES = 1000  # the noise floor is the 10th percentile of the last 10 s


@dataclass(frozen=True)
class DiarizerParams:
    """Tuned on espeak-ng calls and real readers (bench/speakers.py); cosine thresholds."""

    window_s: float = 1.0
    hop_s: float = 0.5
    min_speech_s: float = 0.4  # a window with less speech is not embedded
    assign: float = 0.45  # a window this close to a centroid belongs to it
    confirm: int = 2  # windows in a row that open a new speaker
    max_speakers: int = 4
    centroid_memory: int = 30  # windows a centroid averages over (it follows slow drift)
    floor_db: float = 12.0  # speech: this far over the noise floor
    min_pause_s: float = 0.08  # a change is moved to a pause at least this long
    keep_s: float = 120.0  # labels older than this are forgotten (finals never look back that far)


@dataclass
class _Speaker:
    centroid: F32
    count: int


@dataclass
class _Window:
    start: int  # frame index (10 ms) of its first frame
    end: int
    emb: F32
    speaker: int = UNLABELLED


@dataclass
class OnlineDiarizer:
    """One channel of one call. `push` from one thread at a time; labels from any thread."""

    embed: Embed
    rep_print: F32 | None = None
    params: DiarizerParams = field(default_factory=DiarizerParams)

    def __post_init__(self) -> None:
        p = self.params
        self._win = int(p.window_s * SAMPLE_RATE) // FRAME
        self._hop = int(p.hop_s * SAMPLE_RATE) // FRAME
        self._lock = threading.Lock()
        self._audio = np.zeros(0, dtype=np.float32)  # the last window of samples
        self._audio_start = 0  # sample index of _audio[0]
        self._pos = 0  # samples pushed
        self._energy = np.zeros(0, dtype=np.float32)  # log energy of the last FLOOR_FRAMES frames
        self._frames = 0  # whole frames seen
        self._speech = np.zeros(0, dtype=bool)
        self._labels = np.zeros(0, dtype=np.int16)
        self._frame0 = 0  # frame index of _labels[0] and _speech[0] (old frames dropped)
        self._next_hop = self._win
        self._speakers: list[_Speaker] = []
        self._pending: list[_Window] = []
        self._last: _Window | None = None
        self.embeddings = 0  # how many windows were embedded (for the CPU figures)
        if self.rep_print is not None:
            self._speakers.append(_Speaker(normalize(self.rep_print), self.params.centroid_memory))

    # -- input
    @property
    def position(self) -> float:
        """Seconds of audio taken so far."""
        return self._pos / SAMPLE_RATE

    def push(self, samples: F32) -> None:
        """Take the next mono 16 kHz samples; embeds and labels every hop they complete."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._audio = np.concatenate([self._audio, x])
        self._pos += x.shape[0]
        done = (self._audio_start + self._audio.shape[0]) // FRAME  # whole frames available
        first = self._frames
        if done > first:
            lo = first * FRAME - self._audio_start
            frames = self._audio[lo : lo + (done - first) * FRAME].reshape(-1, FRAME)
            self._grow(10 * np.log10(np.mean(frames**2, axis=1) + 1e-10))
        while self._next_hop <= done:
            self._window(self._next_hop - self._win, self._next_hop)
            self._next_hop += self._hop
        keep = max(0, (self._next_hop - self._win) * FRAME)  # the next window's first sample
        if keep > self._audio_start:
            self._audio = self._audio[keep - self._audio_start :]
            self._audio_start = keep

    # -- output
    @property
    def speakers(self) -> int:
        """How many voices have been told apart so far."""
        return len(self._speakers)

    def role(self, speaker: int) -> str:
        return REP if speaker == 0 else CUSTOMER

    def label_span(self, start: float, end: float) -> str | None:
        """The role that spoke most of [start, end) seconds; None before anyone is known."""
        with self._lock:
            k = self._majority(int(start * 100), max(int(end * 100), int(start * 100) + 1))
        return None if k == UNLABELLED else self.role(k)

    def label_words(self, spans: Sequence[tuple[float, float]]) -> list[str | None]:
        """One role per word (start, end seconds); a word nobody is known for takes its
        neighbour's role."""
        with self._lock:
            ks = [self._majority(int(s * 100), max(int(e * 100), int(s * 100) + 1)) for s, e in spans]
        known = [i for i, k in enumerate(ks) if k != UNLABELLED]
        if not known:
            return [None] * len(ks)
        out: list[str | None] = []
        for i, k in enumerate(ks):
            if k == UNLABELLED:
                k = ks[min(known, key=lambda j: abs(j - i))]
            out.append(self.role(k))
        return out

    # -- internals
    def _grow(self, new: npt.NDArray[np.floating]) -> None:
        """Extend the speech mask and label arrays by frames of log energy `new`."""
        add = new.shape[0]
        self._frames += add
        self._energy = np.concatenate([self._energy, new.astype(np.float32)])[-FLOOR_FRAMES:]
        floor = float(np.percentile(self._energy, 10))
        speech = (new > floor + self.params.floor_db) & (new > -60.0)
        with self._lock:
            self._speech = np.concatenate([self._speech, speech])
            self._labels = np.concatenate([self._labels, np.full(add, UNLABELLED, dtype=np.int16)])
            drop = self._speech.shape[0] - int(self.params.keep_s * 100)
            if drop > 0:
                self._speech, self._labels = self._speech[drop:], self._labels[drop:]
                self._frame0 += drop

    def _window(self, f0: int, f1: int) -> None:
        speech = self._speech[max(f0 - self._frame0, 0) : f1 - self._frame0]
        if speech.sum() * FRAME < self.params.min_speech_s * SAMPLE_RATE:
            self._flush_pending()
            self._last = None  # a gap: the next change needs no refinement against it
            return
        lo = f0 * FRAME - self._audio_start
        audio = self._audio[lo : lo + (f1 - f0) * FRAME].reshape(-1, FRAME)[speech[: (f1 - f0)]]
        win = _Window(f0, f1, normalize(self.embed(audio.reshape(-1))))
        self.embeddings += 1
        self._assign(win)

    def _assign(self, win: _Window) -> None:
        p = self.params
        if not self._speakers:
            self._speakers.append(_Speaker(win.emb.copy(), 1))
            self._label(win, 0)
            return
        sims = [float(s.centroid @ win.emb) for s in self._speakers]
        best = int(np.argmax(sims))
        if sims[best] >= p.assign or len(self._speakers) >= p.max_speakers:
            self._flush_pending()
            self._label(win, best)
            return
        # matches no one: a new voice, or an odd window of a known one
        if self._pending and float(self._pending[-1].emb @ win.emb) < p.assign:
            self._flush_pending()
        self._pending.append(win)
        if len(self._pending) >= p.confirm:
            mean = normalize(np.sum([w.emb for w in self._pending], axis=0))
            self._speakers.append(_Speaker(mean, 0))
            k = len(self._speakers) - 1
            pending, self._pending = self._pending, []
            for w in pending:
                self._label(w, k, update=False)
            self._speakers[k].count = len(pending)

    def _flush_pending(self) -> None:
        """Windows that did not open a speaker go to their nearest one after all."""
        pending, self._pending = self._pending, []
        for w in pending:
            self._label(w, int(np.argmax([float(s.centroid @ w.emb) for s in self._speakers])), update=False)

    def _label(self, win: _Window, k: int, *, update: bool = True) -> None:
        win.speaker = k
        if update:
            s = self._speakers[k]
            n = min(s.count, self.params.centroid_memory)
            s.centroid = normalize(s.centroid * n + win.emb)
            s.count += 1
        prev = self._last
        self._last = win
        with self._lock:
            lo = max(win.start - self._frame0, 0)
            hi = win.end - self._frame0
            speech = self._speech[lo:hi]
            labels = self._labels[lo:hi]
            if prev is None or prev.speaker == k or prev.end <= win.start:
                # same speaker (or no neighbour): the window's speech is theirs; frames an earlier
                # window already gave to someone else keep that label
                labels[(labels == UNLABELLED) & speech] = k
                return
            self._change(prev, win, lo, hi)

    def _change(self, prev: _Window, win: _Window, lo: int, hi: int) -> None:
        """Place the change between `prev` (another speaker) and `win`, whose frames overlap."""
        overlap = slice(lo, min(prev.end - self._frame0, hi))
        speech = self._speech
        region = speech[overlap]
        cut = _longest_pause(region, int(self.params.min_pause_s * 100))
        if cut is None:
            # no pause: the shared half-window goes to whichever centroid it sounds closer to
            a = self._speakers[prev.speaker].centroid
            b = self._speakers[win.speaker].centroid
            start = overlap.start * FRAME + self._frame0 * FRAME - self._audio_start
            shared = self._audio[max(start, 0) : max(start, 0) + region.shape[0] * FRAME]
            voiced = shared.reshape(-1, FRAME)[region[: shared.shape[0] // FRAME]].reshape(-1)
            if voiced.shape[0] >= SAMPLE_RATE // 4:
                e = normalize(self.embed(voiced))
                self.embeddings += 1
                cut = region.shape[0] if float(e @ a) >= float(e @ b) else 0
            else:
                cut = region.shape[0] // 2
        labels = self._labels
        part = labels[overlap]
        part[:cut][speech[overlap][:cut]] = prev.speaker
        part[cut:][speech[overlap][cut:]] = win.speaker
        rest = slice(overlap.stop, hi)
        labels[rest][(labels[rest] == UNLABELLED) & speech[rest]] = win.speaker

    def _majority(self, f0: int, f1: int) -> int:
        labels = self._labels[max(f0 - self._frame0, 0) : max(f1 - self._frame0, 0)]
        known = labels[labels != UNLABELLED]
        if known.size:
            return int(np.bincount(known).argmax())
        # no speech frame labelled in the span (a word in a low-energy stretch): nearest one
        idx = np.flatnonzero(self._labels != UNLABELLED)
        if not idx.size:
            return UNLABELLED
        mid = (f0 + f1) // 2 - self._frame0
        return int(self._labels[idx[np.abs(idx - mid).argmin()]])


def _longest_pause(speech: npt.NDArray[np.bool_], min_frames: int) -> int | None:
    """Index of the middle of the longest run of non-speech frames (>= min_frames), or None."""
    best: tuple[int, int] | None = None
    run = 0
    for i, s in enumerate(speech.tolist() + [True]):
        if not s:
            run += 1
            continue
        if run >= min_frames and (best is None or run > best[1]):
            best = (i - run, run)
        run = 0
    return None if best is None else best[0] + best[1] // 2
