"""Socket.IO payloads use one casing, snake_case, as REST does: what the server sends and what it
accepts (realtime/outgoing.py, realtime/messages.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wingman.errors import BadInput, Busy
from wingman.events import CallMetrics, Insight, TranscriptFragment
from wingman.realtime.messages import EndCall, StartCall, parse
from wingman.realtime.outgoing import (
    ErrorMessage,
    InsightMessage,
    MetricsMessage,
    StartCallAck,
    TranscriptMessage,
)


def test_start_call_reads_snake_case_keys() -> None:
    msg = parse(StartCall, {"title": "Dana", "sample_rate": 44100, "channels": 2, "call_id": "c1"},
                event="start-call")
    assert (msg.sample_rate, msg.channels, msg.call_id) == (44100, 2, "c1")


@pytest.mark.parametrize("old,new", [("sampleRate", "sample_rate"), ("callId", "call_id")])
def test_start_call_refuses_the_old_camel_case_keys_by_name(old: str, new: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse(StartCall, {"title": "Dana", old: 44100 if old == "sampleRate" else "c1"}, event="start-call")
    assert refused.value.code == "bad_payload"
    assert f"{old} is now {new}" in str(refused.value)


def test_end_call_names_a_call_by_call_id_and_stays_lenient() -> None:
    assert EndCall.read({"call_id": "c9"}).call_id == "c9"
    assert EndCall.read("text").call_id is None
    assert EndCall.read({"call_id": 5}).call_id is None
    with pytest.raises(BadInput):
        EndCall.read({"callId": "c9"})


def test_server_payloads_are_snake_case() -> None:
    fragment = TranscriptFragment(id="u1", call_id="c1", text="Price?", is_final=True, speaker="customer",
                                  start=1.0, end=2.0)
    assert TranscriptMessage.of(fragment).wire()["is_final"] is True
    metrics = MetricsMessage.of(CallMetrics(call_id="c1", user_id="u", rep_talk_ratio=0.4, rep_seconds=4.0,
                                            customer_seconds=6.0, longest_monologue_seconds=3.0,
                                            rep_questions=1, customer_questions=2)).wire()
    assert set(metrics) == {"rep_talk_ratio", "rep_seconds", "customer_seconds",
                            "longest_monologue_seconds", "rep_questions", "customer_questions"}
    assert StartCallAck(call_id="c1", audio_seconds=1.5).wire() == {"call_id": "c1", "audio_seconds": 1.5}
    assert ErrorMessage.of(Busy("full", retry_after=5.0)).wire()["retry_after"] == 5.0
    insight = Insight(id="i1", call_id="c1", user_id="u", kind="objection.price", content="Anchor on value.",
                      category="Objection Handling", agent="coach", context_snippet="price",
                      created_at=datetime.now(UTC))
    wire = InsightMessage.of(insight).wire()
    assert wire["context_snippet"] == "price" and "created_at" in wire
