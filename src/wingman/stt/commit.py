"""When the local engine commits words while people keep talking: the streaming commit policy.

The channel decodes the open stretch of speech (from the last cut to now) again and again. Each
decode's words, with their times, go through `Agreement.update`, which says what to commit as a
final and where to cut the audio. The rules, in order:

1. **A pause after a sentence.** A decode made at a pause (the VAD heard ~100 ms of silence)
   whose last word ends a sentence (. ? !) is committed whole, at once: one decode, as the old
   end-of-speech finals were, but without waiting 350 ms for a silence continuous talk rarely
   leaves. Not for a short phrase (under 1.5 s or 3 words): those wait for rule 2 or the end
   of speech, decoded with what follows; nor when the last word runs to the very end of the
   audio and Whisper is unsure of it (a pause inside a word cut it off).
2. **Sentence punctuation two decodes agree on** (LocalAgreement-2): of the prefix this decode
   and the previous one agree on, word for word, commit through the last word both end with
   sentence punctuation, if this decode goes on past it (a period Whisper puts where the audio
   happens to stop is not a sentence end). Going on past it can be audio without a word: when
   both decodes end with the same sentence, word for word, and this one heard `settle_gap_s`
   of speech after it (Whisper, having ended a sentence, often stops before the next voice),
   the sentence is committed; one decode alone waits `stop_gap_s` for that.
3. **A soft cap**: past `soft_cap_s` of uncommitted audio, commit the agreed prefix up to its
   last comma-like mark, if it has one.
4. **A hard cap**: past `hard_cap_s`, commit the agreed prefix (LocalAgreement-2 on words) up
   to its last mark, else through its last word; never a word only one decode heard (an
   unstable word committed is an error for good). Only past `last_resort_s` with no word agreed
   at all, everything but the last word (its end may be cut off), so no final ever holds much
   more than the cap.

A voice change the diarizer heard (`Agreement.turn_boundary`, `at_turn`) is one more cue: the words before it
end a turn, and a turn ends a sentence even when no pause followed it and no text rule saw it
end (one voice runs into the other). Of a decode that went on past the change, commit through
the word boundary nearest it (after a sentence end within `turn_reach_s` first), seconds before
the text rules would.

The caller cuts the audio between the last committed word and the next one, and decodes the rest
with the committed text as Whisper's prompt (context kept across the cut). A new decode whose
first words repeat the end of what was committed (the prompt echoed, or the boundary word heard
twice) loses them: nothing repeated. Nothing is dropped: every word of a decode is either
committed or still in the audio after the cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from wingman.stt.whisper import Word

SENTENCE_END = (".", "?", "!", "。", "？", "！")
PAUSE_MARKS = (",", ";", ":", "-", "—", "，")
MAX_OVERLAP = 5  # words of the committed tail a new decode may repeat
REHEARD_SHARE = 0.5  # a new word over this share of a committed word's time is that word again
REHEARD_MAX_S = 1.0
CUT_AFTER_STOP_S = 0.3  # where to cut after a decode that stopped (word ends run early)
MIN_WORD_S = 0.02  # word timings of zero length count as this long
_NORM = re.compile(r"[^\w']+")


def norm(text: str) -> str:
    """A word for comparison: case and punctuation out."""
    return _NORM.sub("", text.lower())


# abbreviations whose period ends no sentence
ABBREVIATIONS = frozenset(
    {"mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "etc.", "inc.", "jr.", "sr.", "e.g.", "i.e."}
)


def ends_sentence(word: Word) -> bool:
    text = word.text.rstrip("\"')]}”")
    return text.endswith(SENTENCE_END) and text.lower() not in ABBREVIATIONS


@dataclass(frozen=True)
class CommitPolicy:
    """Tuning of the commit rules (seconds)."""

    soft_cap_s: float = 6.0
    hard_cap_s: float = 7.0
    last_resort_s: float = 7.6  # no two decodes agreed on a word: commit without agreement
    # the pause rule alone commits only this much: a short phrase decoded without what follows
    # is misheard more often ("Thanks Sam." as "Inks terms.", "Yes." as "Yes. Yes.")
    pause_min_s: float = 1.5
    pause_min_words: int = 3
    tail_gap_s: float = 0.05
    tail_probability: float = 0.8
    repeat_window_s: float = 1.5  # a repeat of the committed tail counts only this near the cut
    max_hole_s: float = 2.0  # seconds without a word that no commit spans
    # speech this long after a decode's last word, in an open span: Whisper stopped before it
    stop_gap_s: float = 1.0
    # ... or this long, when the decode before agreed on every word and ended there too
    settle_gap_s: float = 0.5
    # a voice change: cut at a word boundary this near it (the diarizer places changes to
    # about 0.1-0.4 s), in a decode that went on at least `turn_heard_s` past it
    turn_reach_s: float = 0.8
    turn_heard_s: float = 0.3
    # cut only after: 0 a sentence end, 1 ... or a comma-like mark, 2 any word
    turn_marks: int = 1
    # cut at voice changes at all: off, as measured on the replay (bench/replay.py --turns):
    # pooled delay p50 0.81 -> 0.76 s but WER up 2-4 points on some sets
    turn_cuts: bool = False


@dataclass(frozen=True)
class Commit:
    """Words to emit as a final; the audio before the cut is done with.

    The cut lies in [cut_from, cut_to]: between the last committed word's end and the next
    word's start (the caller picks the quietest point in it). `rest`: the decode's words after
    the cut, not committed."""

    words: tuple[Word, ...]
    cut_from: float
    cut_to: float
    rest: tuple[Word, ...]
    rule: str


def shift(words: Sequence[Word], offset: float) -> tuple[Word, ...]:
    """Words with times moved by `offset` seconds (decoded-audio time -> call time)."""
    return tuple(
        Word(w.text, round(w.start + offset, 3), round(w.end + offset, 3), w.probability) for w in words
    )


def agreed_prefix(a: Sequence[Word], b: Sequence[Word]) -> int:
    """How many leading words two decodes share (compared without case and punctuation)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if norm(x.text) != norm(y.text):
            break
        n += 1
    return n


