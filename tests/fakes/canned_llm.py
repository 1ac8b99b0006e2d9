"""A scripted local engine for LLM fallback tests: a real Llm subclass that answers from the
request's structured context, as the local engine does (no prompt parsing)."""

from __future__ import annotations

from wingman.errors import ProviderConnectionError
from wingman.llm.base import Llm, LlmRequest, T


class CannedLlm(Llm):
    name = "local"

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, float]] = []  # (task, timeout it was given)

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        self.calls.append((request.task, timeout))
        if self.fail:
            raise ProviderConnectionError("canned engine told to fail")
        return request.schema.model_validate(request.context["local_answer"])
