"""Which sentences point back at the one before: the Q&A agent's test (a thing or a place, up to
7 spoken words carry the sentence before) and the notes' test (anything said before, a person or
an existential "there" included, up to 18 tidied words), both from agents/anaphora.py."""

from __future__ import annotations

import pytest

from wingman.agents.anaphora import points_at_thing, refers_back
from wingman.agents.notes import needs_context
from wingman.agents.qa import with_context

BEFORE = "We keep the laptops at home over the weekend."


def carried(question: str) -> bool:
    return with_context(question, f"{BEFORE} {question}") == f"{BEFORE} {question}"


@pytest.mark.parametrize(
    "question",
    [
        "Can you switch that off?",
        "Is this a problem?",
        "Does it cost extra?",
        "What would those cost?",
        "Are these included?",
        "Can you track them?",
        "Does all of it go in there?",
        "Would it go into there automatically?",
        # seven words, the Q&A limit
        "Can you switch that off at night?",
    ],
)
def test_a_short_question_pointing_at_a_thing_or_place_carries_the_sentence_before(question: str) -> None:
    assert points_at_thing(question)
    assert carried(question)


@pytest.mark.parametrize(
    "question",
    [
        # an existential "there" or a person is a question of its own for the Q&A agent
        "Is there a discount for charities?",
        "Do they get a login?",
        "Can she see the reports?",
        "Is there one for schools?",
        # eight words pointing back, with no name before: too long to carry the sentence
        "Can you switch that off at night please?",
    ],
)
def test_q_and_a_leaves_other_questions_as_they_are(question: str) -> None:
    assert not carried(question)
    assert with_context(question, f"{BEFORE} {question}") == question


def test_q_and_a_gives_a_long_pointing_question_the_names_before_it() -> None:
    q = "Can you switch that off at night please?"
    assert with_context(q, f"We track the laptops in Intune. {q}") == f"Intune: {q}"


@pytest.mark.parametrize(
    "sentence",
    [
        "Is there a way round that?",
        "Is there a discount for charities?",
        "Do they get a login?",
        "Can she see the reports?",
        # nineteen words said, eighteen once the "um" is tidied away
        "Um, so, is there one for the smaller sites as well, or is it only for the big ones?",
        # eighteen words
        "Is there any way at all that the weekend tracking could be switched off for the whole team?",
    ],
)
def test_the_notes_keep_the_sentence_before_a_question_that_leans_on_it(sentence: str) -> None:
    assert refers_back(sentence)
    assert needs_context(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        # nineteen words
        "Is there any way at all that the weekend tracking could be switched off for the whole team please?",
        # a name says what it asks about
        "Does that sync with Xero?",
        # points at nothing
        "How much is the entry plan per month?",
    ],
)
def test_the_notes_let_other_questions_stand_alone(sentence: str) -> None:
    assert not needs_context(sentence)


def test_every_pointer_at_a_thing_is_a_reference_back_for_the_notes() -> None:
    for sentence in ("Can you switch that off?", "Does it go in there?", "What about those?"):
        assert points_at_thing(sentence) and refers_back(sentence)
    assert refers_back("Is there a discount?") and not points_at_thing("Is there a discount?")
    assert not refers_back("How much is the entry plan per month?")


def test_the_notes_keep_a_short_statement_whatever_it_says() -> None:
    assert needs_context("The other thing is the arguments.")
    assert needs_context("Um, the price, honestly.")
    assert not needs_context("We have twelve laptops across the three sites today.")
