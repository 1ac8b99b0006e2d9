"""The sentiment model on the labelled sales sentences (dev set for tuning, a held-out set
never tuned on), its sales language, and the live tracker's coaching moment on a sharp drop."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wingman.events import TranscriptFragment
from wingman.followup import draft_follow_up
from wingman.sentiment.model import SentimentModel, split_sentences
from wingman.sentiment.tracker import SentimentTracker, topic_of

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel()


def _accuracy(model: SentimentModel, name: str) -> tuple[float, int]:
    data = yaml.safe_load((DATA / f"sentiment_{name}.yaml").read_text())
    pairs = [(text, label) for label, texts in data.items() for text in texts]
    right = sum(model.score(text).label == label for text, label in pairs)
    return right / len(pairs), len(pairs)


def test_held_out_accuracy_is_at_least_085(model: SentimentModel) -> None:
    accuracy, n = _accuracy(model, "holdout")
    assert n >= 150
    assert accuracy >= 0.85, accuracy


def test_dev_accuracy(model: SentimentModel) -> None:
    assert _accuracy(model, "dev")[0] >= 0.9


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("That's way too expensive.", "negative"),
        ("That's not too expensive at all.", "positive"),
        ("It's well within our budget.", "positive"),
        ("This is not a priority for us right now.", "negative"),
        ("What does it cost per seat?", "neutral"),
        ("We'd rather stick with our current provider.", "negative"),
        ("Sounds good, send over the contract.", "positive"),
    ],
)
def test_sales_language(model: SentimentModel, text: str, label: str) -> None:
    assert model.score(text).label == label


def test_a_segment_with_one_complaint_is_negative(model: SentimentModel) -> None:
    overall, parts = model.score_text("Thanks for the demo. Honestly that's way too expensive for us.")
    assert [p.label for p in parts] == ["positive", "negative"] and overall.label == "negative"
    assert split_sentences("One. Two? three") == ["One.", "Two? three"]


def _final(text: str, speaker: str, start: float) -> TranscriptFragment:
    return TranscriptFragment(
        call_id="c1", text=text, is_final=True, speaker=speaker, start=start, end=start + 2
    )


def test_a_sharp_drop_after_the_price_is_a_coaching_moment(model: SentimentModel) -> None:
    tracker = SentimentTracker(model=model, call_id="c1", user_id="u1")
    assert tracker.observe(_final("This looks great.", "customer", 1)) is not None
    assert tracker.observe(_final("I love the reporting.", "customer", 4)) is not None
    assert tracker.observe(_final("It is forty dollars a seat.", "rep", 7)) is None
    scored = tracker.observe(_final("That's way too expensive for us.", "customer", 10))
    assert scored is not None and scored.coaching is not None
    assert scored.coaching.content.startswith("The customer just went cold after the price")
    assert scored.coaching.kind == "sentiment.drop" and scored.payload()["label"] == "negative"
    # one moment per cooldown: the next cold line soon after is scored, not coached again
    tracker.observe(_final("I like it otherwise.", "customer", 14))
    again = tracker.observe(_final("But no, that won't work for us.", "customer", 18))
    assert again is not None and again.coaching is None
    interim = TranscriptFragment(
        call_id="c1", text="that's", is_final=False, speaker="customer", start=20, end=21
    )
    assert tracker.observe(interim) is None


def test_steady_negativity_is_no_drop(model: SentimentModel) -> None:
    tracker = SentimentTracker(model=model, call_id="c1", user_id="u1")
    results = [
        tracker.observe(_final(t, "customer", i * 5.0))
        for i, t in enumerate(
            ["Our setup is terrible.", "The price is just too high.", "That's too expensive."]
        )
    ]
    assert all(r is not None and r.coaching is None for r in results)
    assert topic_of("the annual contract") == "the contract terms" and topic_of("hello") is None


def test_follow_up_draft_from_summary_and_action_items() -> None:
    draft = draft_follow_up(
        title="Initech - renewal",
        summary="Initech wants 20 more seats.",
        action_items=["Send the quote by Friday", "  "],
        transcript=["mail me at bob@initech.example"],
        rep_name="Sam",
    )
    assert draft.to == "bob@initech.example" and draft.subject == "Follow-up: Initech"
    assert "Initech wants 20 more seats." in draft.body and "- Send the quote by Friday" in draft.body
    assert draft.body.endswith("Best regards,\nSam") and "-   " not in draft.body
