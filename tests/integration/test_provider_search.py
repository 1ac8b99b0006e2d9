"""TavilySearch and GoogleSearch against loopback stand-ins, and CachedSearch (memory, Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from tests.fakes import google_server, tavily_server
from tests.fakes.google_server import FakeGoogle
from tests.fakes.http_stub import Reply
from tests.fakes.tavily_server import FakeTavily
from wingman.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.health import ProviderHealth
from wingman.search.base import SearchHit
from wingman.search.cache import CachedSearch
from wingman.search.google import GoogleSearch
from wingman.search.tavily import TavilySearch

QUERY = "Aircall pricing per seat"
TAVILY_RESULTS = [
    {
        "title": "Aircall Pricing",
        "url": "https://aircall.io/pricing",
        "content": "Essentials $30/seat/month, Professional $50.",
        "score": 0.91,
    },
    {
        "title": "Aircall review",
        "url": "https://example.com/aircall",
        "content": "Pros and cons",
        "score": 0.5,
    },
]
GOOGLE_ITEMS = [
    {"title": "Aircall Pricing", "link": "https://aircall.io/pricing", "snippet": "Plans from $30 per seat."},
    {"title": "Aircall vs Dialpad", "link": "https://example.com/vs", "snippet": "Comparison."},
]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# -- Tavily


async def test_tavily_posts_documented_body_and_maps_results(http: httpx.AsyncClient) -> None:
    async with FakeTavily() as server:
        server.reply(tavily_server.answer(QUERY, TAVILY_RESULTS))
        search = TavilySearch(api_key=SecretStr(server.api_key), base_url=server.base_url, client=http)
        hits = await search.search(QUERY, limit=3)
    (sent,) = server.requests
    assert (sent.method, sent.path) == ("POST", "/search")
    assert sent.headers["Authorization"] == f"Bearer {server.api_key}"
    assert sent.headers["Content-Type"] == "application/json"
    body = sent.json
    assert body["query"] == QUERY and body["max_results"] == 3
    assert body["search_depth"] == "basic" and body["topic"] == "general"
    assert body["include_answer"] is False and "api_key" not in body
    assert hits == [
        SearchHit(
            title="Aircall Pricing",
            snippet="Essentials $30/seat/month, Professional $50.",
            source="tavily",
            url="https://aircall.io/pricing",
            score=0.91,
        ),
        SearchHit(
            title="Aircall review",
            snippet="Pros and cons",
            source="tavily",
            url="https://example.com/aircall",
            score=0.5,
        ),
    ]


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, {"detail": "Internal Server Error"}), ProviderConnectionError),
        (Reply(502, "<html>Bad gateway</html>"), ProviderConnectionError),
        (Reply(429, {"detail": {"error": "rate limited"}}), ProviderRateLimited),
        (Reply(432, {"detail": {"error": "plan limit"}}), ProviderRateLimited),
        (Reply(200, "{not json"), ProviderResponseError),
        (Reply(200, {"unexpected": True}), ProviderResponseError),
        (Reply(200, {}, delay=3.0), ProviderTimeout),
    ],
)
async def test_tavily_maps_failures(http: httpx.AsyncClient, reply: Reply, error: type[Exception]) -> None:
    async with FakeTavily() as server:
        server.reply(reply)
        search = TavilySearch(
            api_key=SecretStr(server.api_key), base_url=server.base_url, client=http, timeout_seconds=1.0
        )
        with pytest.raises(error):
            await search.search(QUERY)


async def test_tavily_wrong_key(http: httpx.AsyncClient) -> None:
    async with FakeTavily() as server:
        search = TavilySearch(
            api_key=SecretStr("tvly-wrong-000000000"), base_url=server.base_url, client=http
        )
        with pytest.raises(ProviderAuthError) as info:
            await search.search(QUERY)
    assert "tvly-wrong" not in str(info.value)


# -- Google


async def test_google_gets_with_key_cx_q_num_and_maps_results(http: httpx.AsyncClient) -> None:
    async with FakeGoogle() as server:
        server.reply(google_server.answer(QUERY, GOOGLE_ITEMS))
        search = GoogleSearch(
            api_key=SecretStr(server.api_key), cse_id=server.cse_id, base_url=server.url, client=http
        )
        hits = await search.search(QUERY, limit=25)
        server.reply(google_server.answer("nothing", []))
        assert await search.search("zzzz no match", limit=2) == []
    first, second = server.requests
    assert (first.method, first.path) == ("GET", "/customsearch/v1")
    assert first.param("key") == server.api_key
    assert first.param("cx") == server.cse_id
    assert first.param("q") == QUERY
    assert first.param("num") == "10"  # the API's maximum
    assert second.param("num") == "2"
    assert [(h.title, h.url, h.snippet, h.source) for h in hits] == [
        ("Aircall Pricing", "https://aircall.io/pricing", "Plans from $30 per seat.", "google"),
        ("Aircall vs Dialpad", "https://example.com/vs", "Comparison.", "google"),
    ]
    assert hits[0].score > hits[1].score


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (google_server.error(500, "Backend Error", "backendError", "INTERNAL"), ProviderConnectionError),
        (google_server.error(503, "Unavailable", "backendError", "UNAVAILABLE"), ProviderConnectionError),
        (google_server.error(429, "Quota", "rateLimitExceeded", "RESOURCE_EXHAUSTED"), ProviderRateLimited),
        (
            google_server.error(403, "Daily Limit Exceeded", "dailyLimitExceeded", "PERMISSION_DENIED"),
            ProviderRateLimited,
        ),
        (google_server.error(400, "Invalid Value", "invalid", "INVALID_ARGUMENT"), ProviderResponseError),
        (Reply(200, {}, delay=3.0), ProviderTimeout),
    ],
)
async def test_google_maps_failures(http: httpx.AsyncClient, reply: Reply, error: type[Exception]) -> None:
    async with FakeGoogle() as server:
        server.reply(reply)
        search = GoogleSearch(
            api_key=SecretStr(server.api_key),
            cse_id=server.cse_id,
            base_url=server.url,
            client=http,
            timeout_seconds=1.0,
        )
        with pytest.raises(error) as info:
            await search.search(QUERY)
    assert server.api_key not in str(info.value)


async def test_google_wrong_key(http: httpx.AsyncClient) -> None:
    async with FakeGoogle() as server:
        search = GoogleSearch(
            api_key=SecretStr("AIza-wrong-000000000000000000"), cse_id="cx", base_url=server.url, client=http
        )
        with pytest.raises(ProviderAuthError):
            await search.search(QUERY)


# -- CachedSearch


async def test_memory_cache_serves_repeats_and_never_caches_errors(http: httpx.AsyncClient) -> None:
    now = [0.0]
    health = ProviderHealth()
    async with FakeTavily() as server:
        inner = TavilySearch(api_key=SecretStr(server.api_key), base_url=server.base_url, client=http)
        cache = CachedSearch(inner=inner, ttl_seconds=60, health=health, clock=lambda: now[0])
        server.reply(Reply(503, {"detail": "down"}), tavily_server.answer(QUERY, TAVILY_RESULTS))
        with pytest.raises(ProviderConnectionError):
            await cache.search(QUERY)
        first = await cache.search(QUERY)  # the error was not cached: the provider is asked
        again = await cache.search("  aircall PRICING   per seat ")  # same query, normalized
        assert first == again and len(server.requests) == 2
        again[0].title = "mutated by a caller"
        assert (await cache.search(QUERY))[0].title == "Aircall Pricing"
        assert len(server.requests) == 2 and cache.hits == 2
        now[0] = 61.0  # expired
        server.reply(tavily_server.answer(QUERY, TAVILY_RESULTS[:1]))
        assert len(await cache.search(QUERY)) == 1 and len(server.requests) == 3
        # other limits and other tenants are other entries
        server.reply(tavily_server.answer(QUERY, TAVILY_RESULTS), tavily_server.answer(QUERY, TAVILY_RESULTS))
        await cache.search(QUERY, limit=2)
        await cache.search(QUERY, user_id="tenant-b")
        assert len(server.requests) == 5
    assert cache.name == "tavily"
    assert health.latency("search", "tavily")["count"] == 4
    assert health.recent_errors("search")[0].code == "connection"


async def test_memory_cache_is_lru_bounded_and_shares_inflight_calls(http: httpx.AsyncClient) -> None:
    async with FakeGoogle() as server:
        inner = GoogleSearch(api_key=SecretStr(server.api_key), cse_id="cx", base_url=server.url, client=http)
        cache = CachedSearch(inner=inner, max_entries=2)
        server.reply(Reply(200, google_server.answer("q", GOOGLE_ITEMS).body, delay=0.2))
        together = await asyncio.gather(*(cache.search("same question") for _ in range(5)))
        assert len(server.requests) == 1 and all(r == together[0] for r in together)
        for q in ("second", "third"):
            server.reply(google_server.answer(q, GOOGLE_ITEMS))
            await cache.search(q)
        server.reply(google_server.answer("same question", GOOGLE_ITEMS))
        await cache.search("same question")  # evicted by the two newer entries
        assert len(server.requests) == 4


async def test_redis_cache_is_shared_between_nodes_and_keeps_no_raw_query(
    http: httpx.AsyncClient, redis_url: str
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with FakeTavily() as server:

            def node() -> CachedSearch:
                inner = TavilySearch(api_key=SecretStr(server.api_key), base_url=server.base_url, client=http)
                return CachedSearch(inner=inner, redis=client, ttl_seconds=120)

            a, b = node(), node()
            server.reply(Reply(500, {"detail": "boom"}), tavily_server.answer(QUERY, TAVILY_RESULTS))
            with pytest.raises(ProviderConnectionError):
                await a.search(QUERY)
            assert await client.keys("wingman:search:*") == []  # no error cached
            hits = await a.search(QUERY)
            assert await b.search(QUERY) == hits  # another node, served from Redis
            assert len(server.requests) == 2
        (raw_key,) = await client.keys("wingman:search:*")
        key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
        assert key == a.key(QUERY, limit=5, user_id=None)
        assert key.startswith("wingman:search:tavily:") and "aircall" not in key.lower()
        assert 0 < await client.ttl(key) <= 120
    finally:
        await client.aclose()


async def test_redis_down_degrades_to_the_provider(http: httpx.AsyncClient) -> None:
    from tests.services import free_port

    dead = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    async with FakeTavily() as server:
        inner = TavilySearch(api_key=SecretStr(server.api_key), base_url=server.base_url, client=http)
        cache = CachedSearch(inner=inner, redis=dead)
        server.reply(tavily_server.answer(QUERY, TAVILY_RESULTS), tavily_server.answer(QUERY, TAVILY_RESULTS))
        started = time.monotonic()
        assert len(await cache.search(QUERY)) == 2
        assert len(await cache.search(QUERY)) == 2  # Redis is skipped for a while now
        assert time.monotonic() - started < 1.0
        assert len(server.requests) == 2
    await dead.aclose()
