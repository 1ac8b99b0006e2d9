"""A caching wrapper for any Search: Redis when a client is given (shared by every node), an
in-process LRU with a TTL otherwise.

Keys are `<namespace>:<provider>:<sha256 of limit, tenant and normalized query>`: the raw query
never sits in Redis. Errors are never cached (nor are empty answers, which are often transient);
a Redis failure degrades to calling the provider, never to an error. Identical searches in
flight at once (several agents reacting to the same block) share one provider call.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from wingman.errors import ProviderError
from wingman.health import ProviderHealth
from wingman.search.base import Search, SearchHit

log = logging.getLogger(__name__)


class CachedSearch(Search):
    """Wraps `inner`; same interface, same name (health and insights show the real provider)."""

    def __init__(
        self,
        *,
        inner: Search,
        redis: Redis | None = None,
        ttl_seconds: float = 3600.0,
        max_entries: int = 1024,
        namespace: str = "wingman:search",
        health: ProviderHealth | None = None,
        redis_timeout_seconds: float = 0.25,
        redis_retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self._redis = redis
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.namespace = namespace
        self._health = health
        self._clock = clock
        # a live call cannot wait on a sick cache: bounded calls, then a pause before retrying
        self.redis_timeout_seconds = redis_timeout_seconds
        self.redis_retry_seconds = redis_retry_seconds
        self._redis_down_until = 0.0
        self._memory: OrderedDict[str, tuple[float, tuple[SearchHit, ...]]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[list[SearchHit]]] = {}
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        where = "redis" if self._redis is not None else "memory"
        return f"CachedSearch(inner={self.inner!r}, store={where})"

    def key(self, query: str, *, limit: int, user_id: str | None) -> str:
        """Cache key: provider plus a hash of the normalized query, limit and tenant."""
        normalized = " ".join(query.split()).casefold()
        digest = hashlib.sha256(f"{limit}\x1f{user_id or ''}\x1f{normalized}".encode()).hexdigest()
        return f"{self.namespace}:{self.inner.name}:{digest}"

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        key = self.key(query, limit=limit, user_id=user_id)
        cached = await self._get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(key, query, limit, user_id))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settled(key, t))
        hits = await asyncio.shield(task)  # one caller giving up does not cancel the others
        return [h.model_copy() for h in hits]

    async def aclose(self) -> None:
        await self.inner.aclose()

    # -- provider
    async def _fetch(self, key: str, query: str, limit: int, user_id: str | None) -> list[SearchHit]:
        started = self._clock()
        try:
            hits = await self.inner.search(query, limit=limit, user_id=user_id)
        except ProviderError as exc:
            if self._health is not None:
                self._health.record_error("search", self.inner.name, exc)
            raise
        if self._health is not None:
            self._health.record_success("search", self.inner.name, latency_seconds=self._clock() - started)
        if hits:
            await self._put(key, hits)
        return hits

    def _settled(self, key: str, task: asyncio.Task[list[SearchHit]]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved here; every waiter re-raises it

    # -- storage
    async def _get(self, key: str) -> list[SearchHit] | None:
        if self._redis is None:
            entry = self._memory.get(key)
            if entry is None:
                return None
            expires, hits = entry
            if self._clock() >= expires:
                del self._memory[key]
                return None
            self._memory.move_to_end(key)
            return [h.model_copy() for h in hits]
        if self._clock() < self._redis_down_until:
            return None
        try:
            async with asyncio.timeout(self.redis_timeout_seconds):
                raw = await self._redis.get(key)
        except (RedisError, TimeoutError, OSError) as e:
            self._redis_failed(e)
            return None
        if raw is None:
            return None
        try:
            return [SearchHit.model_validate(item) for item in json.loads(raw)]
        except (ValueError, TypeError):
            return None

    async def _put(self, key: str, hits: list[SearchHit]) -> None:
        if self._redis is None:
            self._memory[key] = (self._clock() + self.ttl_seconds, tuple(h.model_copy() for h in hits))
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)
            return
        if self._clock() < self._redis_down_until:
            return
        payload: list[dict[str, Any]] = [h.model_dump() for h in hits]
        try:
            async with asyncio.timeout(self.redis_timeout_seconds):
                await self._redis.set(key, json.dumps(payload), ex=max(1, round(self.ttl_seconds)))
        except (RedisError, TimeoutError, OSError) as e:
            self._redis_failed(e)

    def _redis_failed(self, error: BaseException) -> None:
        self._redis_down_until = self._clock() + self.redis_retry_seconds
        log.warning(
            "search cache unavailable; searching without it",
            extra={"error": type(error).__name__, "retry_in_seconds": self.redis_retry_seconds},
        )
