"""Queries on users, workspaces and revoked tokens (they live in the directory database;
shards hold copies of the workspace and user rows their data references)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.errors import BadInput
from wingman.store.common import dialect_of, insert_ignore
from wingman.store.models import AuthSession, RevokedToken, User, Workspace
from wingman.store.records import UserRecord, WorkspaceRecord

# The built-in user of local mode (one rep on a laptop): fixed, so every process agrees on it.
LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001"
LOCAL_USER_EMAIL = "rep@wingman.local"
LOCAL_USER_NAME = "Local rep"
# ... the admin of the local workspace. Its id is the user's, as migration 0004 gave every
# existing user's workspace, so a laptop's data stays where it was.
LOCAL_WORKSPACE_ID = LOCAL_USER_ID
LOCAL_WORKSPACE_NAME = "Local workspace"
# a removed member keeps their row (their calls stay) under a placeholder email, so the real
# one can be invited again or sign up (RFC 2606: .invalid is never deliverable)
REMOVED_EMAIL_DOMAIN = "removed.invalid"
_FIRST_SIGNUP_LOCK = 0x57494E48  # pg advisory lock key: first sign-ups one at a time


class FirstAccountTaken(BadInput):
    """A first-account sign-up lost the race: another account was made meanwhile."""

    code = "signup_closed"


def removed_email(user_id: str) -> str:
    """The placeholder email a removed member's row keeps."""
    return f"{user_id}@{REMOVED_EMAIL_DOMAIN}"


DELETING_EMAIL_DOMAIN = "deleting." + REMOVED_EMAIL_DOMAIN


def deleting_email(user_id: str) -> str:
    """The placeholder email of an account being deleted: marks the deletion as not finished
    (the user row goes with its last step; the periodic sweep finishes what a failure left)."""
    return f"{user_id}@{DELETING_EMAIL_DOMAIN}"


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def insert_user(session: AsyncSession, user: UserRecord) -> bool:
    """Insert a user row unless its id or email exists; True when it was new."""
    return await insert_ignore(
        session,
        User.__table__,  # type: ignore[arg-type]
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
            "workspace_id": user.workspace_id,
            "role": user.role,
            "manager_id": user.manager_id,
        },
    )


async def insert_workspace(session: AsyncSession, workspace: WorkspaceRecord) -> bool:
    """Insert a workspace row unless its id exists; True when it was new."""
    return await insert_ignore(
        session,
        Workspace.__table__,  # type: ignore[arg-type]
        {"id": workspace.id, "name": workspace.name, "created_at": workspace.created_at},
    )


async def get_workspace(session: AsyncSession, workspace_id: str) -> WorkspaceRecord | None:
    row = await session.get(Workspace, workspace_id)
    return WorkspaceRecord.model_validate(row) if row is not None else None


async def get_user(session: AsyncSession, user_id: str) -> UserRecord | None:
    row = await session.get(User, user_id)
    return UserRecord.model_validate(row) if row is not None else None


async def get_user_by_email(session: AsyncSession, email: str) -> UserRecord | None:
    row = await session.scalar(select(User).where(User.email == normalize_email(email)))
    return UserRecord.model_validate(row) if row is not None else None


async def claim_first_account(session: AsyncSession) -> None:
    """Inside the transaction that would make the install's first account: FirstAccountTaken
    when an account with a password exists. Serialized: SQLite's writers hold the write lock
    from BEGIN IMMEDIATE; PostgreSQL takes a transaction-scoped advisory lock, so two
    simultaneous first sign-ups cannot both see an empty install."""
    if dialect_of(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _FIRST_SIGNUP_LOCK})
    if await session.scalar(select(exists().where(User.password_hash.is_not(None)))):
        raise FirstAccountTaken("sign-up is by invitation: ask your workspace admin for a link")


async def record_session(session: AsyncSession, *, jti: str, user_id: str, now: datetime,
                         expires_at: datetime) -> None:
    """Remember an issued token until it expires (and forget the expired ones)."""
    await session.execute(delete(AuthSession).where(AuthSession.expires_at < now))
    await insert_ignore(
        session,
        AuthSession.__table__,  # type: ignore[arg-type]
        {"jti": jti, "user_id": user_id, "created_at": now, "expires_at": expires_at},
    )


async def end_sessions(session: AsyncSession, *, user_id: str, now: datetime) -> list[str]:
    """Revoke every unexpired token of the user and refuse any issued before `now` (tokens
    from before sessions were recorded); returns the revoked token ids."""
    rows = (await session.execute(
        select(AuthSession.jti, AuthSession.expires_at).where(
            AuthSession.user_id == user_id, AuthSession.expires_at >= now)
    )).all()
    for jti, expires_at in rows:
        await insert_ignore(
            session,
            RevokedToken.__table__,  # type: ignore[arg-type]
            {"jti": jti, "expires_at": expires_at},
        )
    await session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))
    row = await session.get(User, user_id)
    if row is not None:
        row.sessions_revoked_at = now
    return [str(jti) for jti, _ in rows]


async def revoke_token(session: AsyncSession, *, jti: str, expires_at: datetime, now: datetime) -> None:
    # expired tokens are refused anyway: drop their revocations so the table stays small
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    await insert_ignore(
        session,
        RevokedToken.__table__,  # type: ignore[arg-type]
        {"jti": jti, "expires_at": expires_at},
    )


async def is_token_revoked(session: AsyncSession, jti: str) -> bool:
    return bool(await session.scalar(select(exists().where(RevokedToken.jti == jti))))


async def revoked_among(session: AsyncSession, jtis: list[str]) -> set[str]:
    rows = await session.scalars(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis)))
    return set(rows)
