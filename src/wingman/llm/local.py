"""The offline reasoning engine: answers the agents' LlmRequests without a generative model.

A request carries a prompt (for Gemini or an OpenAI-compatible model) and the structured
context it was built from; this engine reads only the context. By task:
- "coach":   the playbook tip chosen for the detected objection or signal (template fill),
             with the tenant's own fact for it (from its knowledge base) appended;
- "qa":      an extractive answer: the best-scored knowledge-base sentences, with their source,
             or "not answerable" when the best score is under the request's threshold;
- "search":  an extractive brief about a competitor or product from its best sentences, plus
             the top web result when there is one;
- "summary": the extractive call summary the caller drafted.
Answers are validated into the request's schema, as a generative provider's JSON would be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from wingman.errors import ProviderResponseError
from wingman.llm.base import Llm, LlmRequest, T

MAX_ANSWER_WORDS = 45


def _words(text: str) -> int:
    return len(text.split())


def _clean(sentence: str) -> str:
    s = sentence.strip().lstrip("-*0123456789.) ").strip()
    return s if s.endswith((".", "!", "?", ":")) else s + "."


def _candidates(context: Mapping[str, Any], key: str = "sentences") -> list[Mapping[str, Any]]:
    items = context.get(key) or []
    return sorted((c for c in items if c.get("text")), key=lambda c: -float(c.get("score", 0.0)))


def extract_answer(
    candidates: Sequence[Mapping[str, Any]], *, max_words: int = MAX_ANSWER_WORDS
) -> tuple[str, Mapping[str, Any] | None]:
    """The best-scored sentence, plus the runner-up from the same passage when it scores
    nearly as well and both fit in `max_words`; in document order."""
    if not candidates:
        return "", None
    best = candidates[0]
    chosen = [best]
    for other in candidates[1:4]:
        close = float(other.get("score", 0.0)) >= float(best.get("score", 0.0)) - 0.1
        same_passage = other.get("passage") == best.get("passage")
        if close and same_passage and _words(best["text"]) + _words(other["text"]) <= max_words:
            chosen.append(other)
            break
    chosen.sort(key=lambda c: int(c.get("position", 0)))
    text = " ".join(_clean(c["text"]) for c in chosen)
    words = text.split()
    if len(words) > max_words:
        text = " ".join(words[:max_words]).rstrip(",;") + "\u2026"
    return text, best


class LocalLlm(Llm):
    """Deterministic, offline, microseconds per request."""

    name = "local"

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        handler = getattr(self, f"_task_{request.task}", None)
        if handler is None:
            raise ProviderResponseError(f"the local engine has no task {request.task!r}")
        answer: dict[str, Any] = handler(request.context)
        try:
            return request.schema.model_validate(answer)
        except ValidationError as e:
            raise ProviderResponseError(f"local answer does not fit {request.schema.__name__}") from e

    # -- tasks
    def _task_coach(self, context: Mapping[str, Any]) -> dict[str, Any]:
        tips: list[str] = list(context.get("tips") or [])
        if not tips:
            return {"tip": "", "skip": True}
        tip = tips[int(context.get("tip_index", 0)) % len(tips)]
        try:
            tip = tip.format(**dict(context.get("values") or {}))
        except (KeyError, IndexError, ValueError):
            pass  # a tip with braces that are not placeholders stays as written
        fact = str(context.get("fact") or "").strip()
        if fact:  # the tenant's own fact for this tip, from its knowledge base
            tip = f"{tip.rstrip()} Yours: {_clean(fact)}"
        return {"tip": tip, "skip": False}

    def _task_qa(self, context: Mapping[str, Any]) -> dict[str, Any]:
        candidates = _candidates(context)
        confidence = float(context.get("confidence", 0.0))
        threshold = float(context.get("min_confidence", 0.0))
        if not candidates or confidence < threshold:
            return {"answerable": False, "answer": "", "source": None, "confidence": confidence}
        text, best = extract_answer(candidates)
        assert best is not None
        return {"answerable": True, "answer": text, "source": best.get("source"), "confidence": confidence}

    def _task_search(self, context: Mapping[str, Any]) -> dict[str, Any]:
        entity = str(context.get("entity", ""))
        candidates = _candidates(context)
        web = list(context.get("web") or [])
        parts: list[str] = []
        source: str | None = None
        url: str | None = None
        if candidates:
            text, best = extract_answer(candidates, max_words=55)
            parts.append(text)
            source = best.get("source") if best else None
        if web:
            top = web[0]
            snippet = re.sub(r"\s+", " ", str(top.get("snippet", ""))).strip()
            words = snippet.split()
            if len(words) > 35:
                snippet = " ".join(words[:35]) + "\u2026"
            if snippet:
                parts.append(f"Web: {snippet}")
            url = top.get("url")
            source = source or url
        if not parts:
            return {"summary": "", "source": None, "url": None, "entity": entity}
        return {"summary": " ".join(parts), "source": source, "url": url, "entity": entity}

    def _task_summary(self, context: Mapping[str, Any]) -> dict[str, Any]:
        draft = context.get("draft")
        if not isinstance(draft, Mapping):
            raise ProviderResponseError("summary request without a draft")
        return dict(draft)
