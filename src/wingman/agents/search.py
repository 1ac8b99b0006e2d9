"""Search agent: when the customer names a competitor or a product (even misheard), brief the
rep from the knowledge base first (battlecards, integration docs), then from the web provider
when there is one and the knowledge base is silent or the mention is news, within a deadline."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from pydantic import BaseModel

from wingman.agents.base import Agent, AgentOutcome, CallContext, ask_llm, snippet, stable_id, system_prompt
from wingman.agents.qa import SKIPPED_REP, canonical_query
from wingman.agents.text import question_kind
from wingman.errors import ProviderError
from wingman.events import Insight, TranscriptBlock
from wingman.llm.base import Llm, LlmRequest
from wingman.llm.local import LocalLlm
from wingman.profile import company_name
from wingman.search.base import Search, SearchHit
from wingman.search.knowledge import KnowledgeBase, Passage

SEARCH_SYSTEM = """You are Wingman, whispering to a sales rep during a live call. {company}
The customer just mentioned a competitor or a product. From the knowledge-base passages (and web
results, if any) write the brief the rep needs now:
- for a competitor: where the rep's company wins against it and how to position, from the
  battlecard; when the customer talks about price, lead with the battlecard's price angle;
- for a product: how the rep's company works with it; for news: the news in one line;
- at most 55 words, facts only from the material given, never disparage the competitor;
- "source" is the file name (or URL) you used; leave "summary" empty if nothing is relevant.
Reply with JSON only, matching the schema."""

NEWS = re.compile(
    r"\b(news|announc\w*|acquir\w*|acquisition|merg\w*|funding|raised \$|raised (?:a|their|its|"
    r"prices)|layoffs?|laid off|launch\w*|price increase|went public|ipo|outage|breach|lawsuit|"
    r"rebrand\w*|shut(?:ting)? down)\b",
    re.I,
)


# the customer talks about money: the brief leads with the battlecard's price angle
PRICE = re.compile(
    r"\b(price[ds]?|pricing|cheaper|cheap|cost[s]?|costly|expensive|budget|per seat|a seat|"
    r"dollars?|discount\w*|quoted?|lower|less)\b",
    re.I,
)


class SearchBrief(BaseModel):
    summary: str
    source: str | None = None
    url: str | None = None
    entity: str = ""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


class SearchAgent(Agent):
    name = "search"

    def __init__(
        self,
        *,
        knowledge: KnowledgeBase,
        web_search: Search | None,
        llm: Llm,
        web_timeout: float = 1.2,
        llm_timeout: float = 1.2,
        max_entities: int = 2,
        min_confidence: float = 0.8,
    ) -> None:
        self.knowledge = knowledge
        self.web_search = web_search
        self.llm = llm
        self.web_timeout = web_timeout
        self.llm_timeout = llm_timeout
        self.max_entities = max_entities
        self.min_confidence = min_confidence
        self._local = LocalLlm()

    async def warm(self, user_id: str) -> None:
        await self.knowledge.warm(user_id)

    async def _knowledge(
        self, user_id: str, company: str, name: str, kind: str, document: str | None, sentence: str
    ) -> list[Passage]:
        if kind == "competitor":
            query = f"{company} vs {name}: where {company} wins and talk track. {sentence}"
        else:
            query = f"{company} integration with {name}. {sentence}"
        passages = await self.knowledge.retrieve(user_id, query, limit=5)
        lowered = name.lower()
        # only passages about this entity: its own document, or ones that name it
        return [
            p
            for p in passages
            if (document and p.filename == document) or lowered in f"{p.heading} {p.body}".lower()
        ][:2]

    async def _web(self, query: str) -> tuple[list[SearchHit], str | None]:
        if self.web_search is None:
            return [], None
        try:
            async with asyncio.timeout(self.web_timeout):
                return await self.web_search.search(query, limit=3), None
        except TimeoutError:
            return [], "web search timed out"
        except ProviderError as e:
            return [], f"web search failed ({type(e).__name__})"

    async def _brief(self, request: LlmRequest[SearchBrief]) -> tuple[SearchBrief, str]:
        return await ask_llm(self.llm, self._local, request, timeout=self.llm_timeout, local_timeout=1.0)

    async def handle(self, block: TranscriptBlock, ctx: CallContext) -> AgentOutcome:
        started = time.perf_counter()
        if block.speaker == "rep":
            return self.outcome(block, started=started, rule_or_prompt="speaker filter", output=SKIPPED_REP)
        matches = [m for m in ctx.catalog.matcher.find(block.text) if m.confidence >= self.min_confidence][
            : self.max_entities
        ]
        if not matches:
            return self.outcome(
                block,
                started=started,
                rule_or_prompt="entity matcher",
                output="no competitor or product mentioned",
            )
        is_question = question_kind(block.text) is not None
        news = NEWS.search(block.text) is not None
        price = PRICE.search(block.text) is not None
        company = company_name(ctx.profile)
        sentence = canonical_query(block.text, ctx)
        insights: list[Insight] = []
        notes: list[str] = []
        prompts: list[str] = []
        provider = "local"
        for match in matches:
            kind = ctx.catalog.kinds.get(match.name, "competitor")
            heard = "" if match.method == "exact" else f', heard as "{match.surface}"'
            found = f"{match.name} ({kind}{heard})"
            if kind == "product" and is_question and not news:
                notes.append(f"{found}: a question about it, left to the Q&A agent")
                continue
            passages = await self._knowledge(
                block.tenant, company, match.name, kind, ctx.catalog.documents.get(match.name), sentence
            )
            web: list[SearchHit] = []
            if news or not passages:
                web, web_error = await self._web(f"{match.name} {'news' if news else ''}".strip())
                if web_error:
                    notes.append(f"{found}: {web_error}")
            if not passages and not web:
                notes.append(f"{found}: nothing in the knowledge base or on the web")
                continue
            if kind == "competitor":
                query = f"{match.name}: where {company} wins"
                if price:  # "they are cheaper": the battlecard's price and total-cost angle first
                    query = f"{match.name} price, cost and add-ons compared with {company}"
            else:
                query = f"{company} and {match.name}"
            context: dict[str, Any] = {
                "entity": match.name,
                "kind": kind,
                "news": news,
                "price": price,
                "sentences": await self.knowledge.rank_sentences(f"{query}. {sentence}", passages),
                "web": [h.model_dump() for h in web],
            }
            material = "\n\n".join(f"{p.filename} — {p.title}\n{p.body}" for p in passages)
            material += "".join(f"\n\nWeb: {h.title} ({h.url})\n{h.snippet}" for h in web)
            prompt = (
                f"Mentioned: {match.name} ({kind}{', news' if news else ''}"
                f"{', price comes up' if price else ''})\n"
                f"Customer said: {sentence}\n\nMaterial:\n{material}\n\n"
                'Schema: {"summary": str, "source": str | null, "url": str | null, '
                '"entity": str}'
            )
            prompts.append(prompt)
            brief, provider = await self._brief(
                LlmRequest(
                    task="search",
                    system=system_prompt(SEARCH_SYSTEM, ctx.profile),
                    prompt=prompt,
                    schema=SearchBrief,
                    context=context,
                )
            )
            if not brief.summary.strip():
                notes.append(f"{found}: nothing relevant to say")
                continue
            sources = {p.filename for p in passages} | {h.url for h in web if h.url}
            source = (
                brief.source
                if brief.source in sources
                else (passages[0].filename if passages else web[0].url)
            )
            category = "News" if news and web else ("Competitor" if kind == "competitor" else "Product")
            insights.append(
                Insight(
                    id=stable_id(block.call_id, block.seq, self.name, match.name),
                    call_id=block.call_id,
                    user_id=block.user_id,
                    workspace_id=block.workspace_id,
                    block_id=block.id,
                    agent="search",
                    category=category,
                    kind=f"{kind}.{_slug(match.name)}",
                    content=f"{match.name}: {brief.summary.strip()}",
                    context_snippet=snippet(block.text),
                    source=source,
                    entity=match.name,
                    confidence=round(match.confidence, 3),
                    priority=0.8 if kind == "competitor" else 0.6,
                    provider=provider,
                    audio_end_at=block.audio_end_at,
                )
            )
            notes.append(f"{found}: briefed from {source}")
        return self.outcome(
            block,
            started=started,
            insights=insights,
            provider=provider,
            rule_or_prompt="\n---\n".join(prompts) or "entity matcher",
            output="; ".join(notes),
        )
