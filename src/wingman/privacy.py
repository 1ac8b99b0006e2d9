"""Privacy: redaction of card numbers, phone numbers and emails, and call retention.

Redaction (`WINGMAN_REDACT=true`) happens where text enters Wingman: the call pipeline redacts
each transcript fragment as the speech engine hands it over (so the emitted, stored, aggregated
and agent-read text are all the redacted text), the insight sink redacts insights before they
are stored or shown, and the cloud LLM and web-search providers are wrapped so that nothing
they are sent was left unredacted (defense in depth). Audio itself cannot be redacted: with
Deepgram, audio still reaches Deepgram, so Deepgram is asked to redact the same three kinds in
the transcripts it makes (DEEPGRAM_REDACT), and they are redacted again on arrival.

- card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, that pass the Luhn check
  (so order numbers and the like are left alone);
- phone numbers: 7 to 15 digits in the usual written shapes (+44 20 7946 0958, (415) 555-0100,
  415.555.0100, 4155550100); bare short numbers ("forty agents", "30 dollars", "2024") are not;
- emails: anything shaped like local@domain.tld.

Retention (`WINGMAN_RETENTION_DAYS`): calls that started more than that many days ago are
deleted with everything attached to them (transcript, recommendations, agent runs, key moments,
action items), by a periodic task in the server and by `wingman retention`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from wingman.events import Insight, utcnow
from wingman.llm.base import Llm, LlmRequest, T
from wingman.search.base import Search, SearchHit

log = logging.getLogger(__name__)

CARD = "[redacted card]"
PHONE = "[redacted phone]"
EMAIL = "[redacted email]"
# Deepgram's `redact` values for the same kinds: its PCI group (card number, expiry, CVV) and two
# entity types. Not its `numbers` group: that takes every run of 3+ digits, prices included.
DEEPGRAM_REDACT = ("pci", "phone_number", "email_address")

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
# 13-19 digits, single spaces or dashes allowed between them; not glued to more digits
_CARD = re.compile(r"(?<![\d])(?<![\d][ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)")
_PHONE = re.compile(
    r"(?<![\w+])(?<![\d][ .-])"
    r"(?:\+\d{1,3}[ .-]?)?"  # country code
    r"(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-]?)?"  # area code
    r"\d{3,4}[ .-]?\d{3,4}"
    r"(?![ .-]?\d)(?!\w)"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return CARD if luhn_valid(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return text
    # plain digit runs of 7-9 digits are more often amounts or ids than phone numbers
    if text.isdigit() and len(digits) < 10:
        return text
    return PHONE


def redact_text(text: str) -> str:
    """`text` with card numbers, emails and phone numbers replaced by placeholders."""
    if not text or not any(c.isdigit() or c == "@" for c in text):
        return text  # the common case on the live path: nothing that could match
    text = _EMAIL.sub(EMAIL, text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def redact_insight(insight: Insight) -> Insight:
    """An insight whose shown and stored text is redacted (same id, so dedup still works)."""
    content = redact_text(insight.content)
    snippet = redact_text(insight.context_snippet)
    if content == insight.content and snippet == insight.context_snippet:
        return insight
    return insight.model_copy(update={"content": content, "context_snippet": snippet})


def redact_value(value: Any) -> Any:
    """Strings inside nested mappings, lists and tuples redacted; other values as they are."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(v) for v in value)
    return value


class RedactingLlm(Llm):
    """Wraps a cloud LLM: prompts and their structured context are redacted before sending."""

    def __init__(self, inner: Llm, *, redact: Callable[[str], str] = redact_text) -> None:
        self.inner = inner
        self.name = inner.name
        self._redact = redact

    def __repr__(self) -> str:
        return f"RedactingLlm({self.inner!r})"

    def _clean(self, request: LlmRequest[T]) -> LlmRequest[T]:
        return LlmRequest(
            task=request.task,
            system=self._redact(request.system),
            prompt=self._redact(request.prompt),
            schema=request.schema,
            context=redact_value(request.context),
        )

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        return await self.inner.complete(self._clean(request), timeout=timeout)

    async def stream(self, request: LlmRequest[T], *, timeout: float) -> AsyncIterator[str]:
        async for piece in self.inner.stream(self._clean(request), timeout=timeout):
            yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


class RedactingSearch(Search):
    """Wraps a web search provider: the query is redacted before it leaves the process."""

    def __init__(self, inner: Search, *, redact: Callable[[str], str] = redact_text) -> None:
        self.inner = inner
        self.name = inner.name
        self._redact = redact

    def __repr__(self) -> str:
        return f"RedactingSearch({self.inner!r})"

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        return await self.inner.search(self._redact(query), limit=limit, user_id=user_id)

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- retention


class RetentionStore(Protocol):
    async def purge_calls_before(self, *, cutoff: datetime) -> int: ...


async def purge_expired_calls(
    store: RetentionStore, *, retention_days: int, now: datetime | None = None
) -> int:
    """Delete every call (all tenants) that started more than `retention_days` ago."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    deleted = await store.purge_calls_before(cutoff=cutoff)
    if deleted:
        log.info("retention: old calls deleted", extra={"calls": deleted, "days": retention_days})
    return deleted


async def retention_loop(
    store: RetentionStore,
    *,
    retention_days: int,
    interval_seconds: float,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Purge at start, then every `interval_seconds`; a failed pass is logged and retried."""
    while True:
        try:
            await purge_expired_calls(store, retention_days=retention_days, now=clock())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention pass failed; retrying at the next interval")
        await asyncio.sleep(interval_seconds)
