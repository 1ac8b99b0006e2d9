"""The playbook: loading, validation, hot reload, detection; the coach's nudges and tips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.fakes.agents import block
from wingman.agents.base import CallContext, EntityCatalog
from wingman.agents.coach import SalesCoach
from wingman.agents.entities import EntityMatcher
from wingman.agents.playbook import Playbook, PlaybookError, PlaybookSource, parse_playbook
from wingman.errors import ConfigError
from wingman.llm.local import LocalLlm
from wingman.settings import DATA_DIR

PLAYBOOK = DATA_DIR / "playbook.yaml"


def _catalog() -> EntityCatalog:
    return EntityCatalog(EntityMatcher(["Aircall", "Salesforce"]),
                         {"Aircall": "competitor", "Salesforce": "product"},
                         {"Aircall": "battlecard-aircall.md"})


def test_shipped_playbook_covers_every_objection_kind() -> None:
    playbook = Playbook.load(PLAYBOOK)
    assert set(playbook.objections) == {"price", "timing", "authority", "need", "competitor", "trust"}
    assert "buying" in playbook.signals
    assert {"frustration", "hesitation"} <= set(playbook.tone)
    for kind, rule in playbook.rules():
        assert rule.tips and rule.patterns, kind


@pytest.mark.parametrize(
    ("text", "speaker", "kinds"),
    [
        ("Honestly, your price seems high.", "customer", {"objection.price"}),
        ("Honestly, your price seems high.", "rep", set()),  # the rep's words are not objections
        ("Honestly, your price seems high.", None, {"objection.price"}),  # mono call: unknown
        ("Price isn't really an issue if it does what you say.", "customer", {"signal.buying"}),
        ("We're also talking to air called.", "customer", {"objection.competitor"}),
        ("We already use Salesforce.", "customer", set()),  # a product, not a competitor
        ("I'll have to run this by my boss first.", "customer", {"objection.authority"}),
        # whoever they name, a title speech recognition got wrong included ("VP" heard as "MeMe")
        ("I will also need to check with my MeMe before we sign anything.", "customer",
         {"objection.authority"}),
        ("We need to talk with our ops lead before we decide.", "customer", {"objection.authority"}),
        ("At the end of the day it's the partners who sign, not me.", "customer", {"objection.authority"}),
        ("My crew is not exactly tech savvy, they just won't use it.", "customer", {"objection.need"}),
        ("Could our staff get by with the tablets we have?", "customer", set()),  # a question
        ("If the reference calls go well we'd start in June.", "customer", set()),  # not a doubt
        ("We'd like to get the north office on the trial in June.", "customer", {"signal.buying"}),
        ("We did get a quote from a local installer last spring.", "customer", set()),  # a past quote
        ("How long does it usually take to go live?", "customer", set()),  # a question, not a signal
        # naming the problem is a pain, not "we do not need it"
        ("We don't have a problem getting people in, our problem is keeping them.", "customer", set()),
        ("Mostly we don't, which is the problem.", "customer", set()),
        # hedged objections in long turns, and a closing in the customer's own words
        ("Two hundred a month is not nothing for a shop our size.", "customer", {"objection.price"}),
        ("I don't want the staff learning new software while all that is going on.", "customer",
         {"objection.timing"}),
        ("Anything over a few hundred a month needs the owners to approve it.", "customer",
         {"objection.authority"}),
        ("I'm not sure we'd get much out of it with only five people.", "customer",
         {"objection.need", "tone.hesitation"}),
        ("We tried something like this before and nobody ever opened it.", "customer", {"objection.need"}),
        ("Our previous provider lost a week of orders and never called us back.", "customer",
         {"objection.trust"}),
        ("Let's pencil in a kickoff for early May.", "customer", {"signal.buying"}),
        ("The last thing we need is more paperwork, so that part sounds good.", "customer", set()),
        # a plan named in a question is not a request to pay less
        ("How many users can we have on the cheaper plan?", "customer", set()),
        # decision-makers, a busy month and the paperwork in other words than the rules' examples
        ("Anything like that goes to our two founders, they'll want to see it first.", "customer",
         {"objection.authority"}),
        ("March is our crazy season, so changing software around then is a no.", "customer",
         {"objection.timing"}),
        ("Great, email me whatever we need to sign and I'll get it back today.", "customer",
         {"signal.buying"}),
        ("Let's get the practice manager on a call on Monday.", "customer", {"signal.buying"}),
        ("It goes to the same warehouse every week.", "customer", set()),  # not a decision-maker
        ("We switched providers then, and it went fine.", "customer", set()),  # a past switch, no doubt
        # informal closings, a freeze and a decision-maker in everyday British phone English
        ("Right, go on then, we'll give it a go on the Leeds site.", "customer", {"signal.buying"}),
        ("Okay, let's do it, I'll tell the team tonight.", "customer", {"signal.buying"}),
        ("Could you post us three of the scanners so the girls can try them?", "customer",
         {"signal.buying"}),
        ("If it works out, we'd want all our sites moved over by spring.", "customer", {"signal.buying"}),
        ("The parents would love it if the app sent a reminder.", "customer", set()),  # a feature wish
        ("The car park this afternoon was rammed.", "customer", set()),  # traffic, not a delay
        ("We go into the summer run in June, so it's mad.", "customer", {"objection.timing"}),
        ("Honestly, nobody's touching anything new until the audit is done.", "customer",
         {"objection.timing"}),
        ("It's Sandra, the director, who signs off on anything like that.", "customer",
         {"objection.authority"}),
        ("Our last booking firm went bust on us overnight.", "customer", {"objection.trust"}),
        ("I'm wary of signing with a small outfit again.", "customer", {"objection.trust"}),
    ],
)
def test_detection(text: str, speaker: str | None, kinds: set[str]) -> None:
    playbook = Playbook.load(PLAYBOOK)
    catalog = _catalog()
    found = playbook.detect(text, speaker=speaker, entities=catalog.matcher.find(text),
                            competitors=catalog.competitors)
    assert {d.kind for d in found} == kinds


def test_bad_playbooks_are_config_errors(tmp_path: Path) -> None:
    bad_yaml = tmp_path / "a.yaml"
    bad_yaml.write_text("objections: [")
    with pytest.raises(ConfigError):
        Playbook.load(bad_yaml)
    bad_pattern = tmp_path / "b.yaml"
    bad_pattern.write_text(PLAYBOOK.read_text().replace(r"'\b(too|so|really", r"'\b((too|so|really", 1))
    with pytest.raises(ConfigError, match=r"objections\.price\.patterns\[0\]: bad regular expression"):
        Playbook.load(bad_pattern)


def test_parse_playbook_names_every_bad_trigger() -> None:
    raw = yaml.safe_load(PLAYBOOK.read_text())
    assert parse_playbook(raw).objections["price"].label == "Price objection"  # a dict works too
    raw["objections"]["timing"]["patterns"][1] = "(unclosed"
    raw["signals"]["buying"]["tips"] = []
    raw["tone"]["frustration"]["exclude"] = ["[z-a]"]
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(raw)
    assert caught.value.problems == [
        "signals.buying.tips: List should have at least 1 item after validation, not 0"]
    raw["signals"]["buying"]["tips"] = ["Confirm the next step."]
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(raw)
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "objections.timing.patterns[1]", "tone.frustration.exclude[0]"]
    assert all("bad regular expression" in p for p in problems)
    with pytest.raises(PlaybookError, match="not valid YAML"):
        parse_playbook("objections: [")
    with pytest.raises(PlaybookError, match="mapping"):
        parse_playbook("- a list")


def test_edits_are_picked_up_and_broken_edits_ignored(tmp_path: Path) -> None:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK.read_text())
    source = PlaybookSource(path, check_every=0.0)
    first = source.current()
    path.write_text(PLAYBOOK.read_text().replace("label: Price objection", "label: Budget talk"))
    os.utime(path, (1, 1))  # a different mtime, whatever the clock resolution
    assert source.current().objections["price"].label == "Budget talk"
    path.write_text("not: [valid")
    os.utime(path, (2, 2))
    assert source.current().objections["price"].label == "Budget talk"
    assert first.objections["price"].label == "Price objection"


async def test_coach_tips_rotate_and_competitor_with_battlecard_is_left_to_search() -> None:
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm())
    ctx = CallContext(call_id="call-1", user_id="user-1", catalog=_catalog())
    first = await coach.handle(block("That's way too expensive for us.", seq=1), ctx)
    ctx.gate.shown["objection.price"] += 1  # the gate showed it
    second = await coach.handle(block("The price is just too high.", seq=2), ctx)
    assert [i.kind for i in first.insights] == ["objection.price"]
    assert first.insights[0].content != second.insights[0].content  # the next tip, not the same
    # the reasoning a manager reads: the rule's name and the words heard, no regular expression
    assert first.run.output == 'Price objection: heard "way too expensive"'
    assert "tip 2 of" in second.run.output
    named = await coach.handle(block("We're also talking to Aircall.", seq=3), ctx)
    assert named.insights == []
    generic = await coach.handle(block("We're also talking to a few other vendors.", seq=4), ctx)
    assert [i.kind for i in generic.insights] == ["objection.competitor"]


async def test_a_price_objection_naming_a_competitor_just_briefed_gets_the_price_tip() -> None:
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm())
    ctx = CallContext(call_id="call-1", user_id="user-1", catalog=_catalog())
    price = "Aircall, your price seems high."
    # first mention: the search agent's brief (with its price angle) answers it
    assert (await coach.handle(block(price, seq=1, start=20.0, end=22.0), ctx)).insights == []
    ctx.gate.entities["aircall"] = 22.0  # the gate showed the Aircall brief; another is a repeat
    again = await coach.handle(block(price, seq=2, start=25.0, end=27.0), ctx)
    assert [i.kind for i in again.insights] == ["objection.price"]
    # long after (past the gate's repeat window) the competitor is briefed again
    late = await coach.handle(block(price, seq=3, start=400.0, end=402.0), ctx)
    assert late.insights == []


async def test_coach_says_nothing_on_small_talk_and_records_it() -> None:
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm())
    ctx = CallContext(call_id="call-1", user_id="user-1")
    outcome = await coach.handle(block("We finally got some sun up here."), ctx)
    assert outcome.insights == []
    assert outcome.run.output == "nothing to say" and outcome.run.agent == "coach"


async def test_example_matching_never_waits_for_the_examples() -> None:
    from tests.fakes.agents import shared_embedder

    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm(), embedder=shared_embedder())
    ctx = CallContext(call_id="call-1", user_id="user-1")
    unusual = block("Finance will push back hard on that number.")  # no pattern says this
    assert await coach.detect(unusual, ctx) == []  # examples not embedded yet: patterns only
    await coach.start()
    assert [f.kind for f in await coach.detect(unusual, ctx)] == ["objection.price"]


async def test_a_price_tip_brings_the_workspaces_own_pricing_facts_cited() -> None:
    from tests.fakes.agents import shared_embedder
    from tests.fakes.store import MemoryStore
    from wingman.search.knowledge import KnowledgeBase

    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    company = Path(__file__).parents[1] / "data" / "eval" / "companies" / "lumen-ledger"
    pricing = company / "knowledge" / "pricing.md"
    await kb.add_document("user-1", pricing.name, pricing.read_bytes(), "text/markdown")
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm(), knowledge=kb)
    ctx = CallContext(call_id="call-1", user_id="user-1")
    outcome = await coach.handle(block("Honestly, that is more than we budgeted for this year."), ctx)
    [tip] = outcome.insights
    assert tip.kind == "objection.price" and tip.source == "pricing.md"
    assert "Yours:" in tip.content and ("trial" in tip.content or "20%" in tip.content)
    assert "Relay" not in tip.content and "18%" not in tip.content  # no other company's facts
    # a question about price is not an objection
    asked = await coach.handle(block("How much does the Practice plan cost per user?", seq=2), ctx)
    assert asked.insights == []


async def test_examples_hear_an_objection_next_to_a_tone_pattern_but_not_in_a_plain_question() -> None:
    from tests.fakes.agents import shared_embedder

    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm(), embedder=shared_embedder())
    await coach.start()
    ctx = CallContext(call_id="call-1", user_id="user-1")
    # "hesitant" fires the tone rule; the objection in the same sentence is still heard
    hesitant = block("I'm hesitant, finance will push back hard on that number.")
    assert {f.kind for f in await coach.detect(hesitant, ctx)} == {"tone.hesitation", "objection.price"}
    # a question about the contract is near the timing examples, and is the Q&A agent's
    asked = block("Would we be tied in for a year, or could we walk away if it doesn't work for us?")
    assert [f.kind for f in await coach.detect(asked, ctx) if f.kind.startswith("objection.")] == []


async def test_goodbyes_own_tasks_and_the_reasons_for_a_question_are_no_objections() -> None:
    from tests.fakes.agents import shared_embedder

    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm(), embedder=shared_embedder())
    await coach.start()
    ctx = CallContext(call_id="call-1", user_id="user-1")
    # MiniLM puts a goodbye near "reach out again in the fall"
    assert await coach.detect(block("Thanks, Marcus. Talk soon."), ctx) == []
    # the customer gathering the numbers is a next step, not a price objection
    task = block("And we'll find out which branches want the reminders, so we know the numbers.")
    assert "objection.price" not in {f.kind for f in await coach.detect(task, ctx)}
    # alone, this sentence is near the timing examples; after a question it says why it is asked
    reason = "If it's abroad, that's a conversation I'd rather avoid for now."
    assert {f.kind for f in await coach.detect(block(reason), ctx)} == {"objection.timing"}
    assert await coach.detect(block("Where are the backups kept? " + reason), ctx) == []


async def test_asking_for_a_start_date_is_a_buying_signal() -> None:
    coach = SalesCoach(playbook=PlaybookSource(PLAYBOOK), llm=LocalLlm())
    ctx = CallContext(call_id="call-1", user_id="user-1")
    asked = await coach.detect(block("Can you have it switched on for the first of next month?"), ctx)
    assert [(f.kind, f.why) for f in asked] == [("signal.buying", "Buying signal: asks for a start date")]
    rep = block("Can you have it switched on for the first of next month?", speaker="rep")
    assert await coach.detect(rep, ctx) == []
