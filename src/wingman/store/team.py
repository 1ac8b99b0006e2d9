"""The people of a workspace: who sees whose calls (Viewer), members and their roles,
invitations, and managers' coaching comments on calls.

Members and invitations live in the directory database with the users. A role change or a
removal that would leave a workspace without an admin is refused inside the transaction that
would make it, with the workspace's admin rows locked (PostgreSQL; SQLite's writers take the
write lock up front), so two admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import exc, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.errors import BadInput, NotFound
from wingman.events import new_id
from wingman.store import accounts
from wingman.store.common import visible
from wingman.store.core import StoreCore
from wingman.store.models import CallComment, CallSession, Invitation, User, Workspace
from wingman.store.records import (
    ROLES,
    CommentRecord,
    InvitationRecord,
    Role,
    UserRecord,
    Viewer,
    WorkspaceRecord,
)

MAX_COMMENT_CHARS = 2000


class InvitationError(BadInput):
    """An invitation that cannot be used (expired, used, withdrawn): say which, change nothing."""


def token_hash(token: str) -> str:
    """What the database keeps of an invitation token (its SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> Role:
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}", code="bad_role")
    return role


async def _members(session: AsyncSession, workspace_id: str) -> list[User]:
    rows = await session.scalars(
        select(User)
        .where(User.workspace_id == workspace_id, User.removed_at.is_(None))
        .order_by(User.created_at, User.email)
    )
    return list(rows)


async def _check_manager(session: AsyncSession, workspace_id: str, manager_id: str | None) -> None:
    if manager_id is None:
        return
    row = await session.get(User, manager_id)
    if row is None or row.workspace_id != workspace_id or row.removed_at is not None:
        raise NotFound("no such manager in this workspace")
    if row.role not in ("manager", "admin"):
        raise BadInput("a rep's manager must have the manager or admin role", code="bad_manager")


async def _keep_an_admin(session: AsyncSession, workspace_id: str, leaving: str) -> None:
    admins = list(
        await session.scalars(
            select(User.id)
            .where(User.workspace_id == workspace_id, User.role == "admin", User.removed_at.is_(None))
            .with_for_update()
        )
    )
    if admins == [leaving]:
        raise BadInput(
            "the workspace needs at least one admin: make someone else admin first", code="last_admin"
        )


