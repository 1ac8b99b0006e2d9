"""A user's own account: the sessions it signed in with, its password, and deleting it.

Sessions: every token issued is recorded in `auth_sessions` (directory database), so "sign out
everywhere" and a password change revoke each of the user's tokens by id: REST, new sockets and
the gateways' periodic check of open sockets (realtime/sessions.py) all read `revoked_tokens`.

Deleting an account removes the user's own data and hands the workspace's over:

- removed: their calls with everything attached (transcript, tips, agent runs, moments,
  action items, sentiment, CRM jobs, comments on them), the coaching comments they wrote,
  their voiceprint, their sessions and their user row (email freed at once);
- handed over to the workspace (their heir: the oldest other admin): the knowledge-base
  documents and vocabulary terms they added; playbook versions they saved lose their
  author's name; invitations they sent keep working;
- the workspace's only member deletes the whole workspace with all its data;
- the only admin of a workspace with other members is refused (LastAdmin, 409 in the API):
  they make someone else admin first, as for a role change or a removal.

The first step, in one directory transaction with the workspace's admin rows locked, takes the
user out (removed, sessions revoked, and the placeholder email `accounts.deleting_email` that
marks the deletion as unfinished): from then on they cannot sign in, whatever happens to the
later steps. Those (voiceprints, the heir's row, the purge on the shard, then the directory,
whose user row goes last) are idempotent deletes and updates: when one fails (a shard down),
`finish_deletions` (the periodic orphan sweep, realtime/upkeep.py) runs them again for every
account still marked, so no calls, transcripts or CRM jobs of a deleted account stay behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.errors import BadInput, NotFound
from wingman.store import accounts
from wingman.store.core import StoreCore
from wingman.store.maintenance import CALL_CHILDREN
from wingman.store.models import (
    CallComment,
    CallSession,
    CompanyProfileRow,
    CrmConnectionRow,
    CrmSyncRow,
    Document,
    DocumentChunk,
    Invitation,
    PlaybookVersion,
    TenantPlacement,
    User,
    VocabularyTerm,
    Voiceprint,
    Workspace,
)
from wingman.store.records import UserRecord
from wingman.store.team import _keep_an_admin

log = logging.getLogger(__name__)

DELETED_AUTHOR = "(deleted account)"


class LocalUserKept(BadInput):
    """The built-in user of local mode cannot be deleted (every token-less request is it)."""

    code = "local_user"


@dataclass(frozen=True)
class DeletedAccount:
    """What deleting an account did: the revoked token ids (to close open sockets), and
    whether the whole workspace went with it."""

    jtis: list[str]
    workspace_deleted: bool


async def _delete_calls(session: AsyncSession, where: list[ColumnElement[bool]]) -> None:
    calls = select(CallSession.id).where(*where).scalar_subquery()
    # children first: this does not depend on the foreign keys' cascades
    for model in (*CALL_CHILDREN, CallComment):
        await session.execute(delete(model).where(model.call_session_id.in_(calls)))
    await session.execute(delete(CallSession).where(*where))


async def _purge_workspace(session: AsyncSession, workspace_id: str) -> None:
    """Every row of the workspace in this database (directory or shard)."""
    await _delete_calls(session, [CallSession.workspace_id == workspace_id])
    for model in (DocumentChunk, Document, VocabularyTerm):
        await session.execute(delete(model).where(model.workspace_id == workspace_id))
    for tenant_model in (CrmSyncRow, CrmConnectionRow, CompanyProfileRow):
        await session.execute(delete(tenant_model).where(tenant_model.tenant_id == workspace_id))
    for ws_model in (PlaybookVersion, Invitation, TenantPlacement):
        await session.execute(delete(ws_model).where(ws_model.workspace_id == workspace_id))
    members = select(User.id).where(User.workspace_id == workspace_id).scalar_subquery()
    await session.execute(delete(CallComment).where(CallComment.author_id.in_(members)))
    await session.execute(delete(Voiceprint).where(Voiceprint.user_id.in_(members)))
    await session.execute(delete(User).where(User.workspace_id == workspace_id))
    await session.execute(delete(Workspace).where(Workspace.id == workspace_id))


async def _purge_member(session: AsyncSession, *, workspace_id: str, user_id: str, heir: str) -> None:
    """The member's own rows in this database; the workspace's rows they added go to `heir`."""
    await _delete_calls(session, [CallSession.workspace_id == workspace_id, CallSession.user_id == user_id])
    for model in (DocumentChunk, Document, VocabularyTerm):
        await session.execute(update(model).where(model.user_id == user_id).values(user_id=heir))
    await session.execute(delete(CallComment).where(CallComment.author_id == user_id))
    await session.execute(delete(Voiceprint).where(Voiceprint.user_id == user_id))
    await session.execute(
        update(PlaybookVersion)
        .where(PlaybookVersion.author_id == user_id)
        .values(author_id=None, author_name=DELETED_AUTHOR)
    )
    await session.execute(update(Invitation).where(Invitation.invited_by == user_id).values(invited_by=None))
    await session.execute(update(User).where(User.manager_id == user_id).values(manager_id=None))
    await session.execute(delete(User).where(User.id == user_id))


async def _other_members(session: AsyncSession, workspace_id: str, user_id: str) -> list[User]:
    """The workspace's members still in it, but `user_id`, oldest first."""
    return list(await session.scalars(
        select(User).where(
            User.workspace_id == workspace_id, User.removed_at.is_(None), User.id != user_id
        ).order_by(User.created_at, User.id)
    ))


