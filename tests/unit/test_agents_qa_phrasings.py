"""Q&A on questions asked in other words than the knowledge base uses: the spoken phrasing is
mapped to the documents' words, so the question clears the retrieval floor and cites the right
document, while a question the documents do not answer stays unanswered."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from tests.fakes.agents import USER, block, catalog_for, shared_embedder
from tests.fakes.store import MemoryStore
from wingman.agents.base import CallContext
from wingman.agents.qa import QaAgent, expand_question
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase

OPERATIONS = b"""# Day to day

## Field app

The iOS and Android app works offline in basements and parking garages; updates are sent once
the phone reconnects. Technicians log parts and hours against the work order.

## Requests

Tenants report a repair from the web portal or by text message. The portal is available in
English, Spanish and Portuguese. Emergency requests such as leaks or no heat page the on-call
technician at any hour.

## Data

Customers can export all their data as CSV at any time, including after they cancel.
"""

PRICING = b"""# Pricing

Billed per rental unit under management, per month. Staff logins are included at no extra charge.

## Plans

- Essentials: 1.50 dollars per unit per month. Request portal, work orders, mobile app.
- Plus: 2.40 dollars per unit per month. Adds preventive maintenance schedules and inspections.
- Every account has a minimum of 200 dollars a month.
"""


@pytest.fixture
async def qa() -> tuple[QaAgent, CallContext]:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    await kb.add_document(USER, "operations.md", OPERATIONS, "text/markdown")
    await kb.add_document(USER, "pricing.md", PRICING, "text/markdown")
    b = block("")
    return QaAgent(knowledge=kb, llm=LocalLlm()), CallContext(
        call_id=b.call_id, user_id=b.user_id, catalog=await catalog_for(kb)
    )


@pytest.mark.parametrize(
    ("question", "document"),
    [
        ("Our guys spend half the day in boiler rooms with zero bars, would the app just die on them?",
         "operations.md"),
        ("If we ever part ways, do we get to take our history with us, or is it locked up?", "operations.md"),
        ("What's the cheapest way in for a place our size?", "pricing.md"),
        ("Just so I can picture it, is the monthly number based on apartments or on logins?", "pricing.md"),
    ],
)
async def test_a_question_in_other_words_is_answered_from_the_right_document(
    qa: tuple[QaAgent, CallContext], question: str, document: str
) -> None:
    agent, ctx = qa
    outcome = await agent.handle(block(question), ctx)
    assert [PurePath(i.source or "").name for i in outcome.insights] == [document], outcome.run.output


async def test_a_question_the_documents_do_not_answer_stays_unanswered(
    qa: tuple[QaAgent, CallContext],
) -> None:
    agent, ctx = qa
    outcome = await agent.handle(block("Could members pay their monthly dues through it as well?"), ctx)
    assert outcome.insights == [], outcome.run.output


def test_an_emergency_in_passing_is_not_read_as_an_after_hours_question() -> None:
    question = "In July a dead unit is an emergency, can he write down the parts he used from his phone?"
    assert "on-call" not in expand_question(question)
    assert "language" in expand_question("Several of our members mostly speak Portuguese, can they use it?")