def strip_repeat(words: Sequence[Word], tail: Sequence[Word], *, near: float) -> tuple[Word, ...]:
    """Drop leading words that repeat the end of `tail` (the committed words), when they start
    before `near` (seconds): the longest such overlap, up to MAX_OVERLAP words."""
    tail_n = [norm(w.text) for w in tail[-MAX_OVERLAP:]]
    for k in range(min(len(tail_n), len(words)), 0, -1):
        head = words[:k]
        if (
            all(_alike(norm(w.text), t) for w, t in zip(head, tail_n[-k:], strict=True))
            and head[-1].start < near
        ):
            return tuple(words[k:])
    return tuple(words)


def _first_hole(words: Sequence[Word], since: float, limit: float) -> int | None:
    """Index of the first word that starts more than `limit` seconds after the previous word
    (or, for the first, after `since`), or that lasts more than `limit` past `since` itself
    (no word does: the alignment stretched it over speech Whisper skipped, "We" over
    22.5-26.4 s; a word stretched back over the context audio before `since` skipped
    nothing new), if any."""
    prev = since
    for i, w in enumerate(words):
        if w.start - prev > limit or w.end - max(w.start, since) > limit:
            return i
        prev = w.end
    return None


def _over_committed(word: Word, tail: Sequence[Word]) -> bool:
    """`word` covers at least half of a committed word's time, or lies at least half inside
    it (of the shorter of the two): the same stretch of audio decoded again ("them." heard
    again as "us.", "pocketfully." as "leaf."). A new word that only touches the cut, as
    word timings drift by a few tens of milliseconds between decodes, does not; nor a word
    longer than REHEARD_MAX_S: when Whisper skips the context audio, the alignment stretches
    the first new word back over it ("Mr." from 2.3 s to 4.4 s), so its start says nothing."""
    if word.end - word.start > REHEARD_MAX_S:
        return False
    w_end = max(word.end, word.start + MIN_WORD_S)
    for c in tail:
        c_end = max(c.end, c.start + MIN_WORD_S)
        overlap = min(w_end, c_end) - max(word.start, c.start)
        if overlap >= REHEARD_SHARE * min(w_end - word.start, c_end - c.start):
            return True
    return False


