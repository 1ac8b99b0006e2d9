"""Search and Q&A agents: knowledge base first, web second within a deadline, LLM fallbacks."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from tests.fakes.agents import block, catalog_for, sample_knowledge
from wingman.agents.base import CallContext
from wingman.agents.qa import QaAgent
from wingman.agents.search import SearchAgent
from wingman.errors import ProviderTimeout
from wingman.llm.base import Llm, LlmRequest, T
from wingman.llm.local import LocalLlm
from wingman.search.base import Search, SearchHit
from wingman.search.knowledge import KnowledgeBase


class ScriptedWeb(Search):
    """A web search provider that answers from a script, optionally slowly."""

    name = "scripted-web"

    def __init__(self, hits: list[SearchHit], delay: float = 0.0) -> None:
        self.hits = hits
        self.delay = delay
        self.queries: list[str] = []

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        self.queries.append(query)
        await asyncio.sleep(self.delay)
        return self.hits[:limit]


class ScriptedLlm(Llm):
    """A generative provider stand-in: a fixed answer per task, or a timeout."""

    name = "scripted-llm"

    def __init__(self, answers: dict[str, BaseModel] | None = None) -> None:
        self.answers = answers or {}
        self.prompts: list[str] = []

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        self.prompts.append(request.prompt)
        answer = self.answers.get(request.task)
        if answer is None:
            raise ProviderTimeout("no answer in time")
        return request.schema.model_validate(answer.model_dump())


NEWS_HIT = SearchHit(title="Aircall raises prices", snippet="Aircall announced a 10% price "
                     "increase for its Professional plan starting next month.", source="scripted-web",
                     url="https://news.example/aircall-prices")
GONG_HIT = SearchHit(title="Gong", snippet="Gong is a revenue intelligence platform that records "
                     "and analyzes sales calls.", source="scripted-web", url="https://gong.example")


async def _ctx() -> tuple[CallContext, KnowledgeBase]:
    kb, _ = await sample_knowledge()
    return CallContext(call_id="call-1", user_id="user-1", catalog=await catalog_for(kb)), kb


async def test_competitor_brief_comes_from_the_battlecard_without_web() -> None:
    ctx, kb = await _ctx()
    web = ScriptedWeb([NEWS_HIT])
    agent = SearchAgent(knowledge=kb, web_search=web, llm=LocalLlm())
    outcome = await agent.handle(block("we are pretty deep into a trial with air call"), ctx)
    [insight] = outcome.insights
    assert insight.entity == "Aircall" and insight.source == "battlecard-aircall.md"
    assert insight.kind == "competitor.aircall" and insight.category == "Competitor"
    assert web.queries == []  # the knowledge base answered
    assert 'Aircall (competitor, heard as "air call")' in outcome.run.output


async def test_news_goes_to_the_web_and_unknown_names_too() -> None:
    ctx, kb = await _ctx()
    web = ScriptedWeb([NEWS_HIT])
    agent = SearchAgent(knowledge=kb, web_search=web, llm=LocalLlm())
    outcome = await agent.handle(block("I saw in the news that Aircall just raised prices."), ctx)
    [insight] = outcome.insights
    assert insight.category == "News" and "Web: Aircall announced" in insight.content
    assert web.queries == ["Aircall news"]
    gong = SearchAgent(knowledge=kb, web_search=ScriptedWeb([GONG_HIT]), llm=LocalLlm())
    [brief] = (await gong.handle(block("Our sales leaders swear by Gong."), ctx)).insights
    assert brief.source == "https://gong.example" and brief.entity == "Gong"


async def test_a_slow_web_search_is_cut_at_its_deadline() -> None:
    ctx, kb = await _ctx()
    agent = SearchAgent(knowledge=kb, web_search=ScriptedWeb([GONG_HIT], delay=5),
                        llm=LocalLlm(), web_timeout=0.05)
    outcome = await agent.handle(block("We've been using Gong for call recording."), ctx)
    assert outcome.insights == []
    assert "web search timed out" in outcome.run.output


async def test_product_questions_are_left_to_qa_and_product_mentions_briefed() -> None:
    ctx, kb = await _ctx()
    agent = SearchAgent(knowledge=kb, web_search=None, llm=LocalLlm())
    asked = await agent.handle(block("Does Relay integrate with Salesforce?"), ctx)
    assert asked.insights == [] and "left to the Q&A agent" in asked.run.output
    [brief] = (await agent.handle(block("We use hub spot for marketing."), ctx)).insights
    assert brief.kind == "product.hubspot" and brief.source == "integrations.md"
    rep = await agent.handle(block("Unlike Aircall we include analytics.", speaker="rep"), ctx)
    assert rep.insights == []


async def test_qa_uses_a_generative_answer_and_falls_back_to_local() -> None:
    from wingman.agents.qa import QaAnswer

    ctx, kb = await _ctx()
    question = block("How long does implementation usually take?")
    generative = ScriptedLlm({"qa": QaAnswer(answerable=True, answer="About two weeks.",
                                             source="made-up.md", confidence=0.9)})
    qa = QaAgent(knowledge=kb, llm=generative)
    [answer] = (await qa.handle(question, ctx)).insights
    assert answer.content == "About two weeks." and answer.provider == "scripted-llm"
    assert answer.source == "implementation.md"  # an invented source is replaced
    assert "Customer's question: How long does implementation usually take?" in generative.prompts[0]
    failing = QaAgent(knowledge=kb, llm=ScriptedLlm())
    [local] = (await failing.handle(question, ctx)).insights
    assert local.provider == "local" and local.source == "implementation.md"


async def test_qa_stays_silent_when_unsure_and_for_the_rep() -> None:
    ctx, kb = await _ctx()
    qa = QaAgent(knowledge=kb, llm=LocalLlm())
    unsure = await qa.handle(block("Did you see the game last night?"), ctx)
    assert unsure.insights == [] and "low retrieval confidence" in unsure.run.output
    rep = await qa.handle(block("Does it integrate with Salesforce?", speaker="rep"), ctx)
    assert rep.insights == [] and rep.run.output == "skipped: the rep is speaking"
    implicit = await qa.handle(block("I'm not sure how long setup takes."), ctx)
    [answer] = implicit.insights
    assert answer.source == "implementation.md" and answer.priority < 0.9
