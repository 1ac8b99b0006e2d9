"""Cuts at voice changes for one channel (CommitPolicy.turn_cuts).

A voice change a diarizer heard (`ChannelDecoder.speaker_changed`, about a second after it)
ends what was said before it: of the last decode that went on past it, what lies before the
word boundary nearest it is committed (`Agreement.turn_boundary`, `at_turn`). `TurnCuts` keeps
the changes not placed yet and says which commit, if any, one decode gives; the channel takes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wingman.stt.base import SAMPLE_RATE
from wingman.stt.commit import Agreement, Commit
from wingman.stt.whisper import Word

TURN_STALE = 3 * SAMPLE_RATE  # a voice change no decode placed by this much later is dropped


@dataclass
class TurnCuts:
    """The voice changes (samples) past the last commit, not cut at yet, and the last cut."""

    agreement: Agreement
    pending: list[int] = field(default_factory=list)
    # the last commit (sample) made at a voice change: a decode that, hearing the other voice
    # before it, stops gives way sooner to one from there (the channel's STUCK_AFTER_TURN_S)
    last_cut: int = -1

    def add(self, sample: int) -> None:
        self.pending.append(sample)
        self.pending.sort()

    def drop_before(self, done_at: int) -> None:
        """Forget the changes the commit at `done_at` passed."""
        self.pending = [t for t in self.pending if t > done_at]

    def cut(self, words: tuple[Word, ...], *, done_at: int, end: int) -> Commit | None:
        """The commit at the earliest change this decode (its uncommitted `words`, of audio
        up to `end`, from the commit at `done_at`) went on past, if it has a word boundary
        near it. A change is dropped once a decode has placed it (or cut there already), or
        TURN_STALE after it."""
        policy = self.agreement.policy
        self.pending = [t for t in self.pending if t > done_at and end - t < TURN_STALE]
        seg_start, audio_end = done_at / SAMPLE_RATE, end / SAMPLE_RATE
        for turn in list(self.pending):
            change = turn / SAMPLE_RATE
            if audio_end < change + policy.turn_heard_s:
                break  # the last words before it may be cut off: wait for a longer decode
            i = self.agreement.turn_boundary(words, seg_start=seg_start, audio_end=audio_end, change=change)
            if i is None:
                continue
            self.pending.remove(turn)
            if i < 0:
                self.last_cut = done_at  # cut there already
                continue
            commit = self.agreement.at_turn(words, i, seg_start=seg_start, audio_end=audio_end, change=change)
            if commit is not None:
                return commit
        return None

    def taken(self, done_at: int) -> None:
        """The channel committed a cut's words; the audio before `done_at` is done."""
        self.last_cut = done_at
        self.drop_before(done_at)
