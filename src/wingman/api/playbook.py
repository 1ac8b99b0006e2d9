"""REST: the workspace's playbook editor (the spec's "Custom Playbooks").

Everyone in the workspace reads the playbook in force; managers and admins save a new version
(validated first: a bad trigger is named and nothing changes), browse the versions with who
changed what, and restore an older one. Live calls use a saved version from their next
transcript block (wingman/playbooks.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser, Manager
from wingman.errors import NotFound
from wingman.playbooks import InvalidPlaybook
from wingman.store.records import PlaybookVersionRecord

router = APIRouter(prefix="/api", tags=["playbook"])

SAVE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid playbook: `problems` names each bad trigger; nothing was saved"},
    403: {"description": "reps read the playbook; managers and admins edit it"},
    409: {"description": "someone saved another version since `base_version`: reload"},
}


class PlaybookOut(BaseModel):
    version: int = Field(description="0: the shipped template, not edited yet")
    playbook: dict[str, Any]
    author_name: str | None = None
    updated_at: datetime | None = None


class PlaybookIn(BaseModel):
    playbook: dict[str, Any] = Field(description="objections, signals, tone, nudges ... as GET returns them")
    base_version: int = Field(ge=0, description="the version this edit started from")


class RestoreIn(BaseModel):
    base_version: int = Field(ge=0)


class VersionOut(BaseModel):
    version: int
    author_name: str
    created_at: datetime
    changes: str
    restored_from: int | None = None

    @classmethod
    def of(cls, r: PlaybookVersionRecord) -> VersionOut:
        return cls(
            version=r.version,
            author_name=r.author_name,
            created_at=r.created_at,
            changes=r.changes,
            restored_from=r.restored_from,
        )


class VersionDetailOut(VersionOut):
    playbook: dict[str, Any]


class InvalidOut(BaseModel):
    detail: str
    code: str
    problems: list[str]


def _invalid(e: InvalidPlaybook) -> JSONResponse:
    body = InvalidOut(detail=str(e), code=e.code, problems=e.problems)
    return JSONResponse(body.model_dump(), status_code=status.HTTP_400_BAD_REQUEST)


@router.get("/playbook")
async def get_playbook(user: CurrentUser, container: ContainerDep) -> PlaybookOut:
    """The workspace's playbook in force."""
    current = await container.playbooks.current(user.workspace_id)
    record = current.record
    return PlaybookOut(
        version=current.version,
        playbook=current.content,
        author_name=record.author_name if record else None,
        updated_at=record.created_at if record else None,
    )


@router.put("/playbook", responses=SAVE_ERRORS, response_model=VersionOut)
async def save_playbook(
    body: PlaybookIn, user: Manager, container: ContainerDep
) -> VersionOut | JSONResponse:
    """Save the playbook as a new version (managers and admins); live calls use it from their
    next transcript block."""
    try:
        record = await container.playbooks.save(
            user.workspace_id,
            body.playbook,
            author_id=user.id,
            author_name=user.name,
            base_version=body.base_version,
        )
    except InvalidPlaybook as e:
        return _invalid(e)
    return VersionOut.of(record)


@router.get("/playbook/versions")
async def list_versions(user: CurrentUser, container: ContainerDep) -> list[VersionOut]:
    """Every saved version, newest first: who changed what, and when."""
    records = await container.store.list_playbook_versions(workspace_id=user.workspace_id)
    return [VersionOut.of(r) for r in records]


@router.get("/playbook/versions/{version}", responses={404: {"description": "no such version"}})
async def get_version(version: int, user: CurrentUser, container: ContainerDep) -> VersionDetailOut:
    """One saved version with its content."""
    record = await container.store.playbook_version(workspace_id=user.workspace_id, version=version)
    if record is None:
        raise NotFound(f"no version {version} of this playbook")
    return VersionDetailOut(**VersionOut.of(record).model_dump(), playbook=json.loads(record.content))


@router.post(
    "/playbook/versions/{version}/restore",
    responses={**SAVE_ERRORS, 404: {"description": "no such version"}},
    response_model=VersionOut,
)
async def restore_version(
    version: int, body: RestoreIn, user: Manager, container: ContainerDep
) -> VersionOut | JSONResponse:
    """Make an older version (0: the shipped template) the newest one again."""
    try:
        record = await container.playbooks.restore(
            user.workspace_id,
            version,
            author_id=user.id,
            author_name=user.name,
            base_version=body.base_version,
        )
    except InvalidPlaybook as e:  # a template edited on disk into something broken
        return _invalid(e)
    return VersionOut.of(record)
