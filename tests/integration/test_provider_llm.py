"""GeminiLlm and OpenAiCompatLlm against loopback stand-ins of their HTTP APIs, and FallbackLlm."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tests.fakes import gemini_server, openai_server
from tests.fakes.canned_llm import CannedLlm
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.http_stub import Reply
from tests.fakes.openai_server import FakeOpenAi
from wingman.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.health import ProviderEvent, ProviderHealth
from wingman.llm.base import Llm, LlmRequest
from wingman.llm.fallback import FallbackLlm, answered_by
from wingman.llm.gemini import GeminiLlm
from wingman.llm.openai_compat import OpenAiCompatLlm


class Tip(BaseModel):
    kind: Literal["objection.price", "competitor", "none"]
    content: str
    confidence: float = Field(ge=0, le=1)
    sources: list[str] = Field(default_factory=list)


GOOD = {
    "kind": "objection.price",
    "content": "Anchor on value: agents saved per week.",
    "confidence": 0.8,
    "sources": ["pricing-and-discounts.md"],
}
LOCAL = {"kind": "objection.price", "content": "Ask what budget they had in mind.", "confidence": 0.6}
REQUEST = LlmRequest(
    task="coach",
    system="You coach a sales rep on a live call. Answer in JSON.",
    prompt="Customer: Honestly, your price seems high.",
    schema=Tip,
    context={"local_answer": LOCAL},
)


@pytest.fixture
async def gemini() -> AsyncIterator[tuple[FakeGemini, GeminiLlm]]:
    async with FakeGemini() as server:
        llm = GeminiLlm(api_key=SecretStr(server.api_key), model="gemini-2.5-flash", base_url=server.base_url)
        yield server, llm
        await llm.aclose()


@pytest.fixture
async def openai() -> AsyncIterator[tuple[FakeOpenAi, OpenAiCompatLlm]]:
    async with FakeOpenAi() as server:
        llm = OpenAiCompatLlm(api_key=SecretStr(server.api_key), base_url=server.url, model="gpt-4o-mini")
        yield server, llm
        await llm.aclose()


# -- Gemini


async def test_gemini_sends_schema_thinking_off_and_parses_the_answer(
    gemini: tuple[FakeGemini, GeminiLlm],
) -> None:
    server, llm = gemini
    server.reply(gemini_server.answer(GOOD))
    tip = await llm.complete(REQUEST, timeout=2.0)
    assert tip == Tip.model_validate(GOOD)

    (sent,) = server.requests
    assert sent.method == "POST"
    # the API version in the path is the SDK's choice
    assert re.fullmatch(r"/v1(beta)?/models/gemini-2\.5-flash:generateContent", sent.path)
    assert sent.headers["x-goog-api-key"] == server.api_key
    body = sent.json
    assert body["contents"][0]["parts"][0]["text"] == REQUEST.prompt
    assert body["systemInstruction"]["parts"][0]["text"] == REQUEST.system
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    # the API reads proto JSON, where both spellings of a field are valid; the SDK picks one
    thinking = config["thinkingConfig"]
    assert thinking.get("thinkingBudget", thinking.get("thinking_budget")) == 0
    schema = config["responseSchema"]
    assert set(schema["properties"]) == {"kind", "content", "confidence", "sources"}
    assert schema["properties"]["kind"]["enum"] == ["objection.price", "competitor", "none"]
    assert {"kind", "content", "confidence"} <= set(schema["required"])


class Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str
    mentions: dict[str, int]


async def test_gemini_uses_json_schema_when_the_openapi_subset_cannot_express_it(
    gemini: tuple[FakeGemini, GeminiLlm],
) -> None:
    server, llm = gemini
    server.reply(gemini_server.answer({"summary": "Pricing call.", "mentions": {"Aircall": 1}}))
    request = LlmRequest(task="summary", system="", prompt="Summarize.", schema=Summary)
    assert (await llm.complete(request, timeout=2.0)).mentions == {"Aircall": 1}
    config = server.requests[0].json["generationConfig"]
    assert "responseSchema" not in config
    assert config["responseJsonSchema"] == Summary.model_json_schema()
    assert "systemInstruction" not in server.requests[0].json


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (gemini_server.answer("{'kind': 'objection.price',"), ProviderResponseError),  # bad JSON
        (gemini_server.answer({"kind": "weather", "content": "x", "confidence": 3}), ProviderResponseError),
        (gemini_server.answer(""), ProviderResponseError),
        (gemini_server.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded."), ProviderRateLimited),
        (gemini_server.error(503, "UNAVAILABLE", "The model is overloaded."), ProviderConnectionError),
        (gemini_server.error(500, "INTERNAL", "Internal error."), ProviderConnectionError),
        (gemini_server.error(403, "PERMISSION_DENIED", "Permission denied."), ProviderAuthError),
    ],
)
async def test_gemini_maps_failures(
    gemini: tuple[FakeGemini, GeminiLlm], reply: Reply, error: type[Exception]
) -> None:
    server, llm = gemini
    server.reply(reply)
    with pytest.raises(error):
        await llm.complete(REQUEST, timeout=2.0)
    assert len(server.requests) == 1  # the SDK did not retry behind our back


async def test_gemini_wrong_key_is_an_auth_error_without_the_key() -> None:
    async with FakeGemini() as server:
        llm = GeminiLlm(
            api_key=SecretStr("AIza-wrong-key-99999999999999"), model="m", base_url=server.base_url
        )
        with pytest.raises(ProviderAuthError) as info:
            await llm.complete(REQUEST, timeout=2.0)
        await llm.aclose()
    assert "wrong-key" not in str(info.value) and "wrong-key" not in repr(llm)


async def test_gemini_deadline_is_kept(gemini: tuple[FakeGemini, GeminiLlm]) -> None:
    server, llm = gemini
    server.reply(Reply(200, {}, delay=5.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await llm.complete(REQUEST, timeout=0.3)
    assert time.monotonic() - started < 1.5


# -- OpenAI-compatible


async def test_openai_sends_json_schema_response_format_and_parses(
    openai: tuple[FakeOpenAi, OpenAiCompatLlm],
) -> None:
    server, llm = openai
    server.reply(openai_server.answer(GOOD))
    tip = await llm.complete(REQUEST, timeout=2.0)
    assert tip == Tip.model_validate(GOOD)

    (sent,) = server.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["Authorization"] == f"Bearer {server.api_key}"
    body = sent.json
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": REQUEST.system},
        {"role": "user", "content": REQUEST.prompt},
    ]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Tip"
    assert fmt["json_schema"]["schema"] == Tip.model_json_schema()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (openai_server.answer("not json at all"), ProviderResponseError),
        (openai_server.answer({"kind": "objection.price"}), ProviderResponseError),  # missing fields
        (
            openai_server.error(429, "Rate limit reached", "requests", "rate_limit_exceeded"),
            ProviderRateLimited,
        ),
        (openai_server.error(500, "The server had an error", "server_error"), ProviderConnectionError),
        (openai_server.error(400, "Invalid schema", "invalid_request_error"), ProviderResponseError),
        (Reply(200, "{truncated", headers={}), ProviderResponseError),
    ],
)
async def test_openai_maps_failures(
    openai: tuple[FakeOpenAi, OpenAiCompatLlm], reply: Reply, error: type[Exception]
) -> None:
    server, llm = openai
    server.reply(reply)
    with pytest.raises(error):
        await llm.complete(REQUEST, timeout=2.0)
    assert len(server.requests) == 1  # max_retries=0: no hidden retries


async def test_openai_deadline_is_kept(openai: tuple[FakeOpenAi, OpenAiCompatLlm]) -> None:
    server, llm = openai
    server.reply(Reply(200, {}, delay=5.0))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await llm.complete(REQUEST, timeout=0.3)
    assert time.monotonic() - started < 1.5


async def test_openai_without_key_for_local_servers() -> None:
    async with FakeOpenAi() as server:
        llm = OpenAiCompatLlm(api_key=None, base_url=server.url, model="llama3.2")
        with pytest.raises(ProviderAuthError):  # this stand-in wants a key; Ollama would not
            await llm.complete(REQUEST, timeout=2.0)
        await llm.aclose()
    assert server.requests[0].headers["Authorization"] == "Bearer no-key"


# -- FallbackLlm


async def _fallback_case(primary: Llm, health: ProviderHealth, local: CannedLlm) -> Tip:
    llm = FallbackLlm(primary=primary, fallback=local, health=health)
    return await llm.complete(REQUEST, timeout=1.0)


@pytest.mark.parametrize(
    "reply",
    [
        gemini_server.answer("{not json"),
        gemini_server.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded."),
        Reply(200, {}, delay=5.0),  # timeout
        gemini_server.error(500, "INTERNAL", "Internal error."),
    ],
)
async def test_fallback_answers_when_gemini_fails(gemini: tuple[FakeGemini, GeminiLlm], reply: Reply) -> None:
    server, primary = gemini
    server.reply(reply)
    health = ProviderHealth()
    health.set_provider("llm", "gemini")
    events: list[ProviderEvent] = []
    health.subscribe(events.append)
    local = CannedLlm()
    started = time.monotonic()
    tip = await _fallback_case(primary, health, local)
    assert time.monotonic() - started < 1.3  # within the request's deadline (plus the reserve)
    assert tip == Tip.model_validate(LOCAL) and answered_by() == "local"
    assert len(local.calls) == 1 and local.calls[0][1] >= 0.25
    assert health.active("llm") == "local" and health.is_degraded("llm")
    assert [e.payload()["provider"] for e in events] == ["local"]
    assert health.recent_errors("llm")[-1].provider == "gemini"


async def test_fallback_answers_when_openai_fails(openai: tuple[FakeOpenAi, OpenAiCompatLlm]) -> None:
    server, primary = openai
    server.reply(openai_server.error(429, "Rate limit reached", "requests"), Reply(200, {}, delay=5.0))
    health = ProviderHealth()
    health.set_provider("llm", "openai")
    local = CannedLlm()
    for _ in range(2):
        assert await _fallback_case(primary, health, local) == Tip.model_validate(LOCAL)
    assert [e.code for e in health.recent_errors("llm")] == ["rate_limited", "timeout"]


async def test_circuit_skips_a_failing_primary_then_recovers(gemini: tuple[FakeGemini, GeminiLlm]) -> None:
    server, primary = gemini
    now = [0.0]
    health = ProviderHealth()
    health.set_provider("llm", "gemini")
    events: list[ProviderEvent] = []
    health.subscribe(events.append)
    local = CannedLlm()
    llm = FallbackLlm(
        primary=primary,
        fallback=local,
        health=health,
        open_after=2,
        cooldown_seconds=30,
        clock=lambda: now[0],
    )
    server.reply(*[gemini_server.error(503, "UNAVAILABLE", "overloaded")] * 2)
    for _ in range(4):
        await llm.complete(REQUEST, timeout=1.0)
    assert len(server.requests) == 2 and llm.circuit_open  # calls 3 and 4 skipped gemini
    assert len(local.calls) == 4
    now[0] = 31.0  # cooldown over: gemini is tried again, and answers
    server.reply(gemini_server.answer(GOOD))
    assert await llm.complete(REQUEST, timeout=1.0) == Tip.model_validate(GOOD)
    assert answered_by() == "gemini"
    assert [(e.provider, e.degraded) for e in events] == [("local", True), ("gemini", False)]
    assert health.active("llm") == "gemini" and not health.is_degraded("llm")


async def test_fallback_failure_is_not_swallowed(gemini: tuple[FakeGemini, GeminiLlm]) -> None:
    server, primary = gemini
    server.reply(gemini_server.error(500, "INTERNAL", "x"))
    with pytest.raises(ProviderConnectionError):
        await _fallback_case(primary, ProviderHealth(), CannedLlm(fail=True))
