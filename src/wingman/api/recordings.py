"""REST: call recordings. Who may do what:

- the workspace's choice (`/api/recordings/settings`): every member reads it (the live page
  says a call is recorded); only an admin changes it, and turning recording on needs the
  admin's confirmation that everyone on a recorded call is told so (consent);
- a call's recording (`/api/calls/{id}/recording`): whoever may see the call (a rep their
  own, a manager their reps', an admin all) gets its status and a short-lived signed link
  to play it; another's call is a 404 exactly like a missing one;
- the audio (`/api/recordings/{id}/audio?token=`): the file, with HTTP Range requests (the
  browser's player seeks with them); the signed link is the credential, as an `<audio>`
  element cannot send a bearer token;
- deleting a recording: an admin, or the rep whose call it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser, CurrentViewer, StoreDep
from wingman.errors import BadInput
from wingman.store.recordings import DELETED, READY, RECORDING
from wingman.store.records import CallRecord, Viewer
from wingman.store.repos import Store

router = APIRouter(prefix="/api", tags=["recordings"])
NOT_FOUND: dict[int | str, dict[str, str]] = {404: {"description": "no such call for this user"}}
MAX_RETENTION_DAYS = 3650


class RecordingSettingsOut(BaseModel):
    enabled: bool
    retention_days: int | None
    codec: str  # what finished recordings are written as (opus, flac, or wav without an encoder)
    can_manage: bool  # the caller is an admin
    updated_at: datetime | None


class RecordingSettingsIn(BaseModel):
    enabled: bool
    retention_days: int | None = Field(default=None, ge=1, le=MAX_RETENTION_DAYS,
                                       description="delete recordings this many days after the call")
    consent_confirmed: bool = Field(
        default=False,
        description="the admin confirms that everyone on a recorded call is told it is recorded",
    )


RecordingStatus = Literal["not_recorded", "recording", "processing", "ready", "failed", "deleted"]


class RecordingOut(BaseModel):
    status: RecordingStatus
    media_type: str | None = None
    seconds: float | None = None
    size_bytes: int | None = None
    url: str | None = None  # signed, for <audio src>; valid until url_expires_at
    url_expires_at: datetime | None = None
    created_at: datetime | None = None
    deletes_at: datetime | None = None  # by the workspace's retention (None: kept with the call)
    deleted_reason: str | None = None  # retention | deleted
    can_delete: bool = False


async def _visible_call(store: Store, viewer: Viewer, call_id: str) -> CallRecord:
    """The call if `viewer` may see it; else 404, exactly as for a missing one."""
    call = await store.get_call(viewer=viewer, call_id=call_id)
    if call is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such call")
    return call


@router.get("/recordings/settings")
async def get_settings(user: CurrentUser, container: ContainerDep) -> RecordingSettingsOut:
    """Whether this workspace records its calls, and for how long it keeps them."""
    chosen = await container.recordings.settings(user.workspace_id)
    return RecordingSettingsOut(enabled=chosen.enabled, retention_days=chosen.retention_days,
                                codec=container.recordings.codec, can_manage=user.role == "admin",
                                updated_at=chosen.updated_at)


@router.put("/recordings/settings", responses={403: {"description": "not a workspace admin"}})
async def put_settings(
    body: RecordingSettingsIn, user: CurrentUser, container: ContainerDep
) -> RecordingSettingsOut:
    """Turn recording on or off for the workspace's next calls and set the retention period."""
    if user.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a workspace admin can change call recording")
    if body.enabled and not body.consent_confirmed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "confirm that everyone on a recorded call is told it is recorded (consent_confirmed)",
        )
    await container.recordings.save_settings(workspace_id=user.workspace_id, enabled=body.enabled,
                                             retention_days=body.retention_days, updated_by=user.id)
    return await get_settings(user, container)


@router.get("/calls/{call_id}/recording", responses=NOT_FOUND)
async def call_recording(
    call_id: str, user: CurrentUser, viewer: CurrentViewer, store: StoreDep, container: ContainerDep
) -> RecordingOut:
    """The call's recording: its status and, when ready, a link to play it."""
    call = await _visible_call(store, viewer, call_id)
    service = container.recordings
    record = await service.repo.get(workspace_id=viewer.workspace_id, call_id=call_id)
    if record is None:
        return RecordingOut(status="not_recorded")
    if record.status == RECORDING and call.end_time is not None:
        record = await service.finish(record)  # ended on this node moments ago: do not wait
    can_delete = user.role == "admin" or call.user_id == user.id
    out = RecordingOut(status="processing" if record.status == RECORDING and call.end_time else record.status,
                       created_at=record.created_at, deleted_reason=record.deleted_reason,
                       can_delete=can_delete and record.status != DELETED)
    if record.status == READY:
        url, expires = service.link(record)
        chosen = await service.settings(viewer.workspace_id)
        out = out.model_copy(update={
            "media_type": record.media_type, "seconds": record.seconds, "size_bytes": record.size_bytes,
            "url": url, "url_expires_at": expires, "deletes_at": service.retention_ends(record, chosen),
        })
    return out


@router.get("/recordings/{call_id}/audio", include_in_schema=False)
async def recording_audio(
    call_id: str,
    container: ContainerDep,
    token: Annotated[str, Query(max_length=2048)],
) -> FileResponse:
    """The recording's audio file; answers Range requests (206) so the player can seek."""
    service = container.recordings
    try:
        workspace_id = service.verify(token, call_id=call_id)
    except BadInput as e:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(e)) from None
    record = await service.repo.get(workspace_id=workspace_id, call_id=call_id)
    if record is None or record.status != READY or not service.file_of(record).is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this recording is not available")
    return FileResponse(
        service.file_of(record),
        media_type=record.media_type,
        headers={"Cache-Control": "private, max-age=900", "X-Content-Type-Options": "nosniff"},
        content_disposition_type="inline",
    )


@router.delete(
    "/calls/{call_id}/recording",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**NOT_FOUND, 403: {"description": "neither an admin nor the call's rep"}},
)
async def delete_recording(
    call_id: str, user: CurrentUser, viewer: CurrentViewer, store: StoreDep, container: ContainerDep
) -> Response:
    """Delete the call's audio for good (the transcript stays)."""
    call = await _visible_call(store, viewer, call_id)
    if user.role != "admin" and call.user_id != user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "only an admin or the rep whose call it is can delete its recording")
    record = await container.recordings.repo.get(workspace_id=viewer.workspace_id, call_id=call_id)
    if record is None or record.status == DELETED:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this call has no recording")
    if record.status == RECORDING and call.end_time is None:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            "the call is still going on: delete its recording after it ends")
    await container.recordings.delete(record, reason="deleted")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
