"""Live diarization of one channel: speech detection, online clustering of speaker embeddings
and speaker-change placement. Pure code (numpy); the embedding function is injected, so tests
script it and production hands in `SpeakerEmbedder.embed`.

How it works, per call:
- Speech: 10 ms frames whose energy is 12 dB over the channel's noise floor (a running low
  percentile), so embeddings are computed from speech only, never from hiss or silence.
- Windows: every `hop` (0.5 s) the speech frames of the last `window` (1 s) are embedded when
  there are at least 0.3 s of them. About two embeddings per second of speech (~15 ms of CPU
  each): a few percent of one core per call.
- Clustering: each window goes to the nearest speaker centroid at once (labels are live).
  Every couple of seconds the recent windows (the last 5 minutes) are re-clustered (k-means
  from the current centroids), and each speaker is tested for being two voices: a 2-means split
  is accepted only when the two halves' centroids are far apart (cosine < `split_below`) and
  each half holds at least `min_windows` windows. One voice therefore stays one speaker: its
  halves stay close (0.84-0.89 measured on real readers and espeak voices), two voices split
  (0.63-0.70).
  A voice split early (a few seconds heard on a phone line) can drift back together: two
  speakers whose centroids point the same way once the pool's mean is taken out
  (`merge_above`) are merged first, so the rep's later turns do not go to a second "customer".
- Change points, at query time: a frame covered by windows of two speakers (a turn change
  inside the overlap) goes to the earlier speaker up to the longest pause there (turns are
  0.1-0.3 s apart in real talk), else up to the middle of the overlap.
- Roles: the rep is the speaker closest to the rep's enrolled voiceprint (when there is one
  and it is close enough), else the speaker of the first window of the call (the first voice
  heard). Every other speaker is "customer".
- Turn changes, live: when a new window goes to another speaker than the window before it,
  the voice changed between them (placed as the labels place it, above); `take_changes`
  hands these times to whoever ends sentences there (the speech engine's channel: a voice
  change ends a sentence no text rule sees end, "Great." before the other voice goes on).
  Heard about a window's length after the change; at most one per `min_turn_s`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wingman.speakers.embedder import normalize
from wingman.speakers.roles import CUSTOMER, REP

F32 = npt.NDArray[np.float32]
Embed = Callable[[F32], F32]

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms
UNLABELLED = -1
_NEAR = 400  # windows searched for a word: 200 s of speech back
FIRST_WINDOWS = 4  # the first 2 s of speech decide who the rep is when there is no voiceprint
FLOOR_FRAMES = 1000  # the noise floor is the 10th percentile of the last 10 s


@dataclass(frozen=True)
class DiarizerParams:
    """Tuned on the synthetic calls and real readers of tests/audio_sets.py (bench/speakers.py)."""

    window_s: float = 1.5
    hop_s: float = 0.5
    min_speech_s: float = 0.3  # a window with less speech is not embedded
    split_below: float = 0.72  # two halves this far apart (cosine) are two voices
    # two speakers this close (cosine of their centroids less the pool's mean, where voices
    # point apart) are one voice split in two, its halves drifted back together as more of it
    # was heard: merged at the next re-clustering. Measured: halves of one espeak voice on a
    # phone line 0.56; two real readers -0.16 to 0.18, two espeak voices -0.58 to -0.68
    merge_above: float = 0.4
    min_windows: int = 4  # each half of a split holds at least this many windows (2 s)
    recluster_every: int = 4  # windows between re-clusterings (2 s of speech)
    pool: int = 600  # windows kept for re-clustering (5 minutes of speech)
    max_speakers: int = 4
    rep_min: float = 0.45  # a speaker this close to the voiceprint is the rep
    floor_db: float = 12.0  # speech: this far over the noise floor
    min_pause_s: float = 0.05  # a change inside an overlap goes to a pause at least this long
    keep_s: float = 120.0  # the speech mask kept (finals never look back that far)
    min_turn_s: float = 1.0  # turn changes closer than this to the last one are not reported
    turn_windows: int = 1  # windows of the new voice in a row that confirm a turn change
    # ... each closer to its speaker than to the one before by this much (cosine, centred): a
    # window between two voices is no turn change (real voices swing there mid-sentence)
    turn_margin: float = 0.15


@dataclass
class _Window:
    start: int  # frame index (10 ms) of its first frame
    end: int
    emb: F32
    speaker: int = 0


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
        self._print = None if self.rep_print is None else normalize(self.rep_print)
        self._lock = threading.Lock()
        self._audio = np.zeros(0, dtype=np.float32)  # samples from the next window's start on
        self._audio_start = 0  # sample index of _audio[0]
        self._pos = 0  # samples pushed
        self._energy = np.zeros(0, dtype=np.float32)  # log energy of the last FLOOR_FRAMES frames
        self._frames = 0  # whole frames seen
        self._speech = np.zeros(0, dtype=bool)  # per frame, from _frame0 on
        self._frame0 = 0
        self._next_hop = self._win
        self._windows: list[_Window] = []  # the re-clustering pool, in time order
        self._centroids: list[F32] = []
        self._rep: int | None = None
        # the call's first windows: their speaker is the rep by default (several, so one window
        # that caught the other voice's "hello" does not decide it)
        self._first: list[_Window] = []
        self._since_cluster = 0
        self._changes: list[float] = []  # turn changes not yet taken (seconds)
        self._last_change = -1e9
        self.embeddings = 0  # windows embedded so far (for the CPU figures)

    # -- input
    @property
    def position(self) -> float:
        """Seconds of audio taken so far."""
        return self._pos / SAMPLE_RATE

    def push(self, samples: F32) -> None:
        """Take the next mono 16 kHz samples; embeds every window they complete."""
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._audio = np.concatenate([self._audio, x])
        self._pos += x.shape[0]
        done = (self._audio_start + self._audio.shape[0]) // FRAME  # whole frames available
        if done > self._frames:
            lo = self._frames * FRAME - self._audio_start
            frames = self._audio[lo : lo + (done - self._frames) * FRAME].reshape(-1, FRAME)
            self._grow(10 * np.log10(np.mean(frames**2, axis=1) + 1e-10))
        while self._next_hop <= done:
            self._window(self._next_hop - self._win, self._next_hop)
            self._next_hop += self._hop
        keep = max(0, (self._next_hop - self._win) * FRAME)
        if keep > self._audio_start:
            self._audio = self._audio[keep - self._audio_start :]
            self._audio_start = keep

    # -- output
    @property
    def speakers(self) -> int:
        """How many voices have been told apart so far."""
        return len(self._centroids)

    @property
    def tells_roles(self) -> bool:
        """Whether its labels can tell the rep from the customer: it has the rep's print, or
        has heard two voices."""
        return self._print is not None or len(self._centroids) >= 2

    def take_changes(self) -> list[float]:
        """The turn changes (seconds of audio, in order) heard since the last call."""
        with self._lock:
            out, self._changes = self._changes, []
        return out

    def label_span(self, start: float, end: float) -> str | None:
        """The role that spoke most of [start, end) seconds; None before anyone is known."""
        return self.label_words([(start, end)])[0]

    def label_words(self, spans: Sequence[tuple[float, float]]) -> list[str | None]:
        """One role per word (start, end seconds). A word no window covers takes the role of
        the nearest window in time."""
        with self._lock:
            rep = self._rep
            out: list[str | None] = []
            for s, e in spans:
                f0 = int(round(s * 100))
                f1 = max(int(round(e * 100)), f0 + 1)
                # the windows near the word (the pool is in time order): a few, not hundreds
                near = [w for w in self._windows[-_NEAR:] if w.end > f0 - 200 and w.start < f1 + 200]
                k = self._majority(near or self._windows[-1:], f0, f1)
                out.append(None if k is None else (REP if k == rep else CUSTOMER))
        return out

    def speech_frames(self, start: float, end: float) -> npt.NDArray[np.float64]:
        """Start times (seconds) of the 10 ms speech frames in [start, end)."""
        with self._lock:
            f0 = max(int(start * 100), self._frame0)
            f1 = max(int(end * 100), f0)
            mask = self._speech[f0 - self._frame0 : f1 - self._frame0]
            return (np.flatnonzero(mask) + f0) / 100.0

    # -- internals
    def _grow(self, new: npt.NDArray[np.floating]) -> None:
        self._frames += new.shape[0]
        self._energy = np.concatenate([self._energy, new.astype(np.float32)])[-FLOOR_FRAMES:]
        floor = float(np.percentile(self._energy, 10))
        speech = (new > floor + self.params.floor_db) & (new > -60.0)
        with self._lock:
            self._speech = np.concatenate([self._speech, speech])
            drop = self._speech.shape[0] - int(self.params.keep_s * 100)
            if drop > 0:
                self._speech = self._speech[drop:]
                self._frame0 += drop

    def _window(self, f0: int, f1: int) -> None:
        speech = self._speech[f0 - self._frame0 : f1 - self._frame0]
        if speech.sum() * FRAME < self.params.min_speech_s * SAMPLE_RATE:
            return
        lo = f0 * FRAME - self._audio_start
        voiced = self._audio[lo : lo + (f1 - f0) * FRAME].reshape(-1, FRAME)[speech].reshape(-1)
        win = _Window(f0, f1, normalize(self.embed(voiced)))
        self.embeddings += 1
        with self._lock:
            if not self._centroids:
                self._centroids.append(win.emb.copy())
            self._windows.append(win)
            if len(self._first) < FIRST_WINDOWS:
                self._first.append(win)
            if len(self._windows) > self.params.pool:
                del self._windows[0]
            mu = self._mean()
            cents = np.stack(self._centroids)
            win.speaker = int(np.argmax(_centered(cents, mu) @ _centered(win.emb[None, :], mu)[0]))
            self._since_cluster += 1
            if self._since_cluster >= self.params.recluster_every:
                self._since_cluster = 0
                self._recluster()
            self._roles()
            self._turn_change()

    def _mean(self) -> F32:
        """The pool's mean embedding: what every voice on this line shares (channel, codec,
        room). Assignments compare what is left after it, where two voices point apart."""
        mean: F32 = np.mean([w.emb for w in self._windows], axis=0).astype(np.float32)
        return mean

    def _recluster(self) -> None:
        p = self.params
        raw = np.stack([w.emb for w in self._windows])
        mu = self._mean()
        x = _centered(raw, mu)
        labels, _ = kmeans(x, _centered(np.stack(self._centroids), mu))
        cents = _raw_centroids(raw, labels, np.stack(self._centroids))
        while (pair := _closest_pair(_centered(cents, mu))) is not None and pair[2] >= p.merge_above:
            cents = np.delete(cents, pair[1], axis=0)  # its windows go to the nearest one left
            labels, _ = kmeans(x, _centered(cents, mu))
            cents = _raw_centroids(raw, labels, cents)
        if cents.shape[0] < p.max_speakers:
            for k in range(cents.shape[0]):
                members = labels == k
                if members.sum() < 2 * p.min_windows:
                    continue
                sub, _ = kmeans(x[members], farthest_pair(x[members]))
                sizes = np.bincount(sub, minlength=2)
                # the split is found where voices differ most, but judged on the embeddings
                # themselves: halves of one voice stay close there, two voices do not
                halves = _raw_centroids(raw[members], sub, np.stack([cents[k], cents[k]]))
                if sizes.min() >= p.min_windows and float(halves[0] @ halves[1]) < p.split_below:
                    init = np.concatenate([np.delete(cents, k, axis=0), halves])
                    labels, _ = kmeans(x, _centered(init, mu))
                    cents = _raw_centroids(raw, labels, init)
                    break  # one split per round: the next round tests the new speakers
        self._centroids = list(cents)
        for w, k in zip(self._windows, labels.tolist(), strict=True):
            w.speaker = int(k)

    def _roles(self) -> None:
        cents = np.stack(self._centroids)
        if self._print is not None:
            sims = cents @ self._print
            best = int(np.argmax(sims))
            if float(sims[best]) >= self.params.rep_min:
                self._rep = best
                return
            self._rep = None
            return
        if self._first[0] in self._windows:  # labels of pool windows follow re-clustering
            votes = [w.speaker for w in self._first]
            self._rep = max(set(votes), key=votes.count)
            return
        mu = self._mean()  # the first windows left the pool (a long call): nearest centroid
        first = normalize(np.sum([w.emb for w in self._first], axis=0))
        self._rep = int(np.argmax(_centered(cents, mu) @ _centered(first[None, :], mu)[0]))

    def _turn_change(self) -> None:
        """A change before the last `turn_windows` windows of the pool, all of one speaker,
        from the window before them, of another (by their labels now), placed as
        `_frame_label` places it: the longest pause between them, else mid-overlap."""
        n = self.params.turn_windows
        if len(self._windows) < n + 1:
            return
        a, b = self._windows[-n - 1], self._windows[-n]
        if a.speaker == b.speaker or any(w.speaker != b.speaker for w in self._windows[-n:]):
            return
        mu = self._mean()
        cents = _centered(np.stack([self._centroids[b.speaker], self._centroids[a.speaker]]), mu)
        sims = _centered(np.stack([w.emb for w in self._windows[-n:]]), mu) @ cents.T
        if float(np.min(sims[:, 0] - sims[:, 1])) < self.params.turn_margin:
            return
        at = self._cut(a, b) / 100
        if at - self._last_change < self.params.min_turn_s:
            return
        self._last_change = at
        self._changes.append(at)

    def _cut(self, a: _Window, b: _Window) -> int:
        """The frame where speaker `a` (the earlier window) hands over to `b`."""
        reach = self._hop
        lo, hi = min(b.start - reach, a.end), max(a.end + reach, b.start)
        pause = self._pause(lo, hi)
        return pause if pause is not None else (b.start + a.end) // 2

    def _majority(self, windows: list[_Window], f0: int, f1: int) -> int | None:
        votes: dict[int, int] = {}
        cuts: dict[tuple[int, int], int] = {}
        for f in range(f0, f1):
            k = self._frame_label(windows, f, cuts)
            if k is not None:
                votes[k] = votes.get(k, 0) + 1
        if votes:
            return max(votes, key=lambda k: votes[k])
        if not windows:
            return None
        mid = (f0 + f1) / 2
        return min(windows, key=lambda w: abs((w.start + w.end) / 2 - mid)).speaker

    def _frame_label(self, windows: list[_Window], f: int, cuts: dict[tuple[int, int], int]) -> int | None:
        """The speaker of frame `f`. Near a change (two neighbouring windows of different
        speakers) the change sits at the longest pause from half a hop before the later
        window's start to half a hop after the earlier one's end, else mid-overlap."""
        reach = self._hop
        near = [w for w in windows if w.start - reach <= f < w.end + reach]
        for a, b in zip(near, near[1:], strict=False):
            if a.speaker == b.speaker or not b.start - reach <= f < a.end + reach:
                continue
            key = (a.start, b.start)
            if key not in cuts:
                cuts[key] = self._cut(a, b)
            return a.speaker if f < cuts[key] else b.speaker
        cover = [w.speaker for w in near if w.start <= f < w.end]
        if not cover:
            return None
        return max(set(cover), key=cover.count)

    def _pause(self, lo: int, hi: int) -> int | None:
        speech = self._speech[max(lo - self._frame0, 0) : max(hi - self._frame0, 0)]
        mid = _longest_pause(speech, int(self.params.min_pause_s * 100))
        return None if mid is None else max(lo, self._frame0) + mid


def _centered(x: F32, mu: F32) -> F32:
    y = x - mu[None, :]
    out: F32 = (y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-6)).astype(np.float32)
    return out


def _raw_centroids(raw: F32, labels: npt.NDArray[np.intp], previous: F32) -> F32:
    """Each cluster's mean embedding (unit length); an empty cluster keeps its previous one."""
    out = previous.copy()
    for k in range(previous.shape[0]):
        members = raw[labels == k]
        if members.shape[0]:
            out[k] = normalize(members.sum(axis=0))
    return out


