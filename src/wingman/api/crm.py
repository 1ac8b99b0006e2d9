"""REST: CRM connections (OAuth connect, callback, disconnect, auto-sync) and each call's sync
status, "sync now" and the record search the rep picks a contact from.

Connections belong to the workspace. Only its admins connect, disconnect or change a CRM's
automatic sync (`WorkspaceAdmin`, 403 with a message naming the admin role for anyone else);
every member sees the connections' status, searches records and syncs the calls they can see.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser, StoreDep
from wingman.crm.base import LABELS, CrmAuthError, CrmError, CrmTarget
from wingman.crm.secrets import OAuthState
from wingman.errors import BadInput
from wingman.store.crm import CrmSyncRecord
from wingman.store.records import UserRecord
from wingman.store.repos import Store

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["crm"])

ProviderName = Literal["hubspot", "salesforce"]
_MESSAGES = {
    "pending": "queued",
    "running": "writing",
    "done": "synced",
    "failed": "failed",
    "no_match": "no matching record: pick one",
    "needs_reconnect": "reconnect",
}


def tenant_of(user: UserRecord) -> str:
    """The tenant whose CRM connections this user manages: their workspace."""
    return user.workspace_id


ADMIN_ONLY = (
    "only a workspace admin can connect, disconnect or configure a CRM: ask an admin of your workspace"
)
FORBIDDEN: dict[int | str, dict[str, str]] = {403: {"description": "not a workspace admin"}}


async def _workspace_admin(user: CurrentUser) -> UserRecord:
    """The signed-in user if they administer their workspace; else 403 saying who can."""
    if user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, ADMIN_ONLY)
    return user


WorkspaceAdmin = Annotated[UserRecord, Depends(_workspace_admin)]


class ProviderOut(BaseModel):
    provider: str
    label: str
    configured: bool
    status: Literal["not_connected", "connected", "needs_reconnect"]
    account: str | None
    auto_sync: bool
    can_manage: bool = False  # whether the caller may connect / disconnect / configure it (admins)


class ConnectOut(BaseModel):
    authorize_url: str


class AutoSyncIn(BaseModel):
    auto_sync: bool


class TargetIo(BaseModel):
    kind: Literal["contact", "company", "deal"]
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=300)
    related: dict[str, str] = Field(default_factory=dict, max_length=4)

    def target(self) -> CrmTarget:
        return CrmTarget(kind=self.kind, id=self.id, name=self.name, related=self.related)

    @classmethod
    def of(cls, t: CrmTarget) -> TargetIo:
        return cls(kind=t.kind, id=t.id, name=t.name, related=dict(t.related))


class SyncIn(BaseModel):
    """What to sync the call to: a record the rep picked, or an email / company to look up."""

    email: str | None = Field(default=None, max_length=320)
    company: str | None = Field(default=None, max_length=200)
    target: TargetIo | None = None


class CallSyncOut(BaseModel):
    provider: str
    label: str
    status: str  # pending | running | done | failed | no_match | needs_reconnect
    message: str  # what the call page shows ("reconnect HubSpot", "synced to Jane Doe" ...)
    attempts: int
    target: TargetIo | None
    written: int  # CRM objects written (note + tasks)
    note_behind: bool = Field(
        description="the CRM's note predates the summary's last edit (it is updated when the job runs)"
    )
    updated_at: datetime

    @classmethod
    def of(cls, job: CrmSyncRecord) -> CallSyncOut:
        label = LABELS.get(job.provider, job.provider)
        target = TargetIo.model_validate(job.target) if job.target else None
        message = job.last_error or _MESSAGES.get(job.status, job.status)
        if job.status == "done":
            message = f"synced to {label}" + (f" ({target.name})" if target and target.name else "")
        elif job.status == "needs_reconnect":
            message = f"reconnect {label}"
        if job.note_behind and job.status in ("pending", "running") and not job.last_error:
            message = f"updating the {label} note with the edited summary"
        return cls(
            provider=job.provider,
            label=label,
            status=job.status,
            message=message,
            attempts=job.attempts,
            target=target,
            written=len(job.steps),
            note_behind=job.note_behind,
            updated_at=job.updated_at,
        )


@router.get("/crm")
async def list_crms(user: CurrentUser, container: ContainerDep) -> list[ProviderOut]:
    """Each CRM, whether this server has its OAuth app, and the tenant's connection."""
    found = await container.crm.statuses(tenant_id=tenant_of(user))
    admin = user.role == "admin"
    return [
        ProviderOut.model_validate(s, from_attributes=True).model_copy(update={"can_manage": admin})
        for s in found
    ]