def _alike(a: str, b: str) -> bool:
    """The same word, or the same word heard a little differently ("was" and "wants")."""
    return a == b or (min(len(a), len(b)) >= 3 and SequenceMatcher(None, a, b).ratio() >= 0.75)


class Agreement:
    """The commit state of one channel's open stretch of speech."""

    def __init__(self, policy: CommitPolicy | None = None) -> None:
        self.policy = policy or CommitPolicy()
        self.previous: tuple[Word, ...] = ()  # the last decode's uncommitted words
        self.tail: tuple[Word, ...] = ()  # the last committed words (for strip_repeat)
        self.before: tuple[Word, ...] = ()  # the decode before the last one's uncommitted words
        self._seg_start = 0.0

    def clean(self, words: Sequence[Word], seg_start: float) -> tuple[Word, ...]:
        """A decode's words (call time) without a repeat of what was just committed: by text
        (strip_repeat), then by time (leading words that start before the cut `seg_start` and
        lie mostly over a committed word: that word heard again, maybe as another word)."""
        if not self.tail:
            return tuple(words)
        words = strip_repeat(words, self.tail, near=seg_start + self.policy.repeat_window_s)
        n = 0
        while n < len(words) and words[n].start < seg_start and _over_committed(words[n], self.tail):
            n += 1
        return words[n:]

    def update(
        self, words: Sequence[Word], *, seg_start: float, audio_end: float, at_pause: bool
    ) -> Commit | None:
        """Take a decode of [seg_start, audio_end] (call seconds; words in call time, cleaned)
        and say what to commit, if anything."""
        words = tuple(words)
        self._seg_start = seg_start
        previous, self.previous = self.previous, words
        self.before = previous
        if not words:
            return None
        long_enough = (
            audio_end - seg_start >= self.policy.pause_min_s and len(words) >= self.policy.pause_min_words
        )
        if at_pause and long_enough and ends_sentence(words[-1]) and self._heard_out(words[-1], audio_end):
            return self._commit(words, len(words), audio_end, audio_end, "pause")
        last = words[-1]
        if long_enough and ends_sentence(last) and audio_end - last.end >= self.policy.stop_gap_s:
            # Whisper ended the text at a sentence and heard nothing in the speech after it (a
            # voice change, a backchannel): the sentence is done; cut right after it so the
            # next decode starts at the speech it skipped
            return self._commit(words, len(words), last.end, last.end + CUT_AFTER_STOP_S, "stopped")
        agreed = agreed_prefix(words, previous)
        if (
            # the same, seen by two decodes: this one and the one before agree on every word
            # and end at the same sentence end, and this one heard speech past it that
            # neither put a word to (the other voice starting): waiting for the stop gap
            # only delays it (replay, synthetic calls: delay p50 1.70 -> 1.42 s)
            long_enough
            and agreed == len(words) == len(previous)
            and ends_sentence(last)
            and ends_sentence(previous[-1])
            and audio_end - last.end >= self.policy.settle_gap_s
        ):
            return self._commit(words, len(words), last.end, last.end + CUT_AFTER_STOP_S, "settled")
        for i in range(min(agreed, len(words) - 1) - 1, -1, -1):
            if ends_sentence(words[i]) and ends_sentence(previous[i]):
                return self._cut_after(words, i, "sentence")
        uncommitted = audio_end - seg_start
        limit = min(agreed, len(words) - 1)  # agreed words with a word after them
        if uncommitted >= self.policy.soft_cap_s and limit:
            best = self._best_boundary(words, limit)
            if best is not None and words[best].text.endswith(PAUSE_MARKS):
                return self._cut_after(words, best, "soft_cap")
        if uncommitted >= self.policy.hard_cap_s and limit:
            # only words two decodes agree on: an unstable word committed here is an error
            # for good; cut after a mark, else after the last agreed word
            best = self._best_boundary(words, limit)
            mark = best is not None and (ends_sentence(words[best]) or words[best].text.endswith(PAUSE_MARKS))
            return self._cut_after(words, best if mark and best is not None else limit - 1, "hard_cap")
        if uncommitted >= self.policy.last_resort_s and len(words) >= 2:
            # no agreement at all this late: everything but the last word (maybe cut off)
            return self._cut_after(words, len(words) - 2, "last_resort")
        return None

    def turn_boundary(
        self, words: Sequence[Word], *, seg_start: float, audio_end: float, change: float
    ) -> int | None:
        """Where to cut for a voice change at `change` (call seconds), in this decode of
        [seg_start, audio_end] (its uncommitted words): after word i, the boundary nearest the
        change within `turn_reach_s`, after a sentence end first, then after a comma-like mark
        (`turn_marks`), and only through words the decode before this one agrees on (one
        decode's words are an error for good more often). -1: the last cut (before the first
        word) is that boundary, the change was cut at already; None: no boundary fits."""
        p = self.policy
        best: tuple[int, float, int] | None = None
        for i in range(-1, len(words)):
            lo = words[i].end if i >= 0 else seg_start
            hi = words[i + 1].start if i + 1 < len(words) else audio_end if words else seg_start
            off = 0.0 if lo <= change <= max(lo, hi) else min(abs(change - lo), abs(change - hi))
            mark = 0 if i < 0 or ends_sentence(words[i]) else 1 if words[i].text.endswith(PAUSE_MARKS) else 2
            if off > p.turn_reach_s or mark > p.turn_marks or agreed_prefix(words, self.before) <= i:
                continue
            score = (mark, off, i)
            if best is None or score < best:
                best = score
        return None if best is None else best[2]

    def at_turn(
        self, words: Sequence[Word], i: int, *, seg_start: float, audio_end: float, change: float
    ) -> Commit | None:
        """Commit words[: i + 1] (i from `turn_boundary`) of this decode, before the voice
        change at `change`."""
        words = tuple(words)
        self._seg_start = seg_start
        if i + 1 < len(words):
            return self._cut_after(words, i, "turn")
        # no word after the change: Whisper heard none of the new voice; cut before it
        last = words[-1].end
        return self._commit(words, len(words), last, max(last, min(change, audio_end)), "turn")

    def commit_all(self, words: Sequence[Word]) -> None:
        """The segment ended (end of speech): everything in it was emitted. A segment that
        ends with no words (the VAD cut a long span at an earlier pause, after the last
        commit) leaves the last decode to agree with: its words are the speech going on."""
        if words:
            self.tail = tuple(words[-MAX_OVERLAP:])
            self.previous = ()

    def reset(self) -> None:
        """A new stretch of speech after silence: no context to agree with or strip."""
        self.previous = ()
        self.tail = ()

    def _heard_out(self, last: Word, audio_end: float) -> bool:
        """The last word was heard to its end: it stops short of the audio's end, or Whisper is
        sure of it. A word the alignment stretches to the very end may be cut off by a pause
        inside it (on real speech: "still more risk." for "still more re-spectable")."""
        return (
            last.end <= audio_end - self.policy.tail_gap_s or last.probability >= self.policy.tail_probability
        )

    @staticmethod
    def _best_boundary(words: Sequence[Word], limit: int) -> int | None:
        """Index i < limit to cut after: a punctuation mark first, then the widest gap."""
        best: tuple[int, float, int] | None = None
        for i in range(limit):
            mark = 2 if ends_sentence(words[i]) else int(words[i].text.endswith(PAUSE_MARKS))
            score = (mark, words[i + 1].start - words[i].end, i)
            if best is None or score > best:
                best = score
        return None if best is None else best[2]

    def _cut_after(self, words: tuple[Word, ...], i: int, rule: str) -> Commit | None:
        return self._commit(words, i + 1, words[i].end, max(words[i].end, words[i + 1].start), rule)

    def _commit(
        self, words: tuple[Word, ...], n: int, cut_from: float, cut_to: float, rule: str
    ) -> Commit | None:
        hole = _first_hole(words[:n], self._seg_start, self.policy.max_hole_s)
        if hole is not None:
            # no word for seconds inside a stretch of speech: Whisper skipped some of it (it
            # does, in noise or after context audio); commit only up to there, so the skipped
            # audio stays uncommitted and is decoded again
            if hole == 0:
                return None
            n = hole
            cut_from = words[n - 1].end
            cut_to = max(cut_from, words[n].start) if n < len(words) else cut_from
        done, rest = words[:n], words[n:]
        self.previous = rest
        self.tail = done[-MAX_OVERLAP:]
        return Commit(done, cut_from, cut_to, rest, rule)
