"""The CRM notes in note words (no quotes, no fillers) and action items from both sides, in
phrasings unlike the evaluation calls'."""

from __future__ import annotations

from dataclasses import dataclass

from wingman.agents.commitments import Turn, action_items
from wingman.agents.notes import SIGN_UP, defends, is_intro, is_question, states, tidy
from wingman.agents.summary import draft_summary
from wingman.events import Insight


@dataclass
class Segment:
    speaker: str | None
    text: str
    start: float


def _call(*turns: tuple[str, str]) -> list[Segment]:
    return [Segment(speaker, text, i * 5.0) for i, (speaker, text) in enumerate(turns)]


def _line(summary: str, title: str) -> str:
    return next((line for line in summary.splitlines() if line.startswith(f"{title}: ")), "")


def test_tidy_drops_openers_and_fillers() -> None:
    assert (
        tidy("Look, I'll be honest with you, the renewal is, like, steep, mate.") == "The renewal is steep."
    )
    assert (
        tidy("Okay. Um, we keep the stock counts in, uh, a binder.")
        == "We keep the stock counts in a binder."
    )
    assert tidy("So, yeah, it's, what, forty a seat?") == "It's forty a seat?"
    assert tidy("Yeah, do that, because my partner has the final say.") == "My partner has the final say."
    assert tidy("And it's, you know, it eats the whole evening.") == "It eats the whole evening."


def test_intro_needs_a_name_or_a_size_and_a_request_is_not_a_question() -> None:
    assert is_intro("We're Tidewater Plumbing, out of Norfolk.")
    assert is_intro("I look after twelve sites for the group.")
    assert not is_intro("Sorry, I'm just parking the car.")
    assert not is_question("Yeah, do that, because the board meets on the third.")
    assert is_question("Do they get a reminder the night before?")


def test_who_the_customer_is_and_no_small_talk_as_pains() -> None:
    segments = _call(
        ("rep", "Hi, is now still okay?"),
        ("customer", "Sorry, I'm just parking the car. Half the time I'm late for everything."),
        ("rep", "No rush. Tell me about the business."),
        ("customer", "We're Tidewater Plumbing, out of Norfolk. Fourteen vans, twenty plumbers."),
        (
            "customer",
            "The other thing is the callbacks. Customers swear blind nobody came, and I've got no proof.",
        ),
    )
    summary = draft_summary(segments, []).summary
    customer = _line(summary, "Customer")
    assert customer == "Customer: Tidewater Plumbing, out of Norfolk; fourteen vans, twenty plumbers."
    pains = _line(summary, "Pains")
    assert "The other thing is the callbacks. Customers swear blind nobody came" in pains
    assert "parking" not in summary and "late for everything" not in pains  # before the intro: small talk
    assert '"' not in summary


def test_questions_carry_what_they_lean_on_and_the_rep_s_answer() -> None:
    segments = _call(
        ("customer", "Our invoices all live in FreeAgent. Will that end up in there, or do I retype it?"),
        ("rep", "Good question. Paid jobs go to FreeAgent as invoices every night."),
    )
    questions = _line(draft_summary(segments, []).summary, "Questions")
    assert "Our invoices all live in FreeAgent. Will that end up in there" in questions
    assert questions.endswith(
        "\u2192 Paid jobs go to FreeAgent as invoices every night."
    )  # no "Good question"


def test_concerns_authority_and_needs_in_the_customer_s_words() -> None:
    segments = _call(
        ("customer", "We're Brackenfield Skips, six lorries round Derby."),
        (
            "customer",
            "The council want to know where every skip is, and we have to be able to prove it was emptied.",
        ),
        ("customer", "We got burned by the last software firm, so I'm nervous about moving again."),
        ("rep", "That's fair. You can leave any month and take your data with you."),
        ("customer", "And my business partner has the final say on anything over a grand."),
        ("rep", "Of course. I'll put a one-page cost sheet together for him by Thursday."),
    )
    summary = draft_summary(segments, []).summary
    assert "prove it was emptied" in _line(summary, "Needs")
    objections = _line(summary, "Objections")
    assert "Concern: We got burned by the last software firm" in objections
    assert "\u2192 You can leave any month and take your data with you" in objections
    assert "Authority: My business partner has the final say" in objections


def _items(*turns: tuple[str, str]) -> list[str]:
    return [item for _, _, items in action_items([Turn(s, t) for s, t in turns]) for item in items]


