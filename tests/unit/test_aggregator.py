"""BlockAggregator: pure code driven by a hand-moved clock."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wingman.events import TranscriptBlock, TranscriptFragment
from wingman.pipeline.aggregator import BlockAggregator, ends_sentence


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


_ids = itertools.count()


def final(
    text: str,
    speaker: str | None = "customer",
    start: float = 0.0,
    end: float = 1.0,
    *,
    id: str | None = None,
    audio_end_at: float | None = None,
) -> TranscriptFragment:
    return TranscriptFragment(
        id=id or f"seg-{next(_ids)}",
        call_id="call-1",
        text=text,
        is_final=True,
        speaker=speaker,
        start=start,
        end=end,
        audio_end_at=audio_end_at,
    )


def interim(text: str, speaker: str | None = "customer") -> TranscriptFragment:
    return TranscriptFragment(
        call_id="call-1", text=text, is_final=False, speaker=speaker, start=0.0, end=0.5
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def agg(clock: Clock) -> BlockAggregator:
    return BlockAggregator(
        call_id="call-1", user_id="user-1", clock=clock, max_chars=120, max_seconds=30.0, pause_seconds=1.0
    )


def test_a_question_is_a_block_at_once(agg: BlockAggregator) -> None:
    frag = final("Does Relay integrate with Salesforce?", start=12.0, end=14.5, audio_end_at=7.25)
    [block] = agg.add(frag)
    assert block == TranscriptBlock(
        id=block.id,
        call_id="call-1",
        user_id="user-1",
        seq=0,
        text="Does Relay integrate with Salesforce?",
        speaker="customer",
        start=12.0,
        end=14.5,
        segment_ids=(frag.id,),
        audio_end_at=7.25,
        talk_seconds={"customer": 2.5},
    )
    assert agg.pending_text == ""


@pytest.mark.parametrize(
    "text",
    [
        "Your price seems high.",
        "That is great!",
        "Is it SOC 2 compliant?",
        'She said "we will sign."',
        "We use Aircall (for now).",
    ],
)
def test_a_finished_sentence_never_waits_for_the_next_utterance(agg: BlockAggregator, text: str) -> None:
    assert [b.text for b in agg.add(final(text))] == [text]


def test_text_without_punctuation_waits_for_a_pause(agg: BlockAggregator, clock: Clock) -> None:
    assert agg.add(final("so we were mostly thinking about", start=3.0, end=5.0)) == []
    clock.now += 0.6
    assert agg.tick(clock.now) == []
    agg.add(interim("the"))  # still talking: the pause starts again
    clock.now += 0.6
    assert agg.tick(clock.now) == []
    clock.now += 0.5
    [block] = agg.tick(clock.now)
    assert block.text == "so we were mostly thinking about"
    assert agg.tick(clock.now + 10) == []


def test_tick_without_argument_reads_the_clock(agg: BlockAggregator, clock: Clock) -> None:
    agg.add(final("and then"))
    clock.now += 1.0
    assert [b.text for b in agg.tick()] == ["and then"]


def test_another_speakers_interim_does_not_hold_the_pause(agg: BlockAggregator, clock: Clock) -> None:
    agg.add(final("we have forty agents"))
    clock.now += 0.9
    agg.add(interim("right", speaker="rep"))
    clock.now += 0.1
    assert [b.text for b in agg.tick(clock.now)] == ["we have forty agents"]


def test_finals_of_one_utterance_join_into_one_block(agg: BlockAggregator) -> None:
    first = final("around thirty dollars", start=20.0, end=21.5, audio_end_at=1.0)
    second = final("per seat.", start=21.6, end=22.4, audio_end_at=2.0)
    assert agg.add(first) == []
    [block] = agg.add(second)
    assert block.text == "around thirty dollars per seat."
    assert block.segment_ids == (first.id, second.id)
    assert (block.start, block.end, block.audio_end_at) == (20.0, 22.4, 2.0)


def test_speaker_change_flushes_the_previous_turn(agg: BlockAggregator) -> None:
    assert agg.add(final("we are also talking to Aircall", start=0.0, end=2.0)) == []
    [block] = agg.add(final("understood", speaker="rep", start=2.5, end=3.0))
    assert (block.speaker, block.text) == ("customer", "we are also talking to Aircall")
    assert block.talk_seconds == {"customer": 2.0}  # the rep's new turn is not in it yet
    [rep] = agg.flush()
    assert (rep.speaker, rep.text, rep.seq) == ("rep", "understood", 1)
    assert rep.talk_seconds == {"customer": 2.0, "rep": 0.5}


def test_long_text_is_split_at_a_sentence_end(clock: Clock) -> None:
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock, max_chars=60)
    text = (
        "Our current setup drops calls. The reporting is weak and the agents hate it. "
        "We also need something that works with"
    )
    blocks = agg.add(final(text, start=0.0, end=10.0))
    assert [b.text for b in blocks] == [
        "Our current setup drops calls.",
        "The reporting is weak and the agents hate it.",
    ]
    assert agg.pending_text == "We also need something that works with"
    assert all(len(b.text) <= 60 for b in blocks)
    assert blocks[0].start == 0.0 and blocks[0].end == pytest.approx(blocks[1].start)
    assert 0.0 < blocks[0].end < blocks[1].end < 10.0


def test_long_text_without_sentence_ends_is_split_between_words(clock: Clock) -> None:
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock, max_chars=40)
    words = [f"word{i}" for i in range(30)]
    blocks = agg.add(final(" ".join(words), start=0.0, end=30.0)) + agg.flush()
    assert all(len(b.text) <= 40 for b in blocks)
    assert " ".join(b.text for b in blocks).split() == words  # no word lost or broken
    assert [b.seq for b in blocks] == list(range(len(blocks)))
    for before, after in itertools.pairwise(blocks):
        assert before.end == pytest.approx(after.start)


def test_a_split_spanning_fragments_keeps_every_segment_id(clock: Clock) -> None:
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock, max_chars=40)
    a = final("We have forty agents on the support team", start=0.0, end=3.0)
    b = final("and we want a pilot next month", start=3.0, end=5.0)
    blocks = agg.add(a) + agg.add(b) + agg.flush()
    assert {sid for blk in blocks for sid in blk.segment_ids} == {a.id, b.id}
    assert " ".join(blk.text for blk in blocks) == f"{a.text} {b.text}"


def test_max_seconds_flushes_a_long_turn(clock: Clock) -> None:
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock, max_seconds=10.0)
    assert agg.add(final("so the first thing", start=0.0, end=4.0)) == []
    assert agg.add(final("and the second thing", start=4.0, end=8.0)) == []
    [block] = agg.add(final("and a third thing", start=8.0, end=10.5))
    assert block.segment_ids and block.start == 0.0 and block.end == 10.5


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_finals_are_ignored(agg: BlockAggregator, clock: Clock, text: str) -> None:
    assert agg.add(final(text, start=0.0, end=3.0)) == []
    assert agg.talk_seconds == {}
    clock.now += 5
    assert agg.tick(clock.now) == [] and agg.flush() == []
    [block] = agg.add(final("Hello."))
    assert block.seq == 0  # no seq was spent


def test_whitespace_inside_text_is_normalized(agg: BlockAggregator) -> None:
    [block] = agg.add(final("  Hi   Dana,\nthanks  for making time.  "))
    assert block.text == "Hi Dana, thanks for making time."


def test_talk_seconds_accumulate_over_all_finals(agg: BlockAggregator) -> None:
    blocks = agg.add(final("Hi Dana.", speaker="rep", start=0.0, end=2.0))
    blocks += agg.add(final("Thanks Sam.", speaker="customer", start=2.0, end=3.5))
    blocks += agg.add(final("What made you", speaker="rep", start=4.0, end=5.0))
    blocks += agg.add(final("start looking now?", speaker="rep", start=5.0, end=6.5))
    blocks += agg.add(final("Mono audio.", speaker=None, start=7.0, end=8.0))
    assert [b.talk_seconds for b in blocks] == [
        {"rep": 2.0},
        {"rep": 2.0, "customer": 1.5},
        {"rep": 4.5, "customer": 1.5},
        {"rep": 4.5, "customer": 1.5, "unknown": 1.0},
    ]
    assert agg.talk_seconds == {"rep": 4.5, "customer": 1.5, "unknown": 1.0}


def test_seq_increases_per_call_and_resumes(clock: Clock) -> None:
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock)
    seqs = [b.seq for i in range(5) for b in agg.add(final(f"Sentence {i}."))]
    assert seqs == [0, 1, 2, 3, 4]
    resumed = BlockAggregator(
        call_id="c", user_id="u", clock=clock, first_seq=5, talk_seconds={"customer": 5.0}
    )
    [block] = resumed.add(final("Back again.", start=0.0, end=1.0))
    assert block.seq == 5 and block.talk_seconds == {"customer": 6.0}


def test_a_repeated_final_is_ignored(agg: BlockAggregator) -> None:
    frag = final("We need SOC 2.", id="same")
    assert len(agg.add(frag)) == 1
    assert agg.add(frag) == []
    assert agg.talk_seconds == {"customer": 1.0}


@pytest.mark.parametrize("text", ["I talked to Dr.", "like Aircall, Dialpad, etc.", "So..."])
def test_abbreviations_and_ellipses_do_not_end_a_turn(agg: BlockAggregator, text: str) -> None:
    assert agg.add(final(text)) == []
    assert agg.pending_text == text


def test_flush_returns_pending_text_once(agg: BlockAggregator) -> None:
    agg.add(final("and one more thing"))
    assert [b.text for b in agg.flush()] == ["and one more thing"]
    assert agg.flush() == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", True),
        ("Really?", True),
        ("Wow!", True),
        ('"Sure."', True),
        ("(ok.)", True),
        ("no", False),
        ("3,000", False),
        ("e.g.", False),
        ("Mr.", False),
        ("wait…", False),
        ("U.S.", True),
        ("", False),
    ],
)
def test_ends_sentence(text: str, expected: bool) -> None:
    assert ends_sentence(text) is expected


def test_bad_limits_are_refused(clock: Clock) -> None:
    with pytest.raises(ValueError):
        BlockAggregator(call_id="c", user_id="u", clock=clock, max_chars=5)


WORDS = st.sampled_from(["price", "seat", "Relay", "Aircall", "budget", "team", "pilot", "SOC"])
PUNCT = st.sampled_from(["", "", "", ".", "?", "!", ","])
FRAGMENTS = st.lists(
    st.tuples(
        st.lists(WORDS, min_size=0, max_size=25),
        PUNCT,
        st.sampled_from(["rep", "customer", None]),
        st.booleans(),
        st.floats(min_value=0.0, max_value=3.0),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(FRAGMENTS)
def test_no_text_is_lost_and_finished_sentences_go_out_at_once(
    script: list[tuple[list[str], str, str | None, bool, float]],
) -> None:
    clock = Clock()
    agg = BlockAggregator(call_id="c", user_id="u", clock=clock, max_chars=60, pause_seconds=1.0)
    blocks: list[TranscriptBlock] = []
    said: list[str] = []
    t = 0.0
    for words, punct, speaker, tick_first, gap in script:
        clock.now += gap
        if tick_first:
            blocks += agg.tick(clock.now)
        text = " ".join(words) + punct if words else punct
        blocks += agg.add(final(text, speaker=speaker, start=t, end=t + 1.0))
        t += 1.0
        said += text.split()
        if words and ends_sentence(text):
            assert agg.pending_text == ""  # never waits for the next utterance
    blocks += agg.flush()
    assert " ".join(b.text for b in blocks).split() == said
    assert [b.seq for b in blocks] == list(range(len(blocks)))
    assert all(0 < len(b.text) <= 60 for b in blocks)
    for before, after in itertools.pairwise(blocks):
        assert sum(after.talk_seconds.values()) >= sum(before.talk_seconds.values())
