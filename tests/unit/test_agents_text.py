"""Question detection, normalization and entity matching (misheard names)."""

from __future__ import annotations

import pytest

from wingman.agents.entities import EntityMatcher
from wingman.agents.qa import expand_question, is_rhetorical_tag, is_scheduling_request, with_context
from wingman.agents.text import (
    is_own_costs_rising,
    is_own_task,
    is_social,
    normalize,
    question_kind,
    question_sentences,
    sentences,
)

NAMES = ["Aircall", "Gong", "HubSpot", "Salesforce", "RingCentral", "Dialpad", "Slack", "Microsoft Teams"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Does Relay integrate with Salesforce?", "explicit"),
        ("does it work with hub spot", "explicit"),  # no punctuation from the speech engine
        ("How long does implementation usually take", "explicit"),
        ("Can calls be logged automatically", "explicit"),
        ("If we signed this month, when could we go live", "explicit"),
        ("I'm not sure how long setup takes.", "implicit"),
        ("I wonder whether our HubSpot data would carry over.", "implicit"),
        ("Our security team will ask about SOC 2.", "implicit"),
        ("tell me about the reporting side", "implicit"),
        ("We would need the call notes to end up in HubSpot without retyping.", "implicit"),
        ("The tablets are old, we can't install anything heavy on them.", "implicit"),
        ("We would need more time to think.", None),  # not a requirement of the product
        ("I'm not sure we really need all these features.", None),  # doubt, not a question
        ("What we need is better reporting.", None),
        # after a comma, "which"/"who" open a relative clause, not a question
        ("We are halfway through a deal with them, which is why I'm hesitant.", None),
        ("I'll ask my manager, who is out this week.", None),
        ("So for the setup, how does that work", "explicit"),
        ("I'll have to run this by my boss first.", None),
        ("Right?", None),
        ("", None),
    ],
)
def test_question_kind(text: str, kind: str | None) -> None:
    assert question_kind(text) == kind


def test_question_sentences_keep_the_original_wording() -> None:
    text = "Around thirty dollars per seat. Does Relay integrate with Salesforce?"
    assert question_sentences(text) == [("Does Relay integrate with Salesforce?", "explicit")]


def test_normalize_expands_contractions_and_drops_fillers() -> None:
    assert normalize("Um, we don't have the budget, you know, and I'm   sure it's fine") == (
        "we do not have the budget, and i am sure it is fine"
    )


@pytest.mark.parametrize(
    ("text", "name", "method"),
    [
        ("We're also talking to Aircall.", "Aircall", "exact"),
        ("air called quoted us something similar", "Aircall", "fuzzy"),
        ("Someone on my team mentioned air cal.", "Aircall", "fuzzy"),
        ("we use hub spot for marketing", "HubSpot", "split"),
        ("The IT folks are big fans of ring central.", "RingCentral", "split"),
        ("We use sales fours for our pipeline", "Salesforce", "phonetic"),
        ("we record sales calls in gong", "Gong", "exact"),
        ("Our agents chat in Microsoft Teams.", "Microsoft Teams", "exact"),
    ],
)
def test_entities_are_found_even_when_misheard(text: str, name: str, method: str) -> None:
    matches = EntityMatcher(NAMES).find(text)
    assert [(m.name, m.method) for m in matches] == [(name, method)]
    assert 0.8 <= matches[0].confidence <= 1.0


@pytest.mark.parametrize(
    "text",
    [
        "Our sales force is about forty people across three regions.",
        "Yeah the team's been going through a lot of changes.",
        "The central team in Chicago handles escalations.",
        "We ring customers back when they leave a voicemail.",
        "We'll dial in from the conference room next time.",
        "Our hub in Memphis ships most of the orders.",
        "We were on the air for a radio interview last week.",
        "Someone has to pick up the slack on Fridays.",
    ],
)
def test_ordinary_words_are_not_entities(text: str) -> None:
    assert EntityMatcher(NAMES).find(text) == []


def test_several_entities_in_order_of_appearance() -> None:
    names = [m.name for m in EntityMatcher(NAMES).find("We looked at Dial Pad and Aircall.")]
    assert names == ["Dialpad", "Aircall"]


def test_spoken_requirements_get_the_knowledge_base_words() -> None:
    assert "integrates" in expand_question("I need the notes to show up in HubSpot, no retyping.")
    assert "trial" in expand_question("Do you let people test drive it before they commit?")
    assert "migration" in expand_question("Would we have to move the old records over ourselves?")
    assert "offline" in expand_question("What happens when the internet in the shop goes down?")
    assert "audit" in expand_question("Our insurance company wants some proof, can you give us that?")
    assert "contract" in expand_question("Would we be tied in for a year, or could we walk away?")
    assert "price" in expand_question("What would it come to for all three offices?")
    assert "price" in expand_question("Is there anything to pay up front before we start?")
    assert "integrates" in expand_question("Does somebody have to type it in again?")
    # everyday idioms for topics every product's documents cover
    assert "pause" in expand_question("Could a customer put the subscription on ice over the summer?")
    assert "price" in expand_question("So what's the damage for the two of us?")
    assert "online" in expand_question("Can the parents fill it in from home the night before?")
    assert "stored" in expand_question("Where would the patients' records live, physically?")
    # fitting, power draw, what is charged and staff privacy, in British phone English
    assert "install" in expand_question("Does somebody need to come out and do the wiring in each cab?")
    assert "battery" in expand_question("Will the scanner drain the battery if it's left on the shelf?")
    assert "price" in expand_question("Is the setup a one-off payment?")
    assert "price" in expand_question("Does that include VAT?")
    assert "privacy" in expand_question("Can the managers see where the staff go after their shift?")
    assert "integrates" in expand_question("Is Janet still keying in every order by hand?")
    assert expand_question("How are you today?") == "How are you today?"