def test_commitments_of_both_sides_with_owner_and_date() -> None:
    assert _items(
        ("customer", "Right. I'll dig out the signed lease and send it over, probably Thursday.")
    ) == ["Customer: Dig out the signed lease and send it over (due: Thursday)"]
    assert _items(("customer", "I'll sit down with Priyanka on Saturday and go through it with her.")) == [
        "Customer: Sit down with Priyanka on Saturday and go through it with her (due: Saturday)"
    ]
    assert _items(("rep", "Lovely. And I'll give you a bell on Monday week to see how it's going.")) == [
        "Rep: Give the customer a bell on Monday week to see how it's going (due: Monday week)"
    ]
    # a request the rep accepts is the rep's item; "I'll find out" alone is nothing to act on
    assert _items(
        ("customer", "Could you get the brochure to me before Easter?"),
        ("rep", "Sure, no bother. I'll find out."),
    ) == ["Rep: Get the brochure to the customer (due: before Easter)"]
    assert _items(("customer", "Go on then, send me a sample pack."), ("rep", "Brilliant.")) == [
        "Rep: Send a sample pack"
    ]
    # when the rep answers with a commitment of their own, the rep's words make the item
    assert _items(
        ("customer", "Go on then, send me three of the tags."),
        ("rep", "Great, I'll post three tags to you by Wednesday, so you can try them."),
    ) == ["Rep: Post three tags to the customer (due: Wednesday)"]


def test_a_step_is_a_whole_action_its_date_and_whose_it_is() -> None:
    # something made ready is a step, as much as something sent
    assert _items(
        (
            "rep",
            "Right, I'll have the signed quote in your inbox before the weekend, and I'll ask the warehouse.",
        )
    ) == [
        "Rep: Have the signed quote in the customer's inbox (due: before the weekend)",
        "Rep: Ask the warehouse",
    ]
    # the date said once, in the due date; the deadline ("by ...") is the date due
    assert _items(("rep", "I'll send an invite for March and the price list by Friday.")) == [
        "Rep: Send an invite for March and the price list (due: Friday)"
    ]
    # a pronoun for the whole object, what someone will not do, a hedge: no steps
    assert _items(("rep", "I can sort that out."), ("rep", "I'll try not to bore you.")) == []
    assert _items(("rep", "I'll check, but I doubt it.")) == []
    # the date of the occasion the step is for, said first
    assert _items(("customer", "Our AGM is on the twenty-second, so I'll put it to the members then.")) == [
        "Customer: Put it to the members at their AGM (due: the twenty-second)"
    ]
    assert _items(("customer", "The board meets on the 3rd, so I'll take it to them then.")) == [
        "Customer: Take it to them (due: the 3rd)"
    ]
    assert _items(("rep", "I'll have a quote for you by Friday.")) == [
        "Rep: Have a quote for the customer (due: Friday)"
    ]
    # "you" as a subject is the customer ("they") in the rep's item and the rep in the customer's,
    # with the verb agreeing; "my accountant" is the customer's; an aside about her is dropped
    assert _items(("rep", "I'll ring you on March 3rd to see whether you've decided.")) == [
        "Rep: Ring the customer on March 3rd to see whether they've decided (due: March 3rd)"
    ]
    assert _items(
        ("customer", "I'll get my accountant to email you once you've sent the terms, she's very quick.")
    ) == ["Customer: Get their accountant to email the rep once the rep has sent the terms"]


def test_what_is_not_a_concern_and_a_late_introduction() -> None:
    segments = _call(
        ("customer", "Don't worry about the delay, we can sign the contract on Friday."),
        ("rep", "Great."),
        ("customer", "The paperwork is a nightmare, every job sheet gets typed in twice."),
        ("rep", "That's common."),
        ("customer", "Our drivers lose the delivery notes all the time."),
        ("rep", "Understood."),
        ("customer", "We're Larchmont Removals, by the way, twelve crews round Leeds."),
    )
    summary = draft_summary(segments, []).summary
    assert "Objections" not in summary  # "don't worry", "we can sign": no concern, no authority
    pains = _line(summary, "Pains")  # an introduction this late does not make the talk before it small
    assert "The paperwork is a nightmare" in pains and "lose the delivery notes" in pains
    assert "Larchmont Removals" in _line(summary, "Customer")


def _flagged(kind: str, sentence: str) -> Insight:
    return Insight(
        call_id="c",
        user_id="u",
        agent="coach",
        category="x",
        kind=kind,
        content="tip",
        context_snippet=sentence,
    )


def test_flagged_sentences_noted_as_what_they_are() -> None:
    segments = _call(
        ("customer", "We're Fernhill Dairy, forty cows and two milk rounds."),
        ("customer", "Why so dear?"),
        ("rep", "It includes the handsets and the support line."),
        ("customer", "I'll check with my dad first, it's his farm."),
        ("rep", "Of course. I can send him the one-pager."),
        ("customer", "I'll ask the drivers which days suit them."),
        ("rep", "Cheers."),
    )
    insights = [
        _flagged("objection.price", "Why so dear?"),
        _flagged("objection.authority", "I'll check with my dad first, it's his farm."),
        _flagged("objection.price", "I'll ask the drivers which days suit them."),
    ]
    summary = draft_summary(segments, insights)
    assert "Why so dear? \u2192 It includes the handsets and the support line" in _line(
        summary.summary, "Questions"
    )
    objections = _line(summary.summary, "Objections")
    assert "Authority: I'll check with my dad first, it's his farm" in objections
    assert "drivers" not in objections and "Price" not in objections  # a promise, a question
    assert "Customer: Ask the drivers which days suit them" in summary.action_items


