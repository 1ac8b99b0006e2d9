"""Store writes off the hot path, buffered and retried, so a slow or briefly unavailable
database never stalls a live call and never loses a finalized segment."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import exc as sa_exc

from wingman import metrics

log = logging.getLogger(__name__)

Write = Callable[[], Awaitable[object]]
MAX_ATTEMPTS_NOT_TRANSIENT = 3
HEALTHY_BACKLOG = 64  # queued writes (all calls of the node) still worth waiting behind


def is_transient(exc: BaseException) -> bool:
    """Connection trouble (worth waiting for) as opposed to a write that can never succeed."""
    if isinstance(exc, (OSError, TimeoutError, sa_exc.OperationalError, sa_exc.InterfaceError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


class StoreWriter:
    """A FIFO of writes applied in order by one task; a failed write is retried with backoff."""

    def __init__(self, *, max_backoff: float = 5.0) -> None:
        self._queue: asyncio.Queue[tuple[Write, asyncio.Future[bool]]] = asyncio.Queue()
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self.failures = 0
        self.retrying = False  # the head write failed and waits for the database to come back

    def submit(self, write: Write) -> asyncio.Future[bool]:
        """Queue `write`; the future resolves True once it is applied (False: dropped).
        Callers may ignore it, or wait a little on it so what they show is already saved."""
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="store-writer")
        done: asyncio.Future[bool] = loop.create_future()
        self._queue.put_nowait((write, done))
        return done

    @property
    def healthy(self) -> bool:
        """No failing write and a short queue: waiting for a new write costs milliseconds."""
        return not self.retrying and self._queue.qsize() <= HEALTHY_BACKLOG

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted write is applied; False on timeout."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while True:
            write, done = await self._queue.get()
            delay = 0.1
            attempts = 0
            applied = False
            while True:
                attempts += 1
                try:
                    await write()
                    applied = True
                    break
                except asyncio.CancelledError:
                    if not done.done():
                        done.cancel()
                    raise
                except Exception as exc:  # kept and retried: the database may come back
                    self.failures += 1
                    if not is_transient(exc) and attempts >= MAX_ATTEMPTS_NOT_TRANSIENT:
                        log.error("store write dropped", exc_info=exc)
                        metrics.writer_dropped()
                        break
                    metrics.writer_retry()
                    self.retrying = True
                    log.warning(
                        "store write failed, retrying", extra={"error": type(exc).__name__, "delay": delay}
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_backoff)
            self.retrying = False
            if not done.done():
                done.set_result(applied)
            self._queue.task_done()

    async def aclose(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
