"""What the coach's nearest-example path must not call an objection: a piece of a question, a
topic named before its question, a competitor objection that names no alternative, a wish, a
plain question near a kind held to a higher bar. Every sentence here is new to the playbook's
examples and to the labelled sets; each test also shows the words alone do sound like the
objection, so the rule, not a lucky miss, is what keeps it out."""

from __future__ import annotations

import pytest

from tests.fakes.agents import block, shared_embedder
from wingman.agents.base import CallContext
from wingman.agents.coach import SalesCoach, topics_joined
from wingman.agents.examples import ExampleMatcher
from wingman.agents.playbook import Playbook, PlaybookError, PlaybookSource, parse_playbook
from wingman.llm.local import LocalLlm
from wingman.settings import DATA_DIR

PLAYBOOK = DATA_DIR / "playbook.yaml"


@pytest.fixture
async def coach() -> SalesCoach:
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm(), embedder=shared_embedder())
    await coach.start()
    return coach


async def _kinds(coach: SalesCoach, text: str) -> set[str]:
    ctx = CallContext(call_id="call-1", user_id="user-1")
    return {f.kind for f in await coach.detect(block(text), ctx, deconflict=False)}


async def _matched(text: str, playbook: Playbook | None = None) -> set[str]:
    matcher = ExampleMatcher(playbook or Playbook.load(PLAYBOOK), shared_embedder())
    return {m.kind for m in await matcher.match([text])}


async def test_a_piece_of_a_question_is_no_objection(coach: SalesCoach) -> None:
    # the piece alone sounds like a price complaint; the question only asks about the cost
    assert await _matched("So the licence cost") == {"objection.price"}
    assert await _kinds(coach, "So the licence cost, would that go up each year?") == set()
    assert await _matched("or pay extra for it") == {"objection.price"}
    assert await _kinds(coach, "Our accountants, would they have to pay extra for it?") == set()
    # a piece of a question still holds a signal
    asked = "Is there a setup fee, because we'd like to get going this month?"
    assert await _kinds(coach, asked) == {"signal.buying"}


async def test_a_topic_named_before_its_question_is_part_of_it(coach: SalesCoach) -> None:
    assert await _kinds(coach, "And the per-seat price.") == {"objection.price"}
    assert await _kinds(coach, "And the per-seat price. Does that include the mobile app?") == set()
    assert topics_joined(["Okay.", "Now, the setup cost.", "Is that charged once?"]) == [
        "Okay.",
        "Now, the setup cost, is that charged once?",
    ]
    # a sentence that says something is no topic, and a topic with no question stays alone
    assert topics_joined(["Too expensive.", "Can you do better?"]) == ["Too expensive.", "Can you do better?"]
    assert topics_joined(["Right, the money.", "I can't find that."]) == [
        "Right, the money.",
        "I can't find that.",
    ]


async def test_a_competitor_objection_by_examples_names_an_alternative(coach: SalesCoach) -> None:
    # near "we're already halfway through a trial with someone else", naming nobody else
    proposal = "We'll have a few more questions once we've been through the proposal."
    assert "objection.competitor" in await _matched(proposal, _without_requirements())
    assert "objection.competitor" not in await _kinds(coach, proposal)
    # with the competitor ruled out, the trial request is the signal it sounds like
    assert await _kinds(coach, "Let's do the two week trial and see how the crew gets on.") == {
        "signal.buying"
    }
    # an alternative named: still a competitor objection
    assert await _kinds(coach, "Someone else offered us three months free.") == {"objection.competitor"}


async def test_a_wish_is_a_need_not_an_objection(coach: SalesCoach) -> None:
    # the same topic said as a fact is an authority objection; wished away, it is a need
    assert await _kinds(coach, "My manager has to sign every timesheet.") == {"objection.authority"}
    for wish in (
        "I'd love it if my manager didn't have to sign every timesheet.",
        "It would be great if head office could see it without calling me.",
    ):
        assert await _kinds(coach, wish) == set(), wish
    # the wish is a clause of its own: what follows "but" is still heard (by the examples)
    said = "I'd love to, but the owners pick every supplier themselves."
    assert await _kinds(coach, said) == {"objection.authority"}


async def test_a_kind_can_be_held_to_a_higher_bar() -> None:
    playbook = Playbook.load(PLAYBOOK)
    assert playbook.matching.threshold_for("objection.trust") > playbook.matching.threshold
    assert playbook.matching.threshold_for("objection.price") == playbook.matching.threshold
    # a question about downtime is near the trust examples, below trust's own bar
    question = "How often does the system go down?"
    flat = playbook.model_copy(
        update={"matching": playbook.matching.model_copy(update={"kind_thresholds": {}})}
    )
    assert await _matched(question, flat) == {"objection.trust"}
    assert await _matched(question, playbook) == set()
    assert await _matched("Are you a new company?", playbook) == {"objection.trust"}


def test_a_bad_requirement_is_named() -> None:
    raw = Playbook.load(PLAYBOOK).model_dump()
    raw["objections"]["competitor"]["examples_require"] = ["(unclosed"]
    with pytest.raises(PlaybookError) as e:
        parse_playbook(raw)
    assert e.value.problems[0].startswith("objections.competitor.examples_require[0]: bad regular expression")


def _without_requirements() -> Playbook:
    raw = Playbook.load(PLAYBOOK).model_dump()
    for family in ("objections", "signals", "tone"):
        for rule in raw[family].values():
            rule["examples_require"] = []
    return parse_playbook(raw)


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Honestly I doubt it's designed for a practice our size.", {"objection.need"}),
        ("It feels built for much bigger operations than us.", {"objection.need"}),
        ("I'm a bit gun-shy after what happened with the last supplier.", {"objection.trust"}),
        # said without doubt, fitting them is a reason to buy, not an objection
        ("That's why we called, it's made for firms like ours.", set()),
    ],
)
def test_a_doubt_about_fit_and_wariness_after_a_bad_experience(text: str, kinds: set[str]) -> None:
    found = {d.kind for d in Playbook.load(PLAYBOOK).detect(text, speaker="customer")}
    assert {k for k in found if k.startswith("objection.")} == kinds


async def test_a_question_needs_the_question_margin_to_be_a_signal_too(coach: SalesCoach) -> None:
    # a hypothetical question about moving the history is near "what would we need to have ready
    # for the migration?": the Q&A agent answers it; it is no close
    hypothetical = "Supposing we moved across, would the history come with us?"
    assert await _matched(hypothetical) == {"signal.buying"}
    assert await _kinds(coach, hypothetical) == set()
    # a question that clearly sounds like buying more still is a signal
    assert await _kinds(coach, "Could we add the warehouse team later on?") == {"signal.buying"}
