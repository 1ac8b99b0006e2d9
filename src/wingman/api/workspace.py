"""REST: the signed-in user's workspace, its members and invitations.

Admins change roles, managers and membership and invite anyone; managers invite reps to their
own team. Joining is by invitation: a single-use link that expires
(settings.invitation_ttl_seconds), emailed when SMTP is configured. A member of another
workspace is handled like a missing one (404).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from wingman.api.auth import TokenOut, UserOut
from wingman.api.deps import Admin, ContainerDep, CurrentUser, Manager, StoreDep
from wingman.auth import MAX_PASSWORD, validate_email
from wingman.errors import BadInput, NotFound, WingmanError
from wingman.mail import Mailer, invitation_text
from wingman.store.records import InvitationRecord, Role, WorkspaceRecord

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["workspace"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad input (the message says which)"},
    403: {"description": "the caller's role may not do this"},
    404: {"description": "no such member or invitation in this workspace"},
    409: {"description": "it would leave the workspace without an admin, or the email has an account"},
}


class WorkspaceOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    role: Role  # the caller's
    open_signup: bool

    @classmethod
    def of(cls, workspace: WorkspaceRecord, role: Role, open_signup: bool) -> WorkspaceOut:
        return cls(
            id=workspace.id,
            name=workspace.name,
            created_at=workspace.created_at,
            role=role,
            open_signup=open_signup,
        )


class WorkspaceIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class MemberIn(BaseModel):
    """A change to a member: a new role, a new manager (a manager's or admin's user id), or
    `manager_id: null` with `clear_manager: true` to leave them without one."""

    role: Role | None = None
    manager_id: str | None = Field(None, max_length=64)
    clear_manager: bool = False


class InvitationIn(BaseModel):
    email: str = Field(max_length=320)
    role: Role = "rep"
    manager_id: str | None = Field(None, max_length=64, description="the rep's manager (user id)")


class InvitationOut(BaseModel):
    id: str
    email: str
    role: Role
    manager_id: str | None
    created_at: datetime
    expires_at: datetime
    expired: bool

    @classmethod
    def of(cls, inv: InvitationRecord, now: datetime) -> InvitationOut:
        return cls(
            id=inv.id,
            email=inv.email,
            role=inv.role,
            manager_id=inv.manager_id,
            created_at=inv.created_at,
            expires_at=inv.expires_at,
            expired=inv.expires_at <= now,
        )


class InvitationCreatedOut(BaseModel):
    invitation: InvitationOut
    link: str = Field(description="the join link; shown once (only its hash is stored)")
    emailed: bool
    email_error: str | None = None


class InvitationLookupOut(BaseModel):
    workspace_name: str
    email: str
    role: Role
    expires_at: datetime


class AcceptIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    name: str = Field("", max_length=200)
    password: str = Field(max_length=MAX_PASSWORD)


async def _workspace(store: StoreDep, workspace_id: str) -> WorkspaceRecord:
    workspace = await store.get_workspace(workspace_id=workspace_id)
    if workspace is None:
        raise NotFound("no such workspace")
    return workspace


@router.get("/workspace")
async def get_workspace(user: CurrentUser, container: ContainerDep) -> WorkspaceOut:
    """The signed-in user's workspace and their role in it."""
    workspace = await _workspace(container.store, user.workspace_id)
    return WorkspaceOut.of(workspace, user.role, container.settings.open_signup)


@router.patch("/workspace", responses=ERRORS)
async def rename_workspace(body: WorkspaceIn, user: Admin, container: ContainerDep) -> WorkspaceOut:
    """Rename the workspace (admins)."""
    workspace = await container.store.rename_workspace(workspace_id=user.workspace_id, name=body.name)
    return WorkspaceOut.of(workspace, user.role, container.settings.open_signup)


@router.get("/members", responses=ERRORS)
async def list_members(user: Manager, store: StoreDep) -> list[UserOut]:
    """The workspace's members, oldest first (managers and admins)."""
    return [UserOut.of(m) for m in await store.list_members(workspace_id=user.workspace_id)]


