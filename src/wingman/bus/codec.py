"""Bus events <-> bytes: JSON decoded through the `BUS_EVENT` discriminated union.

The `type` field picks the model from a closed list (`wingman.events.BusEvent`); nothing read from
the wire is ever imported or looked up by name. Error messages name the offending type and field
locations but never echo values, so transcript text cannot leak into logs.
"""

from __future__ import annotations

from typing import get_args

from pydantic import ValidationError

from wingman.errors import ProviderResponseError
from wingman.events import BUS_EVENT, BusEvent


class DecodeError(ProviderResponseError):
    """A bus message that is not a valid Wingman event (unknown type, bad JSON, bad fields)."""

    code = "bus_decode"


def _known_types() -> tuple[str, ...]:
    union = get_args(BusEvent)[0]
    return tuple(str(model.model_fields["type"].default) for model in get_args(union))


KNOWN_TYPES: tuple[str, ...] = _known_types()


def encode(event: BusEvent) -> bytes:
    """Serialize an event to compact UTF-8 JSON (its `type` field included)."""
    return event.model_dump_json().encode()


def decode(data: bytes | bytearray | str) -> BusEvent:
    """Parse one message; raises `DecodeError` for anything that is not a known event."""
    try:
        return BUS_EVENT.validate_json(data)
    except ValidationError as e:
        raise DecodeError(_describe(e)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False, include_input=False)[0]
    kind = first["type"]
    if kind == "union_tag_invalid":
        tag = str(first.get("ctx", {}).get("tag", ""))[:64]
        return f"unknown bus event type {tag!r}; expected one of: {', '.join(KNOWN_TYPES)}"
    if kind == "union_tag_not_found":
        return "bus message has no 'type' field"
    if kind == "json_invalid":
        return "bus message is not valid JSON"
    if kind in ("dict_type", "model_type"):
        return "bus message is not a JSON object"
    fields = sorted({".".join(str(p) for p in err["loc"]) for err in error.errors()})
    return f"invalid bus event ({error.error_count()} errors) at: {', '.join(fields[:8])}"
