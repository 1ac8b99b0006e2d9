"""Talk time, defined once (wingman/talktime.py), and the ResumePoint rebuilt from it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wingman.events import TranscriptFragment
from wingman.pipeline.aggregator import BlockAggregator
from wingman.pipeline.options import ResumePoint
from wingman.talktime import TalkTime, rep_ratio, seconds


@dataclass(frozen=True)
class Seg:
    speaker: str | None
    start: float
    end: float
    text: str = "words."


SAVED = [Seg("rep", 0.0, 2.0), Seg("customer", 2.5, 6.0), Seg(None, 6.0, 6.5), Seg("rep", 7.0, 6.0)]


def test_each_segment_counts_its_length_for_its_speaker() -> None:
    talk = TalkTime.of(SAVED)
    # a segment without a speaker counts for "unknown"; one that ends before it starts, nothing
    assert talk.totals == {"rep": 2.0, "customer": 3.5, "unknown": 0.5}
    assert seconds(7.0, 6.0) == 0.0


def test_the_rep_ratio_is_the_reps_share_of_rep_and_customer_time() -> None:
    assert rep_ratio({"rep": 2.0, "customer": 6.0, "unknown": 100.0}) == 0.25
    assert rep_ratio({"unknown": 3.0}) is None  # neither has spoken: no ratio, not 0
    assert rep_ratio({}) is None


def test_a_resume_point_goes_on_after_the_saved_segments() -> None:
    at = ResumePoint.after(SAVED)
    assert at.time_offset == 6.5 and at.first_seq == 4  # the latest end; one seq per segment at most
    assert at.talk_seconds == TalkTime.of(SAVED).totals
    assert ResumePoint.after([]) == ResumePoint()


def test_the_aggregator_carries_a_resumed_calls_talk_time_on() -> None:
    at = ResumePoint.after(SAVED)
    agg = BlockAggregator(call_id="c", user_id="u", clock=lambda: 0.0, first_seq=at.first_seq,
                          talk_seconds=at.talk_seconds)
    (block,) = agg.add(TranscriptFragment(id="f", call_id="c", text="and more.", is_final=True,
                                          speaker="rep", start=8.0, end=9.5))
    assert block.seq == 4
    assert block.talk_seconds == {"rep": pytest.approx(3.5), "customer": 3.5, "unknown": 0.5}
