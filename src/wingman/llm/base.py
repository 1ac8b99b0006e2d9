"""The reasoning interface the agents and the end-of-call summary use.

A request names its `task` and carries both a prompt (for generative providers) and the
structured `context` it was built from, so the local engine can answer the same request with
rules, retrieval and templates instead of parsing a prompt. Answers are instances of the
request's pydantic `schema`: generative providers ask for JSON in that schema.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class LlmRequest(Generic[T]):
    task: str  # "coach" | "qa" | "search" | "summary" ...
    system: str
    prompt: str
    schema: type[T]
    context: Mapping[str, Any] = field(default_factory=dict)


class Llm(ABC):
    name = "base"

    @abstractmethod
    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        """Answer `request` within `timeout` seconds or raise a ProviderError."""

    async def stream(self, request: LlmRequest[T], *, timeout: float) -> AsyncIterator[str]:
        """Stream text; by default the completed answer's JSON in one piece."""
        answer = await self.complete(request, timeout=timeout)
        yield answer.model_dump_json()

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients."""
