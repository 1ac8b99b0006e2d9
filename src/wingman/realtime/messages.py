"""Client -> server Socket.IO payloads, validated before anything acts on them."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wingman.errors import BadInput


class ClientMessage(BaseModel):
    # Unknown fields are ignored so newer clients keep working against older servers.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StartCall(ClientMessage):
    title: str = Field("Untitled call", min_length=1)
    sample_rate: int = Field(16000, alias="sampleRate", ge=8000, le=48000)
    encoding: Literal["f32le", "s16le"] = "f32le"
    channels: Literal[1, 2] = 1
    call_id: str | None = Field(None, alias="callId", max_length=64)


class FeedbackMessage(ClientMessage):
    id: str = Field(min_length=1, max_length=64)
    status: Literal["liked", "disliked", "none"]


M = TypeVar("M", bound="ClientMessage")


def parse(model: type[M], data: object, *, event: str) -> M:
    """Validate `data` or raise BadInput naming the first problem (never echoing values)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{event} expects a JSON object", code="bad_payload")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise BadInput(f"{event}: {where}: {first['msg']}", code="bad_payload") from None
