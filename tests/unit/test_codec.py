"""Bus codec: every event type round-trips; anything else is refused without importing it."""

from __future__ import annotations

import json
import sys

import pytest

from tests.fakes.events import ONE_OF_EACH
from wingman.bus.codec import KNOWN_TYPES, DecodeError, decode, encode
from wingman.errors import ProviderError
from wingman.events import (
    BusEvent,
)


def test_every_event_type_is_covered() -> None:
    assert {e.type for e in ONE_OF_EACH} == set(KNOWN_TYPES)
    assert len(KNOWN_TYPES) == 8


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda e: e.type)
def test_round_trip(event: BusEvent) -> None:
    data = encode(event)
    assert isinstance(data, bytes)
    assert json.loads(data)["type"] == event.type
    back = decode(data)
    assert type(back) is type(event)
    assert back == event
    assert decode(data.decode()) == event  # str input too


def test_unknown_type_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DecodeError, match="unknown bus event type 'transcript.v2'") as info:
        decode(b'{"type": "transcript.v2", "text": "secret words"}')
    assert "transcript.block" in str(info.value)  # says what is accepted
    assert "secret words" not in str(info.value)  # never echoes content
    assert isinstance(info.value, ProviderError)


def test_a_class_path_in_the_message_is_never_imported() -> None:
    name = "wingman_codec_test_should_not_import"
    before = set(sys.modules)
    for payload in (
        {"type": f"{name}.Evil", "call_id": "c"},
        {"type": "wingman.events.Insight", "call_id": "c"},
        {"type": "insight", "__class__": f"{name}.Evil", "call_id": "c"},
    ):
        with pytest.raises(DecodeError):
            decode(json.dumps(payload))
    assert name not in sys.modules
    assert not {m for m in set(sys.modules) - before if "codec_test" in m}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"call_id": "c"}', "no 'type' field"),
        (b"\xff\xfe not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"insight"', "not a JSON object"),
        (b'{"type": "feedback", "id": "r", "status": "liked"}', "feedback.user_id"),
        (b'{"type": "feedback", "id": "r", "user_id": "u", "status": "meh"}', "feedback.status"),
        (b'{"type": "feedback", "id": "r", "user_id": "u", "status": "liked", "x": 1}', "feedback.x"),
    ],
)
def test_malformed_messages_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(data)


def test_error_for_bad_fields_does_not_echo_values() -> None:
    with pytest.raises(DecodeError) as info:
        decode(
            b'{"type": "transcript.block", "call_id": "c", "user_id": "u", "seq": "x",'
            b' "text": "my card number is 4111", "speaker": null, "start": 0, "end": 1}'
        )
    assert "4111" not in str(info.value)
    assert "transcript.block.seq" in str(info.value)