@router.post("/crm/{provider}/connect", responses=FORBIDDEN)
async def connect(provider: ProviderName, user: WorkspaceAdmin, container: ContainerDep) -> ConnectOut:
    """The CRM's consent page to send the browser to (the callback comes back here)."""
    url = container.crm.connect_url(tenant_id=tenant_of(user), user_id=user.id, provider=provider)
    return ConnectOut(authorize_url=url)


async def _still_admin(store: Store, who: OAuthState) -> None:
    """The state was signed for an admin up to 10 minutes ago: they must still be one, of the
    same workspace, when the browser comes back (a demoted or removed admin connects nothing)."""
    user = await store.get_user(user_id=who.user_id)
    if user is None or user.removed_at is not None:
        raise BadInput(ADMIN_ONLY, code="not_admin")
    if user.role != "admin" or tenant_of(user) != who.tenant_id:
        raise BadInput(ADMIN_ONLY, code="not_admin")


@router.get("/crm/{provider}/callback", include_in_schema=False)
async def callback(
    provider: ProviderName,
    container: ContainerDep,
    store: StoreDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    """Where the CRM sends the admin's browser back; then on to the settings page. The signed
    `state` says whose connection this is (no session cookie needed); they must still be an
    admin of that workspace."""
    outcome = {"crm": provider, "result": "connected"}
    if error or not code or not state:
        outcome |= {"result": "error", "reason": (error or "no code")[:100]}
    else:
        try:
            await container.crm.complete(
                provider=provider, code=code, state=state, allowed=partial(_still_admin, store)
            )
        except (BadInput, CrmError) as e:
            log.warning("crm connect failed", extra={"provider": provider, "code": e.code})
            outcome |= {"result": "error", "reason": str(e)[:200]}
    return RedirectResponse(f"/settings?{urlencode(outcome)}", status_code=status.HTTP_303_SEE_OTHER)


@router.put("/crm/{provider}", responses=FORBIDDEN)
async def set_auto_sync(
    provider: ProviderName, body: AutoSyncIn, user: WorkspaceAdmin, container: ContainerDep
) -> list[ProviderOut]:
    """Turn automatic sync after each call on or off."""
    await container.crm.set_auto_sync(tenant_id=tenant_of(user), provider=provider, auto_sync=body.auto_sync)
    return await list_crms(user, container)


@router.delete(
    "/crm/{provider}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "not connected"}, **FORBIDDEN},
)
async def disconnect(provider: ProviderName, user: WorkspaceAdmin, container: ContainerDep) -> Response:
    """Revoke the grant at the CRM and forget its tokens."""
    if not await container.crm.disconnect(tenant_id=tenant_of(user), provider=provider):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{LABELS[provider]} is not connected")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/crm/{provider}/search")
async def search_records(
    provider: ProviderName,
    user: CurrentUser,
    container: ContainerDep,
    q: Annotated[str, Query(min_length=2, max_length=100)],
) -> list[TargetIo]:
    """Contacts, companies and deals matching `q`, for picking a call's record."""
    try:
        found = await container.crm.search(tenant_id=tenant_of(user), provider=provider, query=q)
    except CrmAuthError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{LABELS[provider]} is not connected: {e}") from None
    return [TargetIo.of(t) for t in found]


async def _own_call(store: StoreDep, user: UserRecord, call_id: str) -> None:
    if await store.get_call(viewer=await store.viewer(user), call_id=call_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")


@router.get("/calls/{call_id}/crm", responses={404: {"description": "no such call for this user"}})
async def call_syncs(
    call_id: str, user: CurrentUser, store: StoreDep, container: ContainerDep
) -> list[CallSyncOut]:
    """Where the call's CRM sync stands, per CRM."""
    await _own_call(store, user, call_id)
    return [
        CallSyncOut.of(j) for j in await container.crm.repo.syncs(tenant_id=tenant_of(user), call_id=call_id)
    ]


@router.post(
    "/calls/{call_id}/crm/{provider}",
    status_code=status.HTTP_202_ACCEPTED,
    responses={404: {"description": "no such call for this user"}},
)
async def sync_call(
    call_id: str,
    provider: ProviderName,
    body: SyncIn,
    user: CurrentUser,
    store: StoreDep,
    container: ContainerDep,
) -> list[CallSyncOut]:
    """Sync the call now (in the background), optionally to the record the rep picked."""
    call = await store.get_call(viewer=await store.viewer(user), call_id=call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    if call.end_time is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the call is still going on: sync it after it ends")
    await container.crm.request_sync(
        tenant_id=tenant_of(user),
        call_id=call_id,
        provider=provider,
        email=body.email,
        company=body.company,
        target=body.target.target() if body.target else None,
    )
    return await call_syncs(call_id, user, store, container)