def test_a_commitment_a_defence_or_a_supposition_is_no_pain() -> None:
    segments = _call(
        ("customer", "We're Ashgrove Bakeries, four shops round Bath."),
        ("customer", "Orders come in on scraps of paper and half of them get lost."),
        ("customer", "Honestly, the till system has been rock solid for us, I'd hate to rip it out."),
        ("rep", "Fair enough. We sit alongside the tills, nothing to rip out."),
        ("customer", "Suppose the bakers hate it. Can we turn it off?"),
        ("rep", "Yes, any month."),
        ("customer", "The booking app never goes down, but it's painfully slow at lunchtime."),
        ("rep", "Noted."),
        ("customer", "I'll send you the spreadsheet we use by Thursday."),
        ("rep", "Perfect."),
    )
    summary = draft_summary(segments, [])
    pains = _line(summary.summary, "Pains")
    assert pains == (  # praise, then a pain after "but": a pain
        "Pains: Orders come in on scraps of paper and half of them get lost; "
        "The booking app never goes down, but it's painfully slow at lunchtime."
    )
    # what they have works: why they would not change, with the rep's answer
    assert (
        "Need: The till system has been rock solid for us, I'd hate to rip it out \u2192 We sit alongside"
        in _line(summary.summary, "Objections")
    )
    assert "Suppose the bakers hate it. Can we turn it off? \u2192 Yes, any month" in _line(
        summary.summary, "Questions"
    )
    assert summary.action_items == ["Customer: Send the rep the spreadsheet they use (due: Thursday)"]


def test_a_flagged_sentence_is_noted_as_what_it_is() -> None:
    segments = _call(
        ("customer", "I'm the practice manager. Pelham Vets, in Croydon, six vets and four nurses."),
        ("customer", "Right, you know what, let's go for it. Sign us up for the pilot."),
        ("rep", "Great."),
        ("customer", "And the contract. How long are we tied in for?"),
        ("rep", "Twelve months, then monthly."),
        ("customer", "Vetlink. We've used it since the practice opened."),
        ("customer", "If you send the twelve months' terms over, I think we're there."),
    )
    insights = [
        _flagged("objection.competitor", "Right, you know what, let's go for it."),
        _flagged("objection.price", "And the contract."),
        Insight(
            call_id="c",
            user_id="u",
            agent="search",
            category="x",
            kind="competitor.vetlink",
            content="brief",
            context_snippet="Vetlink.",
            entity="Vetlink",
        ),
    ]
    summary = draft_summary(segments, insights).summary
    # who they are comes after their role; "the twelve months' terms" is no size
    assert _line(summary, "Customer") == "Customer: Pelham Vets, in Croydon, six vets and four nurses."
    assert "Objections" not in summary  # a sign-up and a question's topic are no objections
    assert _line(summary, "Buying signals") == "Buying signals: Let's go for it. Sign us up for the pilot."
    assert "How long are we tied in for? \u2192 Twelve months, then monthly" in _line(summary, "Questions")
    assert _line(summary, "Competitors") == "Competitors: Vetlink (We've used it since the practice opened)."


def test_note_words_keep_what_is_said_on_purpose() -> None:
    assert tidy("I, I think the van, van two, is the problem.") == "I think the van, van two, is the problem."
    assert tidy("Tickets in the tray, tray on the desk.") == "Tickets in the tray, tray on the desk."


def test_who_decides_and_a_buying_question_with_its_answer() -> None:
    segments = _call(
        ("customer", "We're Brindle Print, nine staff in Hove."),
        ("customer", "Honestly, it's not my decision. The two directors both have to sign off on it."),
        ("rep", "Of course. Could I join that meeting?"),
        ("customer", "Sure. If we went ahead, could you move our old jobs across?"),
        ("rep", "Yes, every job from the last five years."),
    )
    insights = [
        _flagged("objection.authority", "Honestly, it's not my decision."),
        _flagged("signal.buying", "If we went ahead, could you move our old jobs across?"),
    ]
    summary = draft_summary(segments, insights).summary
    assert _line(summary, "Objections") == (
        "Objections: Authority: It's not my decision. The two directors both have to sign off on it"
        " \u2192 Could I join that meeting?"
    )  # who decides comes in the sentence after
    assert _line(summary, "Buying signals") == (
        "Buying signals: If we went ahead, could you move our old jobs across?"
        " \u2192 Yes, every job from the last five years."
    )


def test_a_reaction_is_nothing_for_a_question_to_lean_on() -> None:
    segments = _call(
        ("customer", "We're Kilnworth Pottery, three studios in Stroud."),
        ("customer", "See, that sounds really handy. Would the students get a login of their own for it?"),
        ("rep", "Yes, each student gets one."),
    )
    assert _line(draft_summary(segments, []).summary, "Questions") == (
        "Questions: Would the students get a login of their own for it? \u2192 Yes, each student gets one."
    )


def test_what_they_have_works_and_signing_up_in_other_words() -> None:
    assert defends("To be fair, the current one does everything we need.")
    assert defends("Our old vendor has never once let us down.")
    assert not defends("Does it work for us?")
    assert states(SIGN_UP, "Right, book us in for the pilot then.")
    assert not states(SIGN_UP, "Can you book us in for a demo?")  # a question, not a sign-up