class TeamStore(StoreCore):
    """Viewers, members, invitations and coaching comments (part of `Store`)."""

    def now(self) -> datetime:
        """The store's clock (expiry checks agree with it)."""
        return self._clock()

    async def rename_workspace(self, *, workspace_id: str, name: str) -> WorkspaceRecord:
        """Give the workspace a new name (control characters removed); NotFound if none."""
        clean = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
        if not clean:
            raise BadInput("the workspace needs a name", code="bad_name")
        async with self._tx(self._router.directory()) as s:
            row = await s.get(Workspace, workspace_id)
            if row is None:
                raise NotFound("no such workspace")
            row.name = clean
            await s.flush()
            return WorkspaceRecord.model_validate(row)

    async def viewer(self, user: UserRecord) -> Viewer:
        """Whose calls `user` sees: everyone's (admin), their reps' and their own (manager),
        their own (rep)."""
        team: frozenset[str] = frozenset()
        if user.role == "manager":
            async with self._tx(self._router.directory_fresh()) as s:
                rows = await s.scalars(
                    select(User.id).where(User.workspace_id == user.workspace_id, User.manager_id == user.id)
                )
                team = frozenset(rows)
        return Viewer(
            workspace_id=user.workspace_id,
            user_id=user.id,
            role=user.role,
            team=team,
            everyone=user.role == "admin",
        )

    async def has_accounts(self) -> bool:
        """Whether anyone registered with a password (a fresh install has no such user)."""
        async with self._tx(self._router.directory_fresh()) as s:
            found = await s.scalar(select(User.id).where(User.password_hash.is_not(None)).limit(1))
        return found is not None

    async def list_members(self, *, workspace_id: str) -> list[UserRecord]:
        """The workspace's current members, oldest first."""
        async with self._tx(self._router.directory_fresh()) as s:
            return [UserRecord.model_validate(r) for r in await _members(s, workspace_id)]

    async def update_member(
        self,
        *,
        workspace_id: str,
        user_id: str,
        role: str | None = None,
        manager_id: str | None = None,
        clear_manager: bool = False,
    ) -> UserRecord:
        """Change a member's role and/or manager. NotFound for someone not in the workspace;
        BadInput(code="last_admin") when the workspace would be left without an admin."""
        async with self._tx(self._router.directory()) as s:
            row = await s.get(User, user_id)
            if row is None or row.workspace_id != workspace_id or row.removed_at is not None:
                raise NotFound("no such member")
            if role is not None:
                new_role = _check_role(role)
                if row.role == "admin" and new_role != "admin":
                    await _keep_an_admin(s, workspace_id, user_id)
                if row.role == "manager" and new_role == "rep":
                    # a rep has no team: their reps report to nobody until reassigned
                    await s.execute(update(User).where(User.manager_id == user_id).values(manager_id=None))
                row.role = new_role
            if clear_manager:
                row.manager_id = None
            elif manager_id is not None:
                if manager_id == user_id:
                    raise BadInput("a member cannot be their own manager", code="bad_manager")
                await _check_manager(s, workspace_id, manager_id)
                row.manager_id = manager_id
            await s.flush()
            return UserRecord.model_validate(row)

    async def remove_member(self, *, workspace_id: str, user_id: str, now: datetime | None = None) -> None:
        """Take a member out of the workspace: they can no longer sign in, their calls stay
        with the workspace, their email is free to be invited again or to sign up (the row
        keeps a placeholder). Refused (last_admin) for the only admin."""
        async with self._tx(self._router.directory()) as s:
            row = await s.get(User, user_id)
            if row is None or row.workspace_id != workspace_id or row.removed_at is not None:
                raise NotFound("no such member")
            if row.role == "admin":
                await _keep_an_admin(s, workspace_id, user_id)
            row.removed_at = removed_at = now or self._clock()
            row.email = placeholder = accounts.removed_email(user_id)  # the email is free again
            await s.execute(update(User).where(User.manager_id == user_id).values(manager_id=None))
        # the shard's copy of the row too: it holds the email unique as well
        async with self._write(workspace_id) as s:
            await s.execute(
                update(User).where(User.id == user_id).values(removed_at=removed_at, email=placeholder)
            )

    # -- invitations
    async def create_invitation(
        self,
        *,
        workspace_id: str,
        email: str,
        role: str,
        invited_by: str,
        ttl_seconds: float,
        manager_id: str | None = None,
    ) -> tuple[InvitationRecord, str]:
        """A new invitation and its token (returned once, never stored: only its hash is).
        BadInput(code="email_taken") when the email has an account already."""
        checked = _check_role(role)
        email = accounts.normalize_email(email)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._tx(self._router.directory()) as s:
            if await accounts.get_user_by_email(s, email) is not None:
                raise BadInput("an account with this email exists already", code="email_taken")
            await _check_manager(s, workspace_id, manager_id)
            row = Invitation(
                id=new_id(),
                workspace_id=workspace_id,
                email=email,
                role=checked,
                manager_id=manager_id,
                token_hash=token_hash(token),
                invited_by=invited_by,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
            s.add(row)
            await s.flush()
            return InvitationRecord.model_validate(row), token

    async def list_invitations(self, *, workspace_id: str) -> list[InvitationRecord]:
        """Invitations not yet accepted nor withdrawn (expired ones included), newest first."""
        async with self._tx(self._router.directory_fresh()) as s:
            rows = await s.scalars(
                select(Invitation)
                .where(
                    Invitation.workspace_id == workspace_id,
                    Invitation.accepted_at.is_(None),
                    Invitation.revoked_at.is_(None),
                )
                .order_by(Invitation.created_at.desc())
            )
            return [InvitationRecord.model_validate(r) for r in rows]

    async def revoke_invitation(self, *, workspace_id: str, invitation_id: str) -> bool:
        """Withdraw a pending invitation of this workspace; False if there is none."""
        async with self._tx(self._router.directory()) as s:
            row = await s.get(Invitation, invitation_id)
            if row is None or row.workspace_id != workspace_id or row.accepted_at or row.revoked_at:
                return False
            row.revoked_at = self._clock()
            return True

    async def invitation_for_token(self, token: str) -> InvitationRecord:
        """The usable invitation behind `token`; InvitationError saying why it is not."""
        async with self._tx(self._router.directory_fresh()) as s:
            row = await self._usable(s, token)
            return InvitationRecord.model_validate(row)

    async def _usable(self, session: AsyncSession, token: str) -> Invitation:
        row = await session.scalar(
            select(Invitation).where(Invitation.token_hash == token_hash(token)).with_for_update()
        )
        if row is None or row.revoked_at is not None:
            raise InvitationError(
                "this invitation link is not valid: ask for a new one", code="invitation_invalid"
            )
        if row.accepted_at is not None:
            raise InvitationError(
                "this invitation was used already: sign in, or ask for a new one", code="invitation_used"
            )
        # SQLite hands datetimes back naive; we only ever store UTC
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        if expires <= self._clock():
            raise InvitationError("this invitation has expired: ask for a new one", code="invitation_expired")
        return row

    async def accept_invitation(self, *, token: str, name: str, password_hash: str) -> UserRecord:
        """Create the invited account and use up the invitation, in one transaction (two
        accepts of one token: one account). InvitationError when it cannot be used."""
        async with self._tx(self._router.directory()) as s:
            row = await self._usable(s, token)
            user = UserRecord(
                id=new_id(),
                email=row.email,
                name=name.strip() or row.email.split("@", 1)[0],
                created_at=self._clock(),
                password_hash=password_hash,
                workspace_id=row.workspace_id,
                role=_check_role(row.role),
                manager_id=row.manager_id,
            )
            if not await accounts.insert_user(s, user):
                raise BadInput("an account with this email exists already", code="email_taken")
            row.accepted_at = self._clock()
            row.accepted_by = user.id
        await self._copy_user_to_shard(user)
        return user

    # -- coaching comments (on the call's shard)
    async def add_comment(
        self, *, viewer: Viewer, author_name: str, call_id: str, text: str, at_seconds: float | None = None
    ) -> CommentRecord:
        """A manager's or admin's comment on a call they can see (NotFound otherwise, as for
        a missing call); BadInput for an empty or too long text."""
        text = text.strip()
        if not text or len(text) > MAX_COMMENT_CHARS:
            raise BadInput(f"a comment must have 1 to {MAX_COMMENT_CHARS} characters", code="bad_comment")
        if at_seconds is not None and not 0 <= at_seconds < 86_400:
            raise BadInput("the moment must be between 0 and 24 h into the call", code="bad_moment")
        async with self._write(viewer.workspace_id) as s:
            found = await s.scalar(select(CallSession.id).where(CallSession.id == call_id, *visible(viewer)))
            if found is None:  # before the role check: a hidden call is a missing one for all
                raise NotFound("no such call")
            if viewer.role == "rep":
                raise BadInput("only managers and admins write coaching comments", code="forbidden")
            row = CallComment(
                id=new_id(),
                call_session_id=call_id,
                author_id=viewer.user_id,
                author_name=author_name[:200],
                at_seconds=at_seconds,
                text=text,
                created_at=self._clock(),
            )
            s.add(row)
            try:
                await s.flush()
            except exc.IntegrityError as e:  # the author's row is not on this shard
                raise NotFound("no such call") from e
            return CommentRecord.model_validate(row)

    async def list_comments(self, *, viewer: Viewer, call_id: str) -> list[CommentRecord]:
        """A call's comments in time order (empty for calls `viewer` cannot see)."""
        async with self._tx(await self._fresh(viewer.workspace_id)) as s:
            rows = await s.scalars(
                select(CallComment)
                .join(CallSession, CallSession.id == CallComment.call_session_id)
                .where(CallComment.call_session_id == call_id, *visible(viewer))
                .order_by(CallComment.created_at, CallComment.id)
            )
            return [CommentRecord.model_validate(r) for r in rows]

    async def comment_counts(self, *, viewer: Viewer, call_ids: list[str]) -> dict[str, int]:
        """How many comments each of these calls has (those `viewer` sees)."""
        if not call_ids:
            return {}
        async with self._tx(await self._reader(viewer.workspace_id)) as s:
            rows = await s.execute(
                select(CallComment.call_session_id, func.count())
                .join(CallSession, CallSession.id == CallComment.call_session_id)
                .where(CallComment.call_session_id.in_(call_ids), *visible(viewer))
                .group_by(CallComment.call_session_id)
            )
            return {str(c): int(n) for c, n in rows}
