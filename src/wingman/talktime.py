"""Talk time: how long each speaker spoke, defined once.

A final transcript segment counts its length (end - start, never negative) for its speaker;
a segment without one counts for "unknown". The live call keeps running totals (the block
aggregator puts them on every block, so the agents see the whole call so far), a call resumed
on another node rebuilds them from its saved segments, and the reports (dashboard, trends)
read the rep's share of the rep's and the customer's time from the same totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from wingman.speakers.roles import CUSTOMER, REP

UNKNOWN_SPEAKER = "unknown"  # the key of segments without a speaker


class Spoken(Protocol):
    """Anything with a speaker and a span in call seconds (a fragment, a saved segment)."""

    @property
    def speaker(self) -> str | None: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


def seconds(start: float, end: float) -> float:
    """How long a span of speech lasted (a span that ends before it starts counts nothing)."""
    return max(0.0, end - start)


class TalkTime:
    """Running seconds of speech per speaker."""

    def __init__(self, totals: Mapping[str, float] | None = None) -> None:
        self._totals: dict[str, float] = dict(totals or {})

    @classmethod
    def of(cls, segments: Iterable[Spoken]) -> TalkTime:
        """The totals of segments already spoken (a resumed call's saved transcript)."""
        talk = cls()
        for segment in segments:
            talk.add(segment)
        return talk

    def add(self, segment: Spoken) -> None:
        """Count one final segment."""
        who = segment.speaker or UNKNOWN_SPEAKER
        self._totals[who] = self._totals.get(who, 0.0) + seconds(segment.start, segment.end)

    @property
    def totals(self) -> dict[str, float]:
        """A copy: speaker -> seconds."""
        return dict(self._totals)


def rep_ratio(totals: Mapping[str, float]) -> float | None:
    """The rep's share of the time the rep and the customer spoke; None before either did."""
    rep, customer = totals.get(REP, 0.0), totals.get(CUSTOMER, 0.0)
    both = rep + customer
    return rep / both if both > 0 else None
