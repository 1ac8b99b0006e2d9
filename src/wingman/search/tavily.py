"""Tavily web search: `POST {base_url}/search` with `Authorization: Bearer <key>` and a JSON
body (`query`, `max_results`, `search_depth`, `topic`, `include_*` flags), per Tavily's API
reference. Results become SearchHits with their URL; failures become wingman.errors.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from wingman.errors import (
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.http_errors import status_error
from wingman.redaction import protect
from wingman.search.base import Search, SearchHit

log = logging.getLogger(__name__)

MAX_RESULTS = 20  # Tavily accepts 0 < max_results <= 20


class TavilySearch(Search):
    """Tavily `/search`; the httpx client comes from the container."""

    name = "tavily"

    def __init__(
        self,
        *,
        api_key: SecretStr,
        base_url: str = "https://api.tavily.com",
        client: httpx.AsyncClient,
        timeout_seconds: float = 1.5,
        search_depth: Literal["basic", "advanced"] = "basic",
        topic: Literal["general", "news"] = "general",
    ) -> None:
        protect(api_key)
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self._client = client
        self.timeout_seconds = timeout_seconds
        self.search_depth = search_depth
        self.topic = topic

    def __repr__(self) -> str:
        return f"TavilySearch(base_url={self.base_url!r})"

    def body(self, query: str, limit: int) -> dict[str, Any]:
        """The JSON body of a search request."""
        return {
            "query": query,
            "max_results": max(1, min(limit, MAX_RESULTS)),
            "search_depth": self.search_depth,
            "topic": self.topic,
            "include_answer": False,
            "include_raw_content": False,
            "include_images": False,
        }

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.post(
                    f"{self.base_url}/search",
                    json=self.body(query, limit),
                    headers=headers,
                    timeout=self.timeout_seconds,
                )
                data = response.json() if response.status_code == 200 else None
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderTimeout(f"tavily did not answer within {self.timeout_seconds}s") from None
        except httpx.HTTPError as e:
            raise ProviderConnectionError(f"tavily unreachable ({type(e).__name__})") from None
        except ValueError:
            raise ProviderResponseError("tavily answered with malformed JSON") from None
        if response.status_code != 200:
            # 432/433: Tavily's plan and pay-as-you-go limits
            status = response.status_code
            raise status_error("tavily", status, rate_limited=status in (432, 433))
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ProviderResponseError("tavily answer has no results list")
        hits = []
        for item in results[:limit]:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            hits.append(
                SearchHit(
                    title=str(item.get("title") or item["url"]),
                    snippet=str(item.get("content") or ""),
                    source=self.name,
                    url=str(item["url"]),
                    score=float(item.get("score") or 0.0),
                )
            )
        return hits


