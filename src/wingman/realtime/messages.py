"""Client -> server Socket.IO payloads, validated before anything acts on them.

Keys are snake_case, as in the REST API and the server's own events (realtime/outgoing.py).
A key in the camelCase this protocol used before (`sampleRate`, `callId`) is refused with a
message naming the new key, never silently ignored (a dropped sample rate would decode the
audio at the wrong speed)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from wingman.errors import BadInput

MAX_ID_CHARS = 64
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ClientMessage(BaseModel):
    # Unknown fields are ignored so newer clients keep working against older servers.
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _no_camel_case(cls, data: object) -> object:
        if isinstance(data, dict):
            for name in cls.model_fields:
                old = to_camel(name)
                if old != name and old in data:
                    raise ValueError(f"{old} is now {name} (keys are snake_case)")
        return data


class StartCall(ClientMessage):
    title: str = Field("Untitled call", min_length=1)
    sample_rate: int = Field(16000, ge=8000, le=48000)
    encoding: Literal["f32le", "s16le"] = "f32le"
    channels: Literal[1, 2] = 1
    call_id: str | None = Field(None, max_length=64)  # set: resume this call


class EndCall(ClientMessage):
    """end-call: which call to end; without one (or without an object at all), the call this
    socket streams."""

    call_id: str | None = None

    @classmethod
    def read(cls, data: object) -> EndCall:
        """Lenient, as end-call always was: anything but an object, or a call_id that is not
        text, names no call."""
        if not isinstance(data, dict):
            return cls()
        named = data.get("call_id")
        fixed = {**data, "call_id": named if isinstance(named, str) else None}
        return parse(cls, fixed, event="end-call")


class FeedbackMessage(ClientMessage):
    id: str = Field(min_length=1, max_length=64)
    status: Literal["liked", "disliked", "none"]


# a client's measured delay, seconds: finite, non-negative, at most this (a client clamps longer
# waits to it, so they still count, in the top bucket)
MAX_CLIENT_LATENCY_SECONDS = 120.0
MAX_SAMPLES_PER_REPORT = 50
ClientSeconds = Annotated[
    float, Field(ge=0.0, le=MAX_CLIENT_LATENCY_SECONDS, allow_inf_nan=False, strict=True)]


class LatencyReport(ClientMessage):
    """latency-report: delays a client measured on its own clock, in batches. Each value is
    the seconds from handing to the socket the audio chunk that holds the event's audio end
    (a final's `end`, an insight's `audio_end`) to receiving that event, both on the client's
    monotonic clock (no clock sync needed). Recorded as wingman_client_*_seconds."""

    client: Literal["web", "bench", "demo", "other"] = "other"
    # the client's id of this batch: a batch sent again (kept until acked, resent after a
    # reconnect) is recorded once per call
    batch: str | None = Field(default=None, min_length=1, max_length=64)
    transcript: list[ClientSeconds] = Field(default_factory=list, max_length=MAX_SAMPLES_PER_REPORT)
    insight: list[ClientSeconds] = Field(default_factory=list, max_length=MAX_SAMPLES_PER_REPORT)

    @property
    def samples(self) -> int:
        return len(self.transcript) + len(self.insight)


class ReceivedMessage(ClientMessage):
    """received: the client got this final transcript or insight (`id` as emitted). No answer;
    the gateway the socket is on times it (wingman_acked_audio_to_client_seconds): a final it
    emitted, by id; an insight, by the `audio_end` it carried (any gateway may have emitted it;
    the call's own gateway heard that audio). `held`: seconds, on the client's clock, from
    receiving the event to sending this ack (taken off the figure). Sent only to a server whose
    start-call answer lists the `received` feature. Interims, take-backs and every other event
    are not acked."""

    event: Literal["transcript", "insight"]
    id: str = Field(min_length=1, max_length=64)
    audio_end: float | None = Field(default=None, ge=0.0, allow_inf_nan=False)
    held: float = Field(default=0.0, ge=0.0, le=MAX_CLIENT_LATENCY_SECONDS, allow_inf_nan=False)


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


def check_id(value: str, what: str) -> str:
    """An id from a client, refused unless printable and short (PostgreSQL cannot even compare
    text holding NUL, so such an id would otherwise fail deep in a query)."""
    if len(value) > MAX_ID_CHARS or not value.isprintable():
        raise BadInput(f"{what}: not a valid id", code="bad_payload")
    return value


def clean_title(title: str, max_chars: int) -> str:
    """A title safe to store and show: no control characters (PostgreSQL refuses NUL), no
    surrogates, spaces collapsed, at most `max_chars`."""
    title = title.encode("utf-8", "replace").decode("utf-8")
    return " ".join(_CONTROL_CHARS.sub(" ", title).split())[:max_chars].strip() or "Untitled call"
