"""REST: the signed-in user's voiceprint, the voice check that tells one-channel calls which
voice is the rep.

POST takes the voice check as a 16-bit PCM WAV body (Content-Type audio/wav, 3 to 60 s, one
voice); GET says whether there is one; DELETE forgets it (calls then take the first voice heard
as the rep).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser
from wingman.errors import BadInput
from wingman.speakers.voiceprint import MAX_WAV_BYTES, MIN_SPEECH_SECONDS
from wingman.store.voiceprints import VoiceprintRecord

router = APIRouter(prefix="/api", tags=["speakers"])


class VoiceprintOut(BaseModel):
    enrolled: bool
    seconds: float | None = Field(None, description="seconds of speech the print was made from")
    created_at: datetime | None = None
    model: str | None = None
    min_seconds: float = MIN_SPEECH_SECONDS


def _out(record: VoiceprintRecord | None) -> VoiceprintOut:
    if record is None:
        return VoiceprintOut(enrolled=False)
    return VoiceprintOut(
        enrolled=True, seconds=record.seconds, created_at=record.created_at, model=record.model
    )


@router.get("/voiceprint", response_model=VoiceprintOut)
async def get_voiceprint(container: ContainerDep, user: CurrentUser) -> VoiceprintOut:
    """Whether the user has done the voice check."""
    return _out(await container.voiceprints.get(user.workspace_id or user.id, user.id))


@router.post(
    "/voiceprint",
    response_model=VoiceprintOut,
    responses={
        400: {"description": "not 16-bit PCM WAV, under 3 s of speech, or more than one voice"},
        413: {"description": "longer than 60 s"},
    },
    openapi_extra={
        "requestBody": {"content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def post_voiceprint(request: Request, container: ContainerDep, user: CurrentUser) -> VoiceprintOut:
    """Enroll the user's voice from a voice check (replaces an older one)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WAV_BYTES:
            raise HTTPException(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "the voice check may last at most 60 s"
            )
    try:
        record = await container.voiceprints.enroll(user.workspace_id or user.id, user.id, bytes(body))
    except BadInput as exc:  # others (not WAV, too short, two voices) are 400s, as everywhere
        if exc.code == "audio_too_large":
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, str(exc)) from None
        raise
    return _out(record)


@router.delete("/voiceprint", response_model=VoiceprintOut)
async def delete_voiceprint(container: ContainerDep, user: CurrentUser) -> VoiceprintOut:
    """Forget the user's voice."""
    await container.voiceprints.delete(user.workspace_id or user.id, user.id)
    return VoiceprintOut(enrolled=False)
