"""The worker pool that keeps audio work off the event loop.

Decoding, resampling, VAD and Whisper are CPU work (numpy, soxr, onnxruntime, CTranslate2 all
release the GIL), so they run on a small thread pool shared by every call on this node and the
event loop only awaits them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

from wingman.errors import WingmanError

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class AudioWorkerPool:
    """A ThreadPoolExecutor with an async face. One per process, built by the container."""

    def __init__(self, *, max_workers: int, thread_name_prefix: str = "wingman-audio") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix=thread_name_prefix
        )
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run `fn(*args)` on a worker thread and await its result (exceptions propagate)."""
        return await asyncio.wrap_future(self.submit(fn, *args))

    def submit(self, fn: Callable[[*Ts], T], *args: *Ts) -> concurrent.futures.Future[T]:
        """Queue `fn(*args)` from any thread; the caller owns the returned future."""
        if self._closed:
            raise WingmanError("audio worker pool is shut down")
        return self._executor.submit(fn, *args)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop taking work; queued work that has not started is cancelled."""
        self._closed = True
        self._executor.shutdown(wait=wait, cancel_futures=True)

    async def aclose(self) -> None:
        """Shut down without blocking the event loop while running work finishes."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
