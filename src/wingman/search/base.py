"""The search interface: the knowledge base and web providers both return SearchHits."""

from __future__ import annotations

from abc import ABC, abstractmethod

from pydantic import BaseModel


class SearchHit(BaseModel):
    title: str
    snippet: str
    source: str  # "knowledge" | "tavily" | "google" ...
    url: str | None = None  # for web results
    path: str | None = None  # document name for knowledge-base results
    document_id: str | None = None
    score: float = 0.0


class Search(ABC):
    name = "base"

    @abstractmethod
    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        """Best hits for `query`. Knowledge-base search is scoped to `user_id` (the tenant)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
