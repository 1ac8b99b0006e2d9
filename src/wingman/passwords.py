"""argon2id password hashing on its own small, bounded pool of threads.

argon2 is slow on purpose (RFC 9106 "low memory": 64 MiB, 3 passes, 4 lanes; about 50 ms on a
quiet laptop core, far more on a loaded one). Run in asyncio's default pool, a burst of
simultaneous sign-ups (13 got through at once in bench/attack.py) filled that pool, in front of
the live calls' embeddings, with 64 MiB hashes. So here:

- hashes run on `workers` threads of their own (default 1; argon2 spreads each hash over its
  4 lanes anyway), never the default pool;
- no lower CPU priority for them (a nice value counts against every process of the machine,
  not only the live calls: on a shared, loaded host it starved sign-ins into timeouts);
- at most `max_waiting` hashes wait at once: past that the request is refused at once with
  TooManyAttempts (429 + Retry-After) instead of queueing more work behind the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from wingman.throttle import TooManyAttempts

# argon2id, RFC 9106 second recommended option ("low memory"): m=64 MiB, t=3, p=4, 16-byte
# salt, 32-byte hash. Raise memory_cost (never lower it) if the servers can afford it.
ARGON2_PARAMETERS = RFC_9106_LOW_MEMORY
T = TypeVar("T")


class PasswordHashing:
    """Bounded argon2id hashing and verification off the event loop and the default pool."""

    def __init__(
        self, hasher: PasswordHasher | None = None, *, workers: int = 1, max_waiting: int = 16
    ) -> None:
        self.hasher = hasher or PasswordHasher.from_parameters(ARGON2_PARAMETERS)
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._waiting = 0
        self.refused = 0  # hashes refused because too many were waiting (tests, logs)

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        if self._waiting >= self.max_waiting:
            self.refused += 1
            raise TooManyAttempts(1, what="sign-ins at this moment")
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        """The argon2id hash of `password` (TooManyAttempts when too many are waiting)."""
        return await self._run(self.hasher.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether `password` matches `password_hash` (False for a malformed hash too)."""
        try:
            return await self._run(self.hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def close(self) -> None:
        """Stop the threads (waiting hashes are cancelled)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
