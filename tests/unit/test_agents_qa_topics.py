"""Q&A on buyer questions about topics most knowledge bases cover, asked in everyday words:
moving the history over, where a job is at, rushing one job, whether the buyer's own customers
pay, a discount for volume, compliance regimes, reports, missed visits, how often, breakage; a
topic named just before its question ("And the price. At thirty seats, is there any kind of
break?"), and a topic somebody else will raise ("our lawyers are going to ask me about HIPAA").
Real MiniLM retrieval over a small knowledge base."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from tests.fakes.agents import USER, block, catalog_for, shared_embedder
from tests.fakes.store import MemoryStore
from wingman.agents.base import CallContext
from wingman.agents.phrasings import expand_question, vendor_words_held
from wingman.agents.qa import QaAgent, with_topic
from wingman.agents.text import question_kind
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase, Passage

DOCUMENTS = {
    "onboarding.md": b"""# Getting started

## Moving over from another system

During setup our team imports your customers, price lists and open jobs from the previous
system, and closed jobs as far back as you wish, with their invoices.

## Training

Two live training sessions for the office and a short video course for technicians.
""",
    "security.md": b"""# Security and compliance

## HIPAA

We sign a business associate agreement with every customer that handles patient records.

## Where data is kept

All data is hosted in data centers in Ohio and Oregon, encrypted in transit and at rest.
""",
    "portal.md": b"""# The customer portal

Each of your customers gets a login to a portal carrying your logo. They see the status of each
of their jobs as it moves through the stages, with the expected completion date.
""",
    "scheduling.md": b"""# Scheduling

## The day board

Jobs are laid out by day and by team, with late jobs in red.

## Rush jobs

A job can be marked as a rush when it is booked or later; rush jobs go to the top of their day
and every team sees them first.
""",
    "visits.md": b"""# Service visits

## Schedule

Crews come weekly or every other week, on a fixed day agreed at signup.

## Missed or late visits

If a crew misses a visit, it comes back within one working day at no charge, and you are told
by text as soon as a crew is running late.

## Equipment

Damaged or faulty equipment is replaced free of charge within two working days.
""",
    "reports.md": b"""# Reports

A monthly report sums up every site's work orders, hours and parts, with totals per site, and
can be downloaded as a PDF or a spreadsheet from the dashboard at any time.
""",
    "pricing.md": b"""# Pricing

Billed per technician seat, per month. Office staff get their logins at no charge, and your
customers never pay anything for the portal.

## Plans

- Core: 40 dollars per technician seat per month.
- Plus: 60 dollars per technician seat per month, with the customer portal.
- Companies with more than 25 technician seats receive a written quote with a volume discount.

## Terms

Cards and bank transfers are accepted, invoices go out on the first of the month, and there is
no long-term contract: plans run month to month and end on 30 days' notice.
""",
}


@pytest.fixture
async def qa() -> tuple[QaAgent, CallContext]:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    for name, text in DOCUMENTS.items():
        await kb.add_document(USER, name, text, "text/markdown")
    b = block("")
    return QaAgent(knowledge=kb, llm=LocalLlm()), CallContext(
        call_id=b.call_id, user_id=b.user_id, catalog=await catalog_for(kb)
    )


@pytest.mark.parametrize(
    ("said", "document"),
    [
        ("If we switch, do we have to start from scratch, or does our old history come with us?",
         "onboarding.md"),
        ("Could my customers check where their job is at without ringing the office?", "portal.md"),
        ("Say a client needs a boiler done tomorrow, can we bump it up so the crew does it first?",
         "scheduling.md"),
        ("Would my customers have to pay anything to use that portal?", "pricing.md"),
        ("Okay. And the price. With thirty technicians, is there any kind of break?", "pricing.md"),
        ("Fine. Our lawyers, they are going to ask me first thing about HIPAA.", "security.md"),
        ("Could I pull the numbers for each building at the end of the month, to show head office?",
         "reports.md"),
        ("Is there something I could hand the board at year end showing what we did?", "reports.md"),
        ("And if your lads forget us one Tuesday, then what?", "visits.md"),
        ("Say the truck doesn't come because of snow, do we just wait a week?", "visits.md"),
        ("How many times a month would you swing by?", "visits.md"),
        ("If a unit goes wrong halfway through the season, who sorts it out?", "visits.md"),
        ("My partner gets nervous about these things, so would we be tied down for three years, or could "
         "we walk away at the end of the season if the crew hates it?", "pricing.md"),
    ],
)
async def test_an_everyday_question_is_answered_from_the_right_document(
    qa: tuple[QaAgent, CallContext], said: str, document: str
) -> None:
    agent, ctx = qa
    outcome = await agent.handle(block(said), ctx)
    assert [PurePath(i.source or "").name for i in outcome.insights] == [document], outcome.run.output


def test_a_topic_named_just_before_the_question_goes_with_it() -> None:
    said = "Right. And the contract. Is it a year?"
    assert with_topic("Is it a year?", "Is it a year?", said) == "And the contract. Is it a year?"
    # a remark before the question is no topic
    said = "Fair enough. Is it a year?"
    assert with_topic("Is it a year?", "Is it a year?", said) == "Is it a year?"
    said = "We love the colours on the new screens. Is it a year?"
    assert with_topic("Is it a year?", "Is it a year?", said) == "Is it a year?"
    said = "Um, so, the other thing. Is it a year?"
    assert with_topic("Is it a year?", "Is it a year?", said) == "Is it a year?"


def test_a_topic_somebody_else_will_raise_is_a_question() -> None:
    assert question_kind("The board, they are going to ask me about the security side.") == "implicit"
    assert question_kind("They asked me about the security side last year.") is None


def test_everyday_words_map_to_the_documents_words() -> None:
    assert "discount" in expand_question("At forty users is there any sort of break?")
    assert "discount" not in expand_question("We take a break at noon, can it pause the timers?")
    assert "compliance" in expand_question("Do you cover GDPR?")
    assert "migration" in expand_question("Would we be starting over from zero?")
    assert "stored" in expand_question("I need to know where the customer files live.")
    assert "status" in expand_question("Can they see where their order is at?")
    assert "price" in expand_question("Would the drivers have to pay anything?")
    assert "rush" in expand_question("Can we make one jump the queue?")
    assert "reports monthly" not in expand_question("Can tenants report a leak from their phone?")
    assert "replacement" not in expand_question("What's the damage if we only take the basic plan?")


def test_a_passage_in_the_knowledge_base_words_of_a_recognized_phrasing() -> None:
    def passage(body: str) -> Passage:
        return Passage(chunk_id="c", document_id="d", filename="pricing.md", heading="Terms", body=body,
                       dense=0.2, lexical=0.0, fused=0.0)

    question = "Could we walk away if it does not work for us?"
    query = expand_question(question)
    assert vendor_words_held(query, question, passage("No long-term contract: plans run month to month "
                                                      "and end on 30 days' notice."))
    assert not vendor_words_held(query, question, passage("Setup takes two weeks with a trainer on site."))
    assert not vendor_words_held(question, question, passage("Plans run month to month."))