class AccountStore(StoreCore):
    """Sessions, password changes and account deletion (part of `Store`)."""

    async def record_session(self, *, user_id: str, jti: str, now: datetime, expires_at: datetime) -> None:
        """Remember a token issued to `user_id` until it expires."""
        async with self._tx(self._router.directory()) as s:
            await accounts.record_session(s, jti=jti, user_id=user_id, now=now, expires_at=expires_at)

    async def end_sessions(self, *, user_id: str, now: datetime) -> list[str]:
        """Sign the user out everywhere: revoke each of their tokens; returns their ids."""
        async with self._tx(self._router.directory()) as s:
            return await accounts.end_sessions(s, user_id=user_id, now=now)

    async def set_password(self, *, user_id: str, password_hash: str, now: datetime) -> list[str]:
        """Replace the user's password hash and end every session they have, in one
        transaction; returns the revoked token ids. NotFound for an unknown or removed user."""
        async with self._tx(self._router.directory()) as s:
            row = await s.get(User, user_id)
            if row is None or row.removed_at is not None:
                raise NotFound("no such account")
            row.password_hash = password_hash
            return await accounts.end_sessions(s, user_id=user_id, now=now)

    async def delete_account(self, *, user_id: str, now: datetime) -> DeletedAccount:
        """Delete the user and their data (module docstring). LocalUserKept for the local
        user, BadInput(code="last_admin") for the only admin of a workspace with other members,
        NotFound for an unknown or removed user. When a step after the first fails, the
        account is gone all the same and the sweep (`finish_deletions`) ends the rest."""
        if user_id == accounts.LOCAL_USER_ID:
            raise LocalUserKept("the built-in local user cannot be deleted: run with sign-in for accounts")
        async with self._tx(self._router.directory()) as s:
            row = await s.get(User, user_id)
            if row is None or row.removed_at is not None or row.workspace_id is None:
                raise NotFound("no such account")
            others = await _other_members(s, row.workspace_id, user_id)
            if others and row.role == "admin":
                await _keep_an_admin(s, row.workspace_id, user_id)  # locks the admins' rows
            row.removed_at = now
            row.email = accounts.deleting_email(user_id)
            jtis = await accounts.end_sessions(s, user_id=user_id, now=now)
        try:
            await self._finish_deletion(user_id)
        except Exception:
            log.exception("account deletion unfinished: the sweep ends it", extra={"user_id": user_id})
        return DeletedAccount(jtis=jtis, workspace_deleted=not others)

    async def finish_deletions(self) -> int:
        """End every account deletion a failure left unfinished; returns how many ended."""
        async with self._tx(self._router.directory()) as s:
            pending = list(await s.scalars(
                select(User.id).where(User.email.like(f"%@{accounts.DELETING_EMAIL_DOMAIN}"))
            ))
        finished = 0
        for user_id in pending:
            try:
                await self._finish_deletion(str(user_id))
                finished += 1
            except Exception:
                log.exception("account deletion still unfinished", extra={"user_id": user_id})
        if finished:
            log.info("unfinished account deletions ended", extra={"accounts": finished})
        return finished

    async def _finish_deletion(self, user_id: str) -> None:
        """Every step after the first (idempotent): voiceprints, the heir's row on the shard,
        the purge on the shard and then the directory (the user row last)."""
        async with self._tx(self._router.directory()) as s:
            row = await s.get(User, user_id)
            if row is None or row.workspace_id is None or row.email != accounts.deleting_email(user_id):
                return
            workspace_id = row.workspace_id
            others = await _other_members(s, workspace_id, user_id)
            admins = [u.id for u in others if u.role == "admin"]
            heir = admins[0] if admins else None
            members = [user_id] if others else list(
                await s.scalars(select(User.id).where(User.workspace_id == workspace_id))
            )
        for member in members:  # voiceprints live on the workspace's shard (store/repos.py)
            async with self._write(workspace_id) as s:
                await s.execute(delete(Voiceprint).where(Voiceprint.user_id == member))
        if heir is not None:  # the rows handed over reference the heir's row on the shard
            heir_row = await self.get_user_record(heir)
            if heir_row is not None:
                await self._copy_user_to_shard(heir_row)
        engines = [(await self._writer(workspace_id)).primary]
        if self._router.directory() not in engines:
            engines.append(self._router.directory())  # last: its user row marks the deletion
        for engine in engines:
            async with self._tx(engine) as s:
                if heir is None:
                    await _purge_workspace(s, workspace_id)
                else:
                    await _purge_member(s, workspace_id=workspace_id, user_id=user_id, heir=heir)
        if heir is None:
            self.placements.forget(workspace_id)

    async def get_user_record(self, user_id: str) -> UserRecord | None:
        """The user row (removed ones too), or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_user(s, user_id)
