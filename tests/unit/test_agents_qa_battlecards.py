"""Battlecards and the company's own documents on Q&A: a question that names no competitor is
answered (and cited) from the company's own documents when one of them is confident, even where
a battlecard has a sentence on the same topic; a battlecard still answers a question about its
competitor once that competitor was briefed (before, the search agent's brief from the same
battlecard answers it), and a question only a battlecard answers once its competitor came up in
the call."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from tests.fakes.agents import USER, block, catalog_for, shared_embedder
from tests.fakes.store import MemoryStore
from wingman.agents.base import CallContext
from wingman.agents.qa import QaAgent, prefer_own_documents
from wingman.events import Insight
from wingman.llm.local import LocalLlm
from wingman.search.knowledge import KnowledgeBase, Passage

PRICING = b"""# Pricing

Billed per technician, per month. Dispatchers and office staff get their logins free.

## Plans

- Starter: 35 dollars per technician per month. Scheduling, invoices and the mobile app.
- Pro: 55 dollars per technician per month. Adds route planning and customer reminders.
"""

OPERATIONS = b"""# Day to day

## Mobile app

The app keeps working without a signal and sends the day's notes once the phone reconnects.

## Support

Support answers by chat and phone on weekdays from 7 in the morning to 7 in the evening.
"""

BATTLECARD = b"""# Battlecard: Ours vs Tallyho

Tallyho is a general job app for small trade businesses.

## Where we win

- Price: Tallyho charges 45 dollars for every user, office staff included, so a company with
  several dispatchers pays more than with us.
- Setup: Tallyho takes months to roll out with a consultant; most customers are live with us
  in two days.
"""


@pytest.fixture
async def qa() -> tuple[QaAgent, CallContext]:
    kb = KnowledgeBase(store=MemoryStore(), embedder=shared_embedder())
    await kb.add_document(USER, "pricing.md", PRICING, "text/markdown")
    await kb.add_document(USER, "operations.md", OPERATIONS, "text/markdown")
    await kb.add_document(USER, "battlecard-tallyho.md", BATTLECARD, "text/markdown")
    b = block("")
    return QaAgent(knowledge=kb, llm=LocalLlm()), CallContext(
        call_id=b.call_id, user_id=b.user_id, catalog=await catalog_for(kb)
    )


async def _cited(qa: tuple[QaAgent, CallContext], question: str) -> list[str]:
    agent, ctx = qa
    outcome = await agent.handle(block(question), ctx)
    return [PurePath(i.source or "").name for i in outcome.insights]


async def test_a_question_naming_no_competitor_cites_the_own_document(
    qa: tuple[QaAgent, CallContext],
) -> None:
    assert await _cited(qa, "Would we be paying for the people in the office as well?") == ["pricing.md"]


async def test_a_question_about_a_competitor_not_yet_briefed_is_left_to_its_brief(
    qa: tuple[QaAgent, CallContext],
) -> None:
    agent, ctx = qa
    outcome = await agent.handle(block("Why would we pick you over Tallyho on price?"), ctx)
    assert outcome.insights == []
    assert "left to the competitor brief" in outcome.run.output


async def test_a_question_about_a_competitor_briefed_earlier_cites_its_battlecard(
    qa: tuple[QaAgent, CallContext],
) -> None:
    agent, ctx = qa
    brief = Insight(
        call_id=ctx.call_id, user_id=ctx.user_id, agent="search", category="Competitor",
        kind="competitor.tallyho", content="Tallyho: ...", entity="Tallyho",
    )
    ctx.shown[brief.id] = brief
    assert await _cited(qa, "Why would we pick you over Tallyho on price?") == ["battlecard-tallyho.md"]


async def test_a_question_only_a_battlecard_answers_is_answered_once_its_competitor_came_up(
    qa: tuple[QaAgent, CallContext],
) -> None:
    agent, ctx = qa
    # nobody talked of Tallyho: its battlecard answers nothing in this call
    assert await _cited(qa, "How quickly could we be up and running?") == []
    ctx.recent.append(block("We had a demo from Tallyho last month, it looked fine."))
    assert await _cited(qa, "How quickly could we be up and running?") == ["battlecard-tallyho.md"]


def _passage(filename: str, dense: float) -> Passage:
    return Passage(
        chunk_id=filename, document_id=filename, filename=filename, heading="", body="x",
        dense=dense, lexical=0.0, fused=0.0, coverage=0.2, sentence=dense,
    )


def test_unnamed_battlecards_stay_only_when_clearly_closer() -> None:
    cards = {"battlecard-a.md", "battlecard-b.md"}
    own, card = _passage("pricing.md", 0.40), _passage("battlecard-a.md", 0.42)
    assert prefer_own_documents([card, own], cards, set(), 0.27) == [own]
    # the competitor is named: its battlecard keeps its place
    assert prefer_own_documents([card, own], cards, {"battlecard-a.md"}, 0.27) == [card, own]
    far = _passage("battlecard-b.md", 0.60)
    assert prefer_own_documents([far, own], cards, set(), 0.27) == [own, far]
    # no own passage is confident: the ranking stands
    weak = _passage("pricing.md", 0.10)
    assert prefer_own_documents([card, weak], cards, set(), 0.27) == [card, weak]
