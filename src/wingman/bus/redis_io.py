"""Wire-level helpers for the Redis Streams bus: batched XADD and reply normalization."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as redis


class XaddBatcher:
    """Group commit: XADDs issued while a pipeline is in flight go together in the next one.

    One round trip per batch instead of one per event; each publisher still awaits its own
    result (and retries on its own), and one publisher's events keep their order.
    """

    def __init__(self, client: redis.Redis, *, maxlen: int, max_batch: int = 256) -> None:
        self.client = client
        self.maxlen = maxlen
        self.max_batch = max_batch
        self.pending: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self.task: asyncio.Task[None] | None = None

    async def xadd(self, stream: str, data: bytes) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((stream, data, done))
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="redis-bus-publish")
        await done

    async def drain(self) -> None:
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    async def _run(self) -> None:
        while self.pending:
            batch = self.pending[: self.max_batch]
            del self.pending[: self.max_batch]
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for stream, data, _ in batch:
                        pipe.xadd(stream, {"e": data}, maxlen=self.maxlen, approximate=True)
                    await pipe.execute()
            except Exception as e:  # handed to each publisher, whose retry decides
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(e)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)


def stream_entries(reply: Any) -> list[tuple[Any, list[Any]]]:
    """XREADGROUP replies differ between RESP2 (list of pairs) and RESP3 (dict)."""
    if not reply:
        return []
    pairs = list(reply.items()) if isinstance(reply, dict) else [(s, e) for s, e in reply]
    out: list[tuple[Any, list[Any]]] = []
    for stream, entries in pairs:
        if entries and isinstance(entries[0], list):  # RESP3 wraps the entry list once more
            entries = [entry for chunk in entries for entry in chunk]
        out.append((stream, list(entries)))
    return out
