"""One interface for every CRM (HubSpot, Salesforce): OAuth 2 tokens, finding the customer's
record, and writing a finished call to it.

A client never stores anything: the sync worker (crm/worker.py) owns the durable job row and
the progress of each call's write, and hands the client a fresh access token. Every write
carries an idempotency marker (`marker(call_id, step)`) the client can look up in the CRM, so
a write whose answer was lost (a timeout, a crash) is found there instead of made twice.
"""

from __future__ import annotations

import email.utils
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from wingman.errors import ProviderError

log = logging.getLogger(__name__)

Provider = Literal["hubspot", "salesforce"]
PROVIDERS: tuple[Provider, ...] = ("hubspot", "salesforce")
LABELS: dict[str, str] = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
TargetKind = Literal["contact", "company", "deal"]
MAX_RETRY_AFTER = 600.0  # a Retry-After beyond this is treated as this (a job must come back)


class CrmError(ProviderError):
    """The CRM refused the request for good (a 4xx that retrying will not change)."""

    code = "crm_error"


class CrmAuthError(CrmError):
    """The access token is expired or revoked (401 / invalid_grant)."""

    code = "crm_unauthorized"


class CrmNotFound(CrmError):
    """The record is not in the CRM (404): someone deleted it there."""

    code = "crm_not_found"


class CrmRetryable(CrmError):
    """429 or 5xx, or the CRM could not be reached: try again after `retry_after` seconds
    (the CRM's Retry-After when it sent one, else None: the caller backs off)."""

    code = "crm_unavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class TokenSet:
    """What an OAuth token endpoint answered. `refresh_token` is None when the endpoint kept
    the old one (Salesforce refreshes, HubSpot sometimes); `instance_url` is Salesforce's."""

    access_token: str
    refresh_token: str | None
    expires_in: float | None
    instance_url: str | None = None
    account: str | None = None  # a label for the settings page (portal id, org domain)


@dataclass(frozen=True)
class Connection:
    """A live connection handed to a client for one request: access token and API base."""

    access_token: str
    instance_url: str | None = None