@router.patch("/members/{member_id}", responses=ERRORS)
async def update_member(member_id: str, body: MemberIn, user: Admin, store: StoreDep) -> UserOut:
    """Change a member's role or manager (admins). Refused with 409 when the workspace would
    be left without an admin."""
    member = await store.update_member(
        workspace_id=user.workspace_id,
        user_id=member_id,
        role=body.role,
        manager_id=body.manager_id,
        clear_manager=body.clear_manager,
    )
    return UserOut.of(member)


@router.delete("/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def remove_member(member_id: str, user: Admin, store: StoreDep) -> Response:
    """Remove a member (admins): they can no longer sign in; their calls stay with the
    workspace. Refused with 409 for the last admin."""
    await store.remove_member(workspace_id=user.workspace_id, user_id=member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _join_link(request: Request, public_url: str | None, token: str) -> str:
    base = (public_url or str(request.base_url)).rstrip("/")
    return f"{base}/join?token={token}"


@router.post("/invitations", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def invite(
    body: InvitationIn, user: Manager, container: ContainerDep, request: Request
) -> InvitationCreatedOut:
    """Invite someone by email. Admins invite any role; managers invite reps to their own team.
    The link is in the answer (shown once) and, with SMTP configured, emailed."""
    manager_id = body.manager_id
    if user.role == "manager":
        if body.role != "rep":
            raise BadInput("managers invite reps; ask an admin for other roles", code="forbidden")
        manager_id = manager_id or user.id
        if manager_id != user.id:
            raise BadInput("managers invite reps to their own team", code="forbidden")
    settings, store = container.settings, container.store
    invitation, token = await store.create_invitation(
        workspace_id=user.workspace_id,
        email=validate_email(body.email),
        role=body.role,
        invited_by=user.id,
        ttl_seconds=settings.invitation_ttl_seconds,
        manager_id=manager_id,
    )
    link = _join_link(request, settings.public_url, token)
    out = InvitationCreatedOut(invitation=InvitationOut.of(invitation, store.now()), link=link, emailed=False)
    mailer = Mailer(settings)
    if mailer.enabled:
        workspace = await _workspace(store, user.workspace_id)
        subject, text = invitation_text(
            workspace=workspace.name,
            inviter=user.name,
            role=body.role,
            link=link,
            expires=invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        try:
            await mailer.send(to=invitation.email, subject=subject, body=text)
            out.emailed = True
        except WingmanError as e:  # the invitation stands: the admin can copy the link
            log.warning("invitation email not sent", extra={"invitation_id": invitation.id})
            out.email_error = str(e)
    return out


@router.get("/invitations", responses=ERRORS)
async def list_invitations(user: Manager, store: StoreDep) -> list[InvitationOut]:
    """Pending invitations (expired ones flagged), newest first."""
    now = store.now()
    return [InvitationOut.of(i, now) for i in await store.list_invitations(workspace_id=user.workspace_id)]


@router.delete("/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def revoke_invitation(invitation_id: str, user: Manager, store: StoreDep) -> Response:
    """Withdraw a pending invitation: its link stops working."""
    if not await store.revoke_invitation(workspace_id=user.workspace_id, invitation_id=invitation_id):
        raise NotFound("no such invitation")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/invitations/lookup",
    responses={400: {"description": "invalid link"}, 410: {"description": "used or expired"}},
)
async def lookup_invitation(
    store: StoreDep, token: Annotated[str, Query(min_length=1, max_length=200)]
) -> InvitationLookupOut:
    """What an invitation link offers (no sign-in needed): the workspace, email and role."""
    invitation = await store.invitation_for_token(token)
    workspace = await _workspace(store, invitation.workspace_id)
    return InvitationLookupOut(
        workspace_name=workspace.name,
        email=invitation.email,
        role=invitation.role,
        expires_at=invitation.expires_at,
    )


@router.post(
    "/invitations/accept",
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"description": "invalid link or password"},
        409: {"description": "the email has an account already"},
        410: {"description": "the invitation was used already or has expired"},
    },
)
async def accept_invitation(body: AcceptIn, container: ContainerDep) -> TokenOut:
    """Create the invited account and sign it in; the link then stops working."""
    grant = await container.auth.accept_invitation(token=body.token, name=body.name, password=body.password)
    return TokenOut.of(grant)


def _routers() -> list[APIRouter]:
    from wingman.api.playbook import router as playbook_router
    from wingman.api.team import router as team_router

    return [router, team_router, playbook_router]


routers = _routers()
