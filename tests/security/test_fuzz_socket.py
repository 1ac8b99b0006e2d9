"""Property-based tests of the Socket.IO protocol: random sequences of events with random
payloads (well-formed, half-formed and garbage) never crash a handler and always get a clear
answer: an ack, or an error with a code and a message; the connection keeps working."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.support import (
    Client,
    Server,
    User,
    audio_chunks,
    connect,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
)

pytestmark = pytest.mark.timeout(240)

ACKED = ("start-call", "feedback", "end-call")
OK_KEYS = {"call_id", "ok"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = quiet_settings(tmp_path_factory.mktemp("fuzz"), socket_events_per_second=10_000,
                       socket_event_burst=10_000, socket_control_per_second=10_000,
                       socket_control_burst=10_000, max_chunk_bytes=8192)
    with serve(s, container_factory=scripted(script_of(["fuzzing is fun"]))) as srv:
        yield srv


@pytest.fixture(scope="module")
def user(server: Server) -> User:
    return register(server.url, "fuzzer")


@pytest.fixture
async def client(server: Server, user: User) -> AsyncIterator[Client]:
    c = await connect(server.url, user.token)
    try:
        yield c
    finally:
        await c.disconnect()


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "x" * 65, "x" * 5000, "liked", "disliked", "none", "f32le", "s16le",
                       "00000000-0000-4000-8000-000000000001", "\x00", "\ud800", "../../etc/passwd",
                       "' OR 1=1 --", "{{7*7}}", "<script>alert(1)</script>"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=10,
)
maybe = json_values | st.integers(min_value=1, max_value=3) | st.sampled_from([8000, 16000, 44100, 48000])

payloads = {
    "start-call": json_values
    | st.fixed_dictionaries({}, optional={"title": maybe, "sample_rate": maybe, "encoding": maybe,
                                          "channels": maybe, "call_id": maybe}),
    "feedback": json_values | st.fixed_dictionaries({}, optional={"id": maybe, "status": maybe}),
    "end-call": json_values | st.fixed_dictionaries({}, optional={"call_id": maybe}),
    "audio-chunk": st.binary(max_size=9000)
    | st.sampled_from(list(audio_chunks(0.0, 0.3)))
    | json_values,
}
unknown_names = st.text(min_size=1, max_size=16).filter(lambda e: e not in payloads) | st.sampled_from(
    ["connect", "disconnect", "message", "*", "error", "transcript"])
steps = st.one_of(
    *(st.tuples(st.just(name), strategy) for name, strategy in payloads.items()),
    st.tuples(unknown_names, json_values),
    # several arguments in one event (a tuple is sent as separate arguments)
    st.tuples(st.sampled_from([*payloads, "connect", "disconnect"]), st.tuples(json_values, json_values)),
)


def _clear_error(answer: Any) -> bool:
    error = answer.get("error") if isinstance(answer, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and bool(error["code"])
        and isinstance(error.get("message"), str)
        and bool(error["message"])
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(sequence=st.lists(steps, min_size=1, max_size=6))
async def test_random_event_sequences_always_get_a_clear_answer(
    client: Client, sequence: list[tuple[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    for event, payload in sequence:
        if event == "audio-chunk":
            before = len(client.events)
            await client.emit(event, payload)
            # no ack for audio: what came back (if anything) must be a clear error
            probe = await client.call("feedback", {"id": "probe", "status": "liked"})
            assert probe["error"]["code"] == "not_found", probe
            for name, data in client.events[before:]:
                if name == "error":
                    assert _clear_error({"error": data}) and data["code"] != "internal", data
            continue
        answer = await client.call(event, payload, timeout=10)
        if event in ACKED and isinstance(answer, dict) and OK_KEYS & answer.keys() and "error" not in answer:
            continue  # accepted
        if event == "end-call" and isinstance(answer, dict) and "summary" in answer:
            continue  # ended a call the sequence started
        assert _clear_error(answer), (event, payload, answer)
        assert answer["error"]["code"] != "internal", (event, payload, answer)
    assert client.sio.connected
    sources = ("wingman", "socketio", "engineio", "asyncio")
    failures = [r for r in caplog.records if r.name.startswith(sources)]
    assert not failures, [r.getMessage() for r in failures]