@dataclass(frozen=True)
class CrmTarget:
    """The CRM record a call is written to, with the records it is associated with."""

    kind: TargetKind
    id: str
    name: str
    # the contact's company / the contact's open deal, so the note shows on each
    related: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON a sync job keeps of its target."""
        return {"kind": self.kind, "id": self.id, "name": self.name, "related": dict(self.related)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CrmTarget | None:
        """The target a job kept (None for none, or for a malformed one)."""
        if not data or not data.get("id") or data.get("kind") not in ("contact", "company", "deal"):
            return None
        related = {str(k): str(v) for k, v in (data.get("related") or {}).items()}
        return cls(kind=data["kind"], id=str(data["id"]), name=str(data.get("name") or ""), related=related)


@dataclass(frozen=True)
class CallWrite:
    """What a finished call puts in the CRM."""

    call_id: str
    title: str
    summary: str
    key_moments: Sequence[tuple[str, str, float]]  # (kind, text, seconds into the call)
    action_items: Sequence[str]
    link: str  # back to the call page
    occurred_at_ms: int  # epoch milliseconds of the call's start

    def note_text(self) -> str:
        """Summary, key moments, action items and the link, as plain text lines."""
        lines = [self.title, "", self.summary or "(no summary)"]
        if self.key_moments:
            lines += ["", "Key moments:"]
            lines += [f"- [{_clock(at)}] {kind}: {text}" for kind, text, at in self.key_moments]
        if self.action_items:
            lines += ["", "Action items:"]
            lines += [f"- {item}" for item in self.action_items]
        lines += ["", f"Call in Wingman: {self.link}"]
        return "\n".join(lines)


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60}:{s % 60:02d}"


def marker(call_id: str, step: str) -> str:
    """The idempotency marker of one write (`step`: "note" or "task-<n>")."""
    return f"wingman:{call_id}:{step}"


def steps_of(write: CallWrite) -> list[str]:
    """The writes a call makes, in order: the note, then one task per action item."""
    return ["note", *(f"task-{i}" for i in range(len(write.action_items)))]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (now if now is not None else time.time())
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class CrmClient(ABC):
    """A CRM's OAuth endpoints and the few API calls a call's write needs."""

    provider: Provider

    def __init__(self, *, client: httpx.AsyncClient, client_id: str, client_secret: str) -> None:
        self._http = client
        self._client_id = client_id
        self._client_secret = client_secret

    # -- OAuth 2 (authorization-code flow)
    @abstractmethod
    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        """Where to send the admin's browser to grant access."""

    @abstractmethod
    async def exchange_code(self, *, code: str, redirect_uri: str) -> TokenSet:
        """Trade the callback's code for tokens."""

    @abstractmethod
    async def refresh(self, *, refresh_token: str, instance_url: str | None) -> TokenSet:
        """A new access token; CrmAuthError when the refresh token was revoked."""

    @abstractmethod
    async def revoke(self, *, refresh_token: str, instance_url: str | None) -> None:
        """Revoke the grant at the CRM (best effort by the caller)."""

    # -- records
    @abstractmethod
    async def find(self, conn: Connection, *, email: str | None, company: str | None) -> CrmTarget | None:
        """The customer's record: the contact with this email, else the company with this name."""

    @abstractmethod
    async def search(self, conn: Connection, *, query: str, limit: int = 10) -> list[CrmTarget]:
        """Contacts, companies and deals matching `query`, for the rep to pick from."""

    @abstractmethod
    async def written(self, conn: Connection, *, call_id: str) -> dict[str, str]:
        """{step: CRM id} of this call's writes already in the CRM (found by their markers)."""

    @abstractmethod
    async def write_step(self, conn: Connection, *, target: CrmTarget, write: CallWrite, step: str) -> str:
        """Create one write (the note or one task) on the target; returns its CRM id."""

    @abstractmethod
    async def update_note(self, conn: Connection, *, note_id: str, write: CallWrite) -> None:
        """Rewrite the call's note in place (its summary was edited), keeping its marker;
        CrmNotFound when the note was deleted in the CRM."""

    # -- HTTP, with the status codes mapped onto the retry policy
    async def _send(
        self,
        method: str,
        url: str,
        *,
        conn: Connection | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if conn is not None:
            headers["Authorization"] = f"Bearer {conn.access_token}"
        try:
            response = await self._http.request(
                method, url, headers=headers, json=json, data=data, params=params
            )
        except httpx.HTTPError as e:
            raise CrmRetryable(f"{LABELS[self.provider]} unreachable: {type(e).__name__}") from e
        status = response.status_code
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            log.warning(
                "crm busy", extra={"provider": self.provider, "status": status, "retry_after": retry_after}
            )
            raise CrmRetryable(f"{LABELS[self.provider]} answered {status}", retry_after=retry_after)
        if status == 401:
            raise CrmAuthError(f"{LABELS[self.provider]} refused the access token")
        if status == 400 and _is_invalid_grant(response):
            raise CrmAuthError(f"{LABELS[self.provider]} refused the refresh token (revoked or expired)")
        if status == 404:
            raise CrmNotFound(f"{LABELS[self.provider]} answered 404: {_error_text(response)}")
        if status >= 400:
            raise CrmError(f"{LABELS[self.provider]} answered {status}: {_error_text(response)}")
        return response


def _is_invalid_grant(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    # RFC 6749 `error: invalid_grant` (Salesforce); HubSpot says `status: BAD_REFRESH_TOKEN`
    return isinstance(body, dict) and (
        body.get("error") == "invalid_grant" or body.get("status") == "BAD_REFRESH_TOKEN"
    )


def _error_text(response: httpx.Response) -> str:
    """A short reason from an error body (no request data echoed back)."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict):
        for key in ("errorCode", "category", "error", "status"):
            if isinstance(body.get(key), str):
                return str(body[key])[:100]
    return response.reason_phrase


def json_of(response: httpx.Response) -> Any:
    """The JSON body, or CrmError when the CRM answered something else."""
    try:
        return response.json()
    except ValueError as e:
        raise CrmError("the CRM answered something that is not JSON") from e


def token_set(body: Any, *, account: str | None = None) -> TokenSet:
    """A TokenSet from an OAuth token response (RFC 6749 section 5.1)."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise CrmError("the token endpoint answered without an access_token")
    expires = body.get("expires_in")
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") if isinstance(body.get("refresh_token"), str) else None,
        expires_in=float(expires)
        if isinstance(expires, (int, float, str)) and str(expires).isdigit()
        else None,
        instance_url=body.get("instance_url") if isinstance(body.get("instance_url"), str) else None,
        account=account,
    )
