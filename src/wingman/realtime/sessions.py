"""Which token each open socket signed in with, so that a logout also closes sockets already open.

A Socket.IO connection is authenticated once, when it connects. Logging out revokes the token's
`jti` (store table `revoked_tokens`), which stops new connections and REST calls; this registry
makes it reach the sockets that are open already, on every gateway node:

- on the node that handles `POST /api/auth/logout`, at once: `Auth.on_logout` calls `revoke(jti)`;
- on every other node within `revocation_check_seconds`: `watch()` asks the store which of the
  jtis of this node's sockets are revoked (one indexed query per interval for all of them, in
  batches of 500) and revokes those.

Why a periodic check of the store rather than a broadcast through python-socketio's Redis
manager (or the bus): the table is already the single source of truth that every node shares
(REST and new sockets read it), so the check works in every deployment size, with or without
the Redis manager, and it cannot miss a logout: Redis pub/sub keeps nothing for a node that was
reconnecting, and a broadcast would need a custom message type inside the manager's private
protocol. The price is a delay of at most one interval on the other nodes, and one small query
per node per interval.

A token that expires while its socket is open is treated the same way by `check()`: the
socket is refused and disconnected (the client signs in again and resumes its call), so a
stolen socket does not outlive the token's lifetime.

A revoked socket is refused first (`refused(sid)`: the gateway answers every later event with
`error {code: "unauthorized"}`), then told why and disconnected. Disconnecting goes through the
gateway's normal disconnect path, so a call the socket had open is detached, not lost: its
client, signed in again, resumes it with `start-call {call_id}`, or the reaper finalizes it after
`abandon_call_seconds` like any abandoned call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from wingman.events import utcnow
from wingman.store.repos import Store

log = logging.getLogger(__name__)

SignOut = Callable[[str, str], Awaitable[None]]  # (sid, why)


class TokenSessions:
    """sid <-> jti of this node's sockets, and the sockets whose token was revoked."""

    def __init__(
        self, *, store: Store, sign_out: SignOut, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._store = store
        self._sign_out = sign_out  # tells the client why and disconnects it
        self._clock = clock
        self._jti: dict[str, str] = {}
        self._expires: dict[str, datetime] = {}  # per jti
        self._sids: dict[str, set[str]] = {}
        self._refused: set[str] = set()

    def add(self, sid: str, jti: str, expires_at: datetime | None = None) -> None:
        self._jti[sid] = jti
        self._sids.setdefault(jti, set()).add(sid)
        if expires_at is not None:
            self._expires[jti] = expires_at

    def forget(self, sid: str) -> None:
        self._refused.discard(sid)
        jti = self._jti.pop(sid, None)
        if jti is None:
            return
        sids = self._sids.get(jti)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._sids[jti]
                self._expires.pop(jti, None)

    def refused(self, sid: str) -> bool:
        """True once the socket's token was revoked (until it is gone)."""
        return sid in self._refused

    async def revoke(self, jti: str, why: str = "this session was signed out") -> int:
        """Refuse and disconnect every socket of this node that signed in with `jti`."""
        sids = sorted(self._sids.get(jti, ()))
        self._refused.update(sids)  # before any await: events already queued are refused too
        for sid in sids:
            try:
                await self._sign_out(sid, why)
            except Exception:  # already gone, or the transport broke: it is refused anyway
                log.warning("signed-out socket not disconnected", extra={"sid": sid})
        if sids:
            log.info("sockets signed out", extra={"sockets": len(sids)})
        return len(sids)

    async def check(self) -> int:
        """Revoke the sockets whose token expired or was logged out anywhere; returns how many."""
        if not self._sids:
            return 0
        now = self._clock()
        count = 0
        for jti in [j for j, at in self._expires.items() if at <= now]:
            count += await self.revoke(jti, "this session expired; sign in again")
        revoked = await self._store.revoked_among(jtis=list(self._sids))
        for jti in revoked:
            count += await self.revoke(jti)
        return count

    async def watch(self, interval: float) -> None:
        """`check()` every `interval` seconds until cancelled; an outage only delays it."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check()
            except Exception:
                log.exception("token revocations not checked")
