"""Transcript fragments -> semantic blocks for the agents. Pure code: no I/O, no asyncio.

Time comes from the injected `clock` (seconds, monotonic), so tests drive it by hand. Feed every
fragment to `add()` (interims only tell us someone is still talking), call `tick(now)` a few
times a second, and `flush()` at the end of the call. A block is emitted:

- at once when a final ends a sentence (. ? !): an insight must reach the rep within a second of
  the utterance ending, so a finished sentence never waits for the next utterance;
- when another speaker's final arrives (speaker change);
- on a pause: nothing new from the speaker (no final, no interim) for `pause_seconds`;
- when the text gets longer than `max_chars` (split at the last sentence end that fits, else at a
  word) or spans more than `max_seconds` of audio.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from wingman.events import TranscriptBlock, TranscriptFragment
from wingman.talktime import TalkTime

log = logging.getLogger(__name__)

_CLOSERS = "\"')]}»”’"
_SENTENCE_END = re.compile(r"[.?!][" + re.escape(_CLOSERS) + r"]*$")
_BOUNDARY = re.compile(r"[.?!][" + re.escape(_CLOSERS) + r"]*\s+")
# A final ending in one of these has not finished its sentence ("I talked to Dr." ...).
_ABBREVIATIONS = frozenset(
    "mr. mrs. ms. dr. prof. sr. jr. st. vs. etc. e.g. i.e. approx. no. dept. corp.".split()
)


def ends_sentence(text: str) -> bool:
    """True when `text` ends a sentence: . ? ! (maybe quoted), not an ellipsis or abbreviation."""
    text = text.rstrip()
    if not _SENTENCE_END.search(text):
        return False
    bare = text.rstrip(_CLOSERS)
    if bare.endswith(("...", "…")):
        return False  # trailing off: the speaker is likely to go on
    last_word = bare.rsplit(None, 1)[-1].lower()
    return last_word not in _ABBREVIATIONS


@dataclass(frozen=True)
class _Piece:
    """A final fragment, or the part of one left after a length split."""

    id: str
    text: str
    start: float
    end: float
    audio_end_at: float | None


class BlockAggregator:
    """Turns one call's transcript fragments into `TranscriptBlock`s (see module docstring)."""

    def __init__(
        self,
        *,
        call_id: str,
        user_id: str,
        clock: Callable[[], float],
        workspace_id: str = "",
        max_chars: int = 600,
        max_seconds: float = 30.0,
        pause_seconds: float = 1.0,
        first_seq: int = 0,
        talk_seconds: Mapping[str, float] | None = None,
    ) -> None:
        if max_chars < 20 or max_seconds <= 0 or pause_seconds <= 0:
            raise ValueError("max_chars >= 20, max_seconds > 0 and pause_seconds > 0 required")
        self.call_id = call_id
        self.user_id = user_id
        self.workspace_id = workspace_id
        self._clock = clock
        self.max_chars = max_chars
        self.max_seconds = max_seconds
        self.pause_seconds = pause_seconds
        self._next_seq = first_seq  # a resumed call passes its last seq + 1
        self._talk = TalkTime(talk_seconds)  # a resumed call passes its saved totals
        self._pieces: list[_Piece] = []
        self._speaker: str | None = None
        self._last_activity = 0.0
        self._seen: deque[str] = deque(maxlen=256)  # recent final ids: a repeat is ignored

    @property
    def pending_text(self) -> str:
        return " ".join(p.text for p in self._pieces)

    @property
    def talk_seconds(self) -> dict[str, float]:
        return self._talk.totals

    def add(self, fragment: TranscriptFragment) -> list[TranscriptBlock]:
        """Take one fragment; return the blocks it completes (often none, at most a few)."""
        now = self._clock()
        text = " ".join(fragment.text.split())
        if not fragment.is_final:
            if text and self._pieces and fragment.speaker == self._speaker:
                self._last_activity = now  # still talking: hold the pause flush
            return []
        if not text or fragment.id in self._seen:
            return []
        self._seen.append(fragment.id)
        out: list[TranscriptBlock] = []
        if self._pieces and fragment.speaker != self._speaker:
            out += self._emit_all()  # speaker change; its talk_seconds exclude the new turn
        self._talk.add(fragment)
        self._speaker = fragment.speaker
        self._pieces.append(_Piece(fragment.id, text, fragment.start, fragment.end, fragment.audio_end_at))
        self._last_activity = now
        out += self._split_long()
        if self._pieces and (
            ends_sentence(text) or self._pieces[-1].end - self._pieces[0].start >= self.max_seconds
        ):
            out += self._emit_all()
        return out

    def tick(self, now: float | None = None) -> list[TranscriptBlock]:
        """Flush pending text once the speaker has been quiet for `pause_seconds`."""
        now = self._clock() if now is None else now
        if self._pieces and now - self._last_activity >= self.pause_seconds:
            return self._emit_all()
        return []

    def flush(self) -> list[TranscriptBlock]:
        """End of the call (or of the stream): everything pending, now."""
        return self._emit_all()

    # -- internals
    def _split_long(self) -> list[TranscriptBlock]:
        out: list[TranscriptBlock] = []
        while len(self.pending_text) > self.max_chars:
            text = self.pending_text
            cut = _cut_point(text, self.max_chars)
            head, tail = _split_pieces(self._pieces, cut)
            self._pieces = head
            out += self._emit_all()
            self._pieces = tail
        return out

    def _emit_all(self) -> list[TranscriptBlock]:
        if not self._pieces:
            return []
        pieces, self._pieces = self._pieces, []
        block = TranscriptBlock(
            call_id=self.call_id,
            user_id=self.user_id,
            workspace_id=self.workspace_id,
            seq=self._next_seq,
            text=" ".join(p.text for p in pieces),
            speaker=self._speaker,
            start=pieces[0].start,
            end=pieces[-1].end,
            segment_ids=tuple(dict.fromkeys(p.id for p in pieces)),
            audio_end_at=pieces[-1].audio_end_at,
            talk_seconds=self._talk.totals,
        )
        self._next_seq += 1
        log.info("block aggregated", extra={"call_id": self.call_id, "chars": len(block.text)})
        return [block]


def _cut_point(text: str, limit: int) -> int:
    """Index to cut `text` at: after the last sentence end within `limit`, else a space."""
    best = 0
    for m in _BOUNDARY.finditer(text):
        sentence_end = m.start() + len(m.group().rstrip())
        if sentence_end > limit:
            break
        best = m.end()
    if best:
        return best
    space = text.rfind(" ", 0, limit + 1)
    return space + 1 if space > 0 else limit


def _split_pieces(pieces: list[_Piece], cut: int) -> tuple[list[_Piece], list[_Piece]]:
    """Split at character `cut` of the space-joined text; a piece cut in two shares its time."""
    head: list[_Piece] = []
    offset = 0
    for i, piece in enumerate(pieces):
        end = offset + len(piece.text)
        if cut <= offset:
            return head, pieces[i:]
        if cut < end:
            k = cut - offset
            left, right = piece.text[:k].rstrip(), piece.text[k:].lstrip()
            at = piece.start + (piece.end - piece.start) * k / len(piece.text)
            if left:
                head.append(replace(piece, text=left, end=at))
            rest = [replace(piece, text=right, start=at)] if right else []
            return head, rest + pieces[i + 1 :]
        head.append(piece)
        offset = end + 1  # the joining space
    return head, []