def _closest_pair(cents: F32) -> tuple[int, int, float] | None:
    """The two most alike centroids (lower index first) and their cosine; None for fewer than two."""
    if cents.shape[0] < 2:
        return None
    sims = cents @ cents.T
    np.fill_diagonal(sims, -np.inf)
    i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    return int(min(i, j)), int(max(i, j)), float(sims[i, j])


def kmeans(x: F32, init: F32, iters: int = 8) -> tuple[npt.NDArray[np.intp], F32]:
    """Spherical k-means from `init`; a centroid left with no member keeps its place."""
    cents = init.copy()
    labels = np.argmax(x @ cents.T, axis=1)
    for _ in range(iters):
        for k in range(cents.shape[0]):
            members = x[labels == k]
            if members.shape[0]:
                cents[k] = normalize(members.sum(axis=0))
        new = np.argmax(x @ cents.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels, cents


def farthest_pair(x: F32) -> F32:
    """Two seeds for a 2-means split: the member least like the mean, and the one least like it."""
    i = int(np.argmin(x @ normalize(x.mean(axis=0))))
    j = int(np.argmin(x @ x[i]))
    return np.stack([x[i], x[j]])


def _longest_pause(speech: npt.NDArray[np.bool_], min_frames: int) -> int | None:
    """Index of the middle of the longest run of non-speech frames (>= min_frames), or None."""
    best: tuple[int, int] | None = None
    run = 0
    for i, s in enumerate([*speech.tolist(), True]):
        if not s:
            run += 1
            continue
        if run >= min_frames and (best is None or run > best[1]):
            best = (i - run, run)
        run = 0
    return None if best is None else best[0] + best[1] // 2
