"""Queries on users, workspaces and revoked tokens (they live in the directory database;
shards hold copies of the workspace and user rows their data references)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.store.common import insert_ignore
from wingman.store.models import RevokedToken, User, Workspace
from wingman.store.records import UserRecord, WorkspaceRecord

# The built-in user of local mode (one rep on a laptop): fixed, so every process agrees on it.
LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001"
LOCAL_USER_EMAIL = "rep@wingman.local"
LOCAL_USER_NAME = "Local rep"
# ... the admin of the local workspace. Its id is the user's, as migration 0004 gave every
# existing user's workspace, so a laptop's data stays where it was.
LOCAL_WORKSPACE_ID = LOCAL_USER_ID
LOCAL_WORKSPACE_NAME = "Local workspace"


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
