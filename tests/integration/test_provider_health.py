"""ProviderHealth, GET /api/providers, and the rule that keys never show up anywhere."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, SecretStr

from tests.fakes import gemini_server, google_server, openai_server, tavily_server
from tests.fakes.canned_llm import CannedLlm
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.google_server import FakeGoogle
from tests.fakes.http_stub import Reply
from tests.fakes.openai_server import FakeOpenAi
from tests.fakes.scripted_audio import Script, Segment, chunks, transcribe
from tests.fakes.scripted_stt import ScriptedStt
from tests.fakes.tavily_server import FakeTavily
from wingman.api.deps import get_current_user
from wingman.api.providers import router
from wingman.errors import ProviderConnectionError, ProviderTimeout
from wingman.health import TENANT, ProviderEvent, ProviderHealth, percentile
from wingman.llm.base import LlmRequest
from wingman.llm.fallback import FallbackLlm
from wingman.llm.gemini import GeminiLlm
from wingman.llm.openai_compat import OpenAiCompatLlm
from wingman.redaction import redact, register_secret
from wingman.search.cache import CachedSearch
from wingman.search.google import GoogleSearch
from wingman.search.tavily import TavilySearch
from wingman.settings import Settings
from wingman.store.records import UserRecord
from wingman.stt.base import RetryPolicy
from wingman.stt.deepgram import DeepgramStt
from wingman.stt.failover import FailoverStt

DG_KEY = "dg-live-secret-7f3a9c0b1e2d"
GEMINI_KEY = "AIzaSyD-secret-gemini-0123456789abcd"
OPENAI_KEY = "sk-proj-secret-openai-0123456789"
TAVILY_KEY = "tvly-secret-tavily-0123456789"
GOOGLE_KEY = "AIzaSyG-secret-google-0123456789abcd"
KEYS = (DG_KEY, GEMINI_KEY, OPENAI_KEY, TAVILY_KEY, GOOGLE_KEY)


def no_keys(text: str) -> None:
    for key in KEYS:
        assert key not in text
        assert key[6:20] not in text  # not even a fragment


# -- ProviderHealth


def test_percentiles_and_latency_window() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == 4.0
    assert math.isnan(percentile([], 50))
    health = ProviderHealth(latency_window=100)
    for ms in range(1, 201):  # only the latest 100 count: 101..200 ms
        health.record_success("llm", "gemini", latency_seconds=ms / 1000)
    stats = health.latency("llm", "gemini")
    assert stats["count"] == 100
    assert stats["p50"] == pytest.approx(0.150) and stats["p99"] == pytest.approx(0.199)


def test_degradation_and_recovery_are_told_once_each() -> None:
    health = ProviderHealth()
    health.set_provider("llm", "gemini")
    events: list[ProviderEvent] = []

    def broken(event: ProviderEvent) -> None:
        raise RuntimeError("observer bug")

    health.subscribe(broken)  # one failing observer never stops the others
    unsubscribe = health.subscribe(events.append)
    for _ in range(3):
        health.record_failover(
            "llm", from_provider="gemini", to_provider="local", error=ProviderTimeout("slow")
        )
    health.record_success("llm", "local")  # the fallback answering is no recovery
    health.record_success("llm", "gemini", latency_seconds=0.2)
    assert [(e.provider, e.degraded, e.previous) for e in events] == [
        ("local", True, "gemini"),
        ("gemini", False, "local"),
    ]
    assert events[0].payload() == {
        "part": "llm",
        "provider": "local",
        "degraded": True,
        "message": "gemini timed out; using local",
    }
    unsubscribe()
    health.record_failover("llm", from_provider="gemini", to_provider="local")
    assert len(events) == 2
    snap = health.snapshot()["llm"]
    assert snap["failovers"] == 4 and snap["providers"]["gemini"]["failures"] == 3
    assert [e["code"] for e in snap["recent_errors"]] == ["timeout"] * 3


def test_errors_are_sanitized() -> None:
    register_secret(SecretStr(DG_KEY))
    health = ProviderHealth()
    record = health.record_error(
        "search",
        "google",
        ProviderConnectionError(
            f"GET https://www.googleapis.com/customsearch/v1?key={GOOGLE_KEY}&cx=1 failed; "
            f"Authorization: Token {DG_KEY}; Bearer {OPENAI_KEY}"
        ),
    )
    no_keys(record.message)
    assert "key=***" in record.message and "Token ***" in record.message
    assert redact(f"x {TAVILY_KEY} y") == "x *** y"


# -- GET /api/providers


@dataclass
class ApiContainer:
    settings: Settings
    health: ProviderHealth


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, ApiContainer]]:
    settings = Settings(
        _env_file=None,
        stt="deepgram",
        deepgram_api_key=SecretStr(DG_KEY),
        llm="gemini",
        gemini_api_key=SecretStr(GEMINI_KEY),
        search="google",
        google_api_key=SecretStr(GOOGLE_KEY),
        google_cse_id="cx-1",
    )
    health = ProviderHealth()
    for part, name in (("stt", "deepgram"), ("llm", "gemini"), ("search", "google")):
        health.set_provider(part, name)
    app = FastAPI()
    app.include_router(router)
    app.state.container = ApiContainer(settings=settings, health=health)
    user = UserRecord(id="u1", workspace_id="u1", email="sam@relay.example", name="Sam",
                      created_at=datetime.now(UTC))
    app.dependency_overrides[get_current_user] = lambda: user
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, app.state.container


async def test_providers_endpoint_reports_parts_and_never_keys(
    api: tuple[httpx.AsyncClient, ApiContainer],
) -> None:
    client, container = api
    health = container.health
    health.record_success("llm", "gemini", latency_seconds=0.31)
    TENANT.set("u1")  # the failover happened in u1's call: u1 sees its error (and only u1)
    health.record_failover(
        "stt",
        from_provider="deepgram",
        to_provider="local",
        error=ProviderConnectionError(f"socket closed; sent Authorization: Token {DG_KEY}"),
    )
    response = await client.get("/api/providers")
    assert response.status_code == 200
    no_keys(response.text)
    parts = {p["part"]: p for p in response.json()["parts"]}
    assert set(parts) == {"stt", "llm", "search"}
    stt = parts["stt"]
    assert (stt["configured"], stt["active"], stt["fallback"]) == ("deepgram", "local", "local")
    assert stt["degraded"] is True and stt["key_configured"] is True and stt["failovers"] == 1
    assert stt["recent_errors"][0]["code"] == "connection"
    llm = parts["llm"]
    assert llm["active"] == "gemini" and llm["degraded"] is False
    assert llm["providers"]["gemini"]["latency_ms"]["p50"] == 310.0
    assert parts["search"]["fallback"] is None and parts["search"]["key_configured"] is True


# -- keys never leak: logs (at DEBUG, third-party loggers included), errors, reprs


class Answer(BaseModel):
    answer: str


async def test_keys_never_appear_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    request = LlmRequest(
        task="qa",
        system="Answer briefly.",
        prompt="Does Relay integrate with Salesforce?",
        schema=Answer,
        context={"local_answer": {"answer": "Yes, natively."}},
    )
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    objects: list[object] = []
    script = Script([Segment(0, 0.2, 1.0, "Yes, we have a native Salesforce integration.")], duration=1.5)

    async with FakeDeepgram(script, api_key=DG_KEY, drop_at=0.6, accept_connections=1) as dg:
        health = ProviderHealth()
        stt = FailoverStt(
            primary=DeepgramStt(
                api_key=SecretStr(DG_KEY), url=dg.url, retry=RetryPolicy(attempts=1, initial_seconds=0.01)
            ),
            fallback=ScriptedStt(script),
            health=health,
        )
        results = await transcribe(stt.stream(), chunks(0, 1.5))
        assert [r.text for r in results if r.is_final] == [script.spoken[0].text]
        objects += [stt, stt.primary, health.snapshot()]
        assert dg.connections[0].headers["Authorization"] == f"Token {DG_KEY}"

    async with FakeGemini(api_key=GEMINI_KEY) as gem:
        gemini = GeminiLlm(api_key=SecretStr(GEMINI_KEY), model="gemini-2.5-flash", base_url=gem.base_url)
        gem.reply(
            gemini_server.error(429, "RESOURCE_EXHAUSTED", "quota"), gemini_server.answer({"answer": "Yes."})
        )
        llm = FallbackLlm(primary=gemini, fallback=CannedLlm(), health=health)
        assert (await llm.complete(request, timeout=2.0)).answer == "Yes, natively."
        assert (await gemini.complete(request, timeout=2.0)).answer == "Yes."
        objects += [gemini, llm]
        await gemini.aclose()

    async with FakeOpenAi(api_key=OPENAI_KEY) as oai:
        openai = OpenAiCompatLlm(api_key=SecretStr(OPENAI_KEY), base_url=oai.url, model="gpt-4o-mini")
        oai.reply(openai_server.error(500, "boom", "server_error"), openai_server.answer({"answer": "Yes."}))
        try:
            await openai.complete(request, timeout=2.0)
        except ProviderConnectionError as e:
            errors.append(e)
        assert (await openai.complete(request, timeout=2.0)).answer == "Yes."
        objects.append(openai)
        await openai.aclose()

    async with (
        httpx.AsyncClient() as http,
        FakeTavily(api_key=TAVILY_KEY) as tav,
        FakeGoogle(api_key=GOOGLE_KEY) as goo,
    ):
        tavily = TavilySearch(api_key=SecretStr(TAVILY_KEY), base_url=tav.base_url, client=http)
        google = GoogleSearch(api_key=SecretStr(GOOGLE_KEY), cse_id=goo.cse_id, base_url=goo.url, client=http)
        tav.reply(
            Reply(503, {"detail": "down"}),
            tavily_server.answer("q", [{"title": "t", "url": "https://x", "content": "c"}]),
        )
        goo.reply(
            Reply(500, {"error": {"code": 500, "message": "x"}}),
            google_server.answer("q", [{"title": "t", "link": "https://y", "snippet": "s"}]),
        )
        for search in (CachedSearch(inner=tavily, health=health), CachedSearch(inner=google, health=health)):
            try:
                await search.search("Aircall pricing")
            except ProviderConnectionError as e:
                errors.append(e)
            assert len(await search.search("Aircall pricing")) == 1
            objects.append(search)
        assert goo.requests[-1].param("key") == GOOGLE_KEY  # it was sent, as the API wants

    assert len(errors) == 3
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: GET" in logged  # httpx did log the Google URL (redacted)
    assert "Authorization" in logged  # websockets did log the handshake (redacted)
    no_keys(logged)
    for err in errors:
        no_keys(f"{err!s} {err!r} {err.__cause__!r} {err.__context__!r}")
    for obj in objects:
        no_keys(repr(obj))
        no_keys(json.dumps(obj, default=lambda o: repr(o)))
    no_keys(json.dumps(health.snapshot()))
