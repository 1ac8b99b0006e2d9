"""CrmService: a tenant's CRM connections (OAuth connect, callback, refresh, disconnect), the
lookup a call is matched by, and the queue of sync jobs the worker (crm/worker.py) runs.

Access and refresh tokens are sealed at rest (crm/secrets.py). A refresh the CRM refuses
(revoked, expired) marks the connection `needs_reconnect`; its jobs wait, and reconnecting
makes them due again, so nothing a call should have written is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from wingman.crm.base import LABELS, Connection, CrmAuthError, CrmClient, CrmTarget, TokenSet
from wingman.crm.secrets import OAuthState, StateSigner, TokenCipher, TokenUnreadable
from wingman.errors import BadInput, NotFound
from wingman.events import utcnow
from wingman.store.crm import NEEDS_RECONNECT, CrmConnectionRecord, CrmRepo

log = logging.getLogger(__name__)
T = TypeVar("T")

EXPIRY_MARGIN = timedelta(seconds=60)  # refresh a little before the CRM would refuse
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# "Acme Corp - discovery", "Acme: pricing call", "Acme | demo": the company comes first
_TITLE_SPLIT = re.compile(r"\s+[-\u2013\u2014|:]\s+|:\s+|\s+/\s+")
_GENERIC_TITLES = {"untitled call", "call", "live call", "demo", "sales call"}


@dataclass(frozen=True)
class ProviderStatus:
    provider: str
    label: str
    configured: bool  # client id and secret set on this server
    status: str  # not_connected | connected | needs_reconnect
    account: str | None = None
    auto_sync: bool = True


def lookup_from_call(title: str, texts: Sequence[str]) -> tuple[str | None, str | None]:
    """(email, company) to find the customer by: the first email address said or typed in the
    transcript (not a redaction placeholder), and the company the title starts with."""
    email = next((m.group(0).lower() for t in texts for m in _EMAIL.finditer(t)), None)
    head = _TITLE_SPLIT.split(title.strip(), maxsplit=1)[0].strip()
    company = head if head and head.casefold() not in _GENERIC_TITLES else None
    return email, company


class CrmService:
    """Connections and the sync queue of every CRM configured on this server."""

    def __init__(
        self,
        *,
        repo: CrmRepo,
        clients: Mapping[str, CrmClient],
        secret: str,
        redirect_base: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.repo = repo
        self.clients = dict(clients)
        self._cipher = TokenCipher(secret)
        self._states = StateSigner(secret)
        self._redirect_base = redirect_base.rstrip("/")
        self._clock = clock
        self.wake = asyncio.Event()  # set when a job is queued here: the worker looks at once

    def client(self, provider: str) -> CrmClient:
        """The configured client of `provider`; BadInput for one this server cannot use."""
        client = self.clients.get(provider)
        if client is None:
            if provider in LABELS:
                raise BadInput(
                    f"{LABELS[provider]} is not configured on this server", code="crm_not_configured"
                )
            raise NotFound("no such CRM")
        return client

    def redirect_uri(self, provider: str) -> str:
        return f"{self._redirect_base}/api/crm/{provider}/callback"

    # -- connections
    async def statuses(self, *, tenant_id: str) -> list[ProviderStatus]:
        """Every CRM Wingman knows, with this tenant's connection state."""
        found = {c.provider: c for c in await self.repo.connections(tenant_id=tenant_id)}
        out = []
        for provider, label in LABELS.items():
            conn = found.get(provider)
            out.append(
                ProviderStatus(
                    provider=provider,
                    label=label,
                    configured=provider in self.clients,
                    status=conn.status if conn else "not_connected",
                    account=conn.account if conn else None,
                    auto_sync=conn.auto_sync if conn else True,
                )
            )
        return out

    def connect_url(self, *, tenant_id: str, user_id: str, provider: str) -> str:
        """The CRM's consent page for this tenant's admin (state signed, valid 10 minutes)."""
        client = self.client(provider)
        state = self._states.sign(OAuthState(tenant_id=tenant_id, user_id=user_id, provider=provider))
        return client.authorize_url(state=state, redirect_uri=self.redirect_uri(provider))

    async def complete(
        self,
        *,
        provider: str,
        code: str,
        state: str,
        allowed: Callable[[OAuthState], Awaitable[None]] | None = None,
    ) -> OAuthState:
        """The OAuth callback: trade the code for tokens and keep them sealed; jobs that were
        waiting for a reconnect become due. `allowed` runs on the verified state before the
        code is traded (it raises to refuse: the signer may have lost the right meanwhile)."""
        who = self._states.verify(state, provider=provider)
        if allowed is not None:
            await allowed(who)
        tokens = await self.client(provider).exchange_code(
            code=code, redirect_uri=self.redirect_uri(provider)
        )
        if not tokens.refresh_token:
            raise BadInput(
                f"{LABELS[provider]} granted no refresh token (offline access)", code="crm_no_refresh"
            )
        now = self._clock()
        ctx = _context(who.tenant_id, provider)
        await self.repo.save_connection(
            CrmConnectionRecord(
                tenant_id=who.tenant_id,
                provider=provider,
                status="connected",
                refresh_token=self._cipher.seal(tokens.refresh_token, context=ctx),
                access_token=self._cipher.seal(tokens.access_token, context=ctx),
                access_expires_at=_expiry(now, tokens),
                instance_url=tokens.instance_url,
                account=tokens.account,
                connected_by=who.user_id,
                auto_sync=True,
                updated_at=now,
            )
        )
        resumed = await self.repo.resume_blocked(tenant_id=who.tenant_id, provider=provider, now=now)
        log.info("crm connected", extra={"provider": provider, "resumed": resumed})
        self.wake.set()
        return who

    async def set_auto_sync(self, *, tenant_id: str, provider: str, auto_sync: bool) -> None:
        if await self.repo.connection(tenant_id=tenant_id, provider=provider) is None:
            raise NotFound(f"{LABELS.get(provider, provider)} is not connected")
        await self.repo.update_connection(tenant_id=tenant_id, provider=provider, auto_sync=auto_sync)

    async def disconnect(self, *, tenant_id: str, provider: str) -> bool:
        """Revoke the grant at the CRM (best effort) and forget the tokens."""
        conn = await self.repo.connection(tenant_id=tenant_id, provider=provider)
        if conn is None:
            return False
        try:
            refresh = self._cipher.open(conn.refresh_token, context=_context(tenant_id, provider))
            await self.client(provider).revoke(refresh_token=refresh, instance_url=conn.instance_url)
        except Exception as e:  # the tokens are forgotten whatever the CRM says
            log.warning("crm revoke failed", extra={"provider": provider, "error": type(e).__name__})
        return await self.repo.delete_connection(tenant_id=tenant_id, provider=provider)

    async def access(self, *, tenant_id: str, provider: str, force_refresh: bool = False) -> Connection:
        """A usable access token, refreshed when it expired (or `force_refresh`: a 401).
        CrmAuthError (and the connection marked needs_reconnect) when the CRM refuses."""
        conn = await self.repo.connection(tenant_id=tenant_id, provider=provider)
        if conn is None or conn.status == NEEDS_RECONNECT:
            raise CrmAuthError(f"reconnect {LABELS.get(provider, provider)}")
        ctx = _context(tenant_id, provider)
        now = self._clock()
        fresh = conn.access_expires_at is None or conn.access_expires_at - EXPIRY_MARGIN > now
        try:
            if conn.access_token and fresh and not force_refresh:
                return Connection(self._cipher.open(conn.access_token, context=ctx), conn.instance_url)
            refresh = self._cipher.open(conn.refresh_token, context=ctx)
        except TokenUnreadable as e:
            await self._needs_reconnect(tenant_id, provider)
            raise CrmAuthError(f"reconnect {LABELS[provider]}") from e
        try:
            tokens = await self.client(provider).refresh(
                refresh_token=refresh, instance_url=conn.instance_url
            )
        except CrmAuthError:
            await self._needs_reconnect(tenant_id, provider)
            raise
        values: dict[str, object] = {
            "access_token": self._cipher.seal(tokens.access_token, context=ctx),
            "access_expires_at": _expiry(now, tokens),
            "updated_at": now,
        }
        if tokens.refresh_token:  # a CRM that rotates refresh tokens
            values["refresh_token"] = self._cipher.seal(tokens.refresh_token, context=ctx)
        instance = tokens.instance_url or conn.instance_url
        values["instance_url"] = instance
        await self.repo.update_connection(tenant_id=tenant_id, provider=provider, **values)
        return Connection(tokens.access_token, instance)

    async def _needs_reconnect(self, tenant_id: str, provider: str) -> None:
        log.warning("crm needs reconnecting", extra={"provider": provider})
        await self.repo.update_connection(
            tenant_id=tenant_id,
            provider=provider,
            status=NEEDS_RECONNECT,
            access_token=None,
            updated_at=self._clock(),
        )

    async def call_api(self, *, tenant_id: str, provider: str, op: Callable[[Connection], Awaitable[T]]) -> T:
        """Run one API operation with the tenant's token; a 401 refreshes it and tries once more."""
        conn = await self.access(tenant_id=tenant_id, provider=provider)
        try:
            return await op(conn)
        except CrmAuthError:
            conn = await self.access(tenant_id=tenant_id, provider=provider, force_refresh=True)
            return await op(conn)

    async def search(self, *, tenant_id: str, provider: str, query: str) -> list[CrmTarget]:
        """Records the rep can pick for a call."""
        client = self.client(provider)
        return await self.call_api(
            tenant_id=tenant_id, provider=provider, op=lambda c: client.search(c, query=query)
        )

    # -- queue
    async def after_call(self, *, tenant_id: str, call_id: str) -> int:
        """Queue the call for every connected CRM with automatic sync; returns how many.
        Only rows are written here: the CRM calls happen in the worker, never in end-call."""
        queued = 0
        for conn in await self.repo.connections(tenant_id=tenant_id):
            if conn.auto_sync and conn.provider in self.clients:
                queued += await self.repo.enqueue(
                    tenant_id=tenant_id, call_id=call_id, provider=conn.provider, now=self._clock()
                )
        if queued:
            self.wake.set()
        return queued

    async def request_sync(
        self,
        *,
        tenant_id: str,
        call_id: str,
        provider: str,
        email: str | None = None,
        company: str | None = None,
        target: CrmTarget | None = None,
    ) -> None:
        """The call page's "sync now", optionally with the record the rep picked."""
        self.client(provider)
        picked = target.as_dict() if target is not None else None
        await self.repo.request(
            tenant_id=tenant_id,
            call_id=call_id,
            provider=provider,
            now=self._clock(),
            email=email,
            company=company,
            target=picked,
        )
        self.wake.set()


def _context(tenant_id: str, provider: str) -> str:
    return f"{tenant_id}/{provider}"


def _expiry(now: datetime, tokens: TokenSet) -> datetime | None:
    return now + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