def test_a_short_question_about_the_sentence_before_carries_it() -> None:
    block = "Our techs keep the laptops at home over the weekend. Can you switch that off?"
    assert with_context("Can you switch that off?", block) == (
        "Our techs keep the laptops at home over the weekend. Can you switch that off?"
    )
    # a question that says what it asks about stands alone
    long_q = "Can you switch the weekend tracking off for the laptops?"
    assert with_context(long_q, "We have twelve laptops. " + long_q) == long_q
    assert with_context("Can you do that?", "Can you do that?") == "Can you do that?"


def test_a_long_question_pointing_back_takes_the_names_of_the_sentence_before() -> None:
    q = "Would all of it go straight in there, or do I have to type the orders out again?"
    block = "We do the stock in Shopify on a Monday, God help me. " + q
    assert with_context(q, block) == f"Shopify: {q}"
    # one that names what it asks about, or a sentence before it with no name, stays as it is
    named = "Would all of it go straight into Shopify, or do I have to type the orders out again?"
    assert with_context(named, "We do the stock in Shopify. " + named) == named
    assert with_context(q, "We do the stock by hand on a Monday. " + q) == q


def test_a_request_for_a_date_is_not_a_knowledge_question() -> None:
    assert is_scheduling_request("Can we set up the trial next Tuesday?")
    assert is_scheduling_request("Could we start the rollout the second week of June?")
    assert is_scheduling_request("Can you have it switched on for the first of next month?")
    assert is_scheduling_request("Can you switch it on this Friday?")
    assert not is_scheduling_request("Can you switch it on?")  # no date: a question
    # the request as the last clause of a longer sentence
    assert is_scheduling_request("Okay, we'll take the pilot, could we start it next Monday?")
    assert not is_scheduling_request("If we start next month, can you switch the reports on?")
    assert not is_scheduling_request("Can we start with a smaller plan?")
    assert not is_scheduling_request("Can you have it send texts in French?")
    assert not is_scheduling_request("How long does the trial last?")


def test_greetings_thanks_and_goodbyes_are_social() -> None:
    assert is_social("Thanks a lot, Marcus.")
    assert is_social("Bye now.")
    assert is_social("Talk soon!")
    assert is_social("Brilliant, cheers.")
    assert is_social("Okay, speak soon, Dean.")  # the summary's goodbye too
    assert is_social("Right, bye for now.")
    assert not is_social("Thanks, but we can't stretch to that this year.")
    assert not is_social("No worries, let's leave it until the spring.")


def test_the_customer_taking_on_a_task_is_their_own_task() -> None:
    assert is_own_task("So I'll dig out the invoices from last quarter for you.")
    assert is_own_task("We'll find out which branches want the reminders.")
    assert not is_own_task("I'll have to get my partner to agree first.")
    assert not is_own_task("We found it too expensive last time.")


def test_a_statement_with_a_tag_is_told_from_a_question() -> None:
    assert is_rhetorical_tag("We pay the other lot twenty a head, so you're about the same, aren't you?")
    assert is_rhetorical_tag("That's the going rate, well, is it?")
    assert not is_rhetorical_tag("Are you about the same as the other lot?")
    assert not is_rhetorical_tag("Would it work with the old tills, or not?")


def test_the_customers_own_costs_rising_are_told_from_our_price() -> None:
    assert is_own_costs_rising("Honestly, the electricity bill has shot up since March.")
    assert is_own_costs_rising("Our agency spend is climbing every month.")
    assert not is_own_costs_rising("Your monthly fee is going to be hard to justify.")
    assert not is_own_costs_rising("That's well over what we budgeted.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Dr. Okafor signs everything. Mrs. Byrne pays.",
            ["Dr. Okafor signs everything.", "Mrs. Byrne pays."],
        ),
        (
            "I asked Mr. Lee and Ms. Wu. Mx. Doe said yes!",
            ["I asked Mr. Lee and Ms. Wu.", "Mx. Doe said yes!"],
        ),
        ("Prof. Adeyemi runs St. Jude's. Fine.", ["Prof. Adeyemi runs St. Jude's.", "Fine."]),
        (
            "We use a few, e.g. Slack, i.e. the chat. It works.",
            ["We use a few, e.g. Slack, i.e. the chat.", "It works."],
        ),
        ("It's Xero vs. paper. Paper loses.", ["It's Xero vs. paper.", "Paper loses."]),
        ("Granite Inc. signed last week. So did we.", ["Granite Inc. signed last week.", "So did we."]),
        ("We're at No. 4 Mill Lane. Come by.", ["We're at No. 4 Mill Lane.", "Come by."]),
        # "No." before a word is an answer
        ("Is it monthly? No. We pay yearly.", ["Is it monthly?", "No.", "We pay yearly."]),
        # the speech engine's lower case (question_kind splits normalized text)
        ("is dr. patel in? she is.", ["is dr. patel in?", "she is."]),
        ("Really? Yes! Done.", ["Really?", "Yes!", "Done."]),
    ],
)
def test_a_title_or_abbreviation_ends_no_sentence(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected
