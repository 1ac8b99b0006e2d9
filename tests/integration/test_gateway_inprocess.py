"""The Socket.IO handler table in-process: the real Gateway on a python-socketio server whose
transport is in memory (tests/fakes/loopback_sio.py), the scripted speech engine, the memory
bus and SQLite. Socket events in (connect with a token, start-call, binary audio-chunk,
end-call), acks and room events out, without uvicorn or a network client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.call_harness import RecordingOutput, RoomRecorder, gateway_harness
from tests.fakes.agents import ScriptedAgent
from tests.security.support import script_of
from wingman.agents.runner import AgentWorker
from wingman.realtime.outgoing import Outbox
from wingman.realtime.sink import InsightSink

LINES = ["hello there.", "we need forty seats.", "what does it cost?"]


async def test_a_call_over_the_socket_protocol_start_stream_end(tmp_path: Path) -> None:
    async with gateway_harness(tmp_path, script_of(LINES)) as g:
        _rep, token = await g.user("ana")
        client = await g.client(token)
        ack = await client.call("start-call", {"title": "in-process", "sample_rate": 16000})
        call_id = ack["call_id"]
        # the ack names the optional events this server takes: clients send `received` only then
        assert ack == {"call_id": call_id, "features": ["received"]} and set(g.gateway.calls) == {call_id}
        await g.stream(client, 0.0, 5.0)
        await client.wait(lambda: len(client.finals) == 3, what="three finals")
        assert [t["text"] for t in client.finals] == LINES
        assert [t["start"] for t in client.finals] == [0.5, 2.0, 3.5]
        ended = await client.call("end-call")
        assert ended["call_id"] == call_id and "summary" in ended
        await client.wait(lambda: client.of("call-ended"), what="call-ended")
        assert client.of("call-ended") == [ended]  # the room hears what the ack says
        assert g.gateway.calls == {}


async def test_bad_input_gets_an_answer_never_silence(tmp_path: Path) -> None:
    async with gateway_harness(tmp_path, script_of(LINES[:1])) as g:
        _rep, token = await g.user("ana")
        client = await g.client(token)
        assert (await client.call("start-call", "not an object"))["error"]["code"] == "bad_payload"
        await client.emit("audio-chunk", b"\x00" * 3200)  # no call started
        await client.wait(lambda: client.of("error"), what="an error event")
        assert client.of("error")[0]["code"] == "no_call"
        assert (await client.call("launch-rockets", {}))["error"]["code"] == "unknown_event"
        assert (await client.call("end-call"))["error"]["code"] == "no_call"


async def test_without_a_token_the_connection_is_refused(tmp_path: Path) -> None:
    async with gateway_harness(tmp_path, script_of(LINES[:1])) as g:
        with pytest.raises(ConnectionRefusedError):
            await g.client(None)


async def test_a_reconnecting_client_resumes_its_call_and_another_tenant_cannot(tmp_path: Path) -> None:
    async with gateway_harness(tmp_path, script_of(LINES)) as g:
        ana, token = await g.user("ana")
        _bob, bob_token = await g.user("bob")
        first = await g.client(token)
        call_id = (await first.call("start-call", {"title": "flaky wifi"}))["call_id"]
        await g.stream(first, 0.0, 1.6)
        await first.wait(lambda: first.finals, what="the first final")
        await first.disconnect()
        assert g.gateway.calls[call_id].sids == set()  # detached, not ended

        stranger = await g.client(bob_token)
        refused = await stranger.call("start-call", {"call_id": call_id})
        assert refused["error"]["code"] == "not_found"  # another tenant's call is a missing one

        again = await g.client(token)
        ack = await again.call("start-call", {"call_id": call_id})
        assert ack == {"call_id": call_id, "audio_seconds": 1.6, "features": ["received"]}
        await g.stream(again, ack["audio_seconds"], 5.0)
        await again.wait(lambda: len(again.finals) == 2, what="the other two finals")
        await again.call("end-call")
        segments = await g.container.store.list_segments(viewer=ana, call_id=call_id)
        assert [s.text for s in segments] == LINES  # no gap, no duplicate


async def test_a_full_node_says_busy_in_the_ack_and_as_an_event(tmp_path: Path) -> None:
    async with gateway_harness(tmp_path, script_of(LINES[:1]), max_calls_per_node=1,
                               busy_retry_after_seconds=3.0) as g:
        _ana, ana_token = await g.user("ana")
        _bob, bob_token = await g.user("bob")
        ana = await g.client(ana_token)
        assert "call_id" in await ana.call("start-call", {})
        bob = await g.client(bob_token)
        refused = await bob.call("start-call", {})
        assert refused["error"]["code"] == "busy" and refused["error"]["retry_after"] == 3.0
        await bob.wait(lambda: bob.of("error"), what="the busy event")
        assert bob.of("error")[0]["code"] == "busy"
        assert ana.of("error") == []  # the other client hears nothing of it
        await asyncio.gather(ana.disconnect(), bob.disconnect())


def _sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_clients_received_acks_time_each_final_once_on_the_gateways_clock(tmp_path: Path) -> None:
    acked = "wingman_acked_audio_to_client_seconds_count"
    async with gateway_harness(tmp_path, script_of(LINES)) as g:
        _rep, token = await g.user("ana")
        client = await g.client(token)
        await client.call("start-call", {"title": "acked", "sample_rate": 16000})
        before = _sample(acked, event="transcript")
        repeats = _sample("wingman_client_acks_total", event="transcript", outcome="unknown")
        strangers = _sample("wingman_client_acks_total", event="insight", outcome="unknown")
        await g.stream(client, 0.0, 5.0)
        await client.wait(lambda: len(client.finals) == 3, what="three finals")
        for final in client.finals:
            await client.emit("received", {"event": "transcript", "id": final["id"]})
        await client.emit("received", {"event": "transcript", "id": client.finals[0]["id"]})  # again
        await client.emit("received", {"event": "insight", "id": "never-emitted"})
        synced = await client.call("latency-report", {"client": "bench"})  # the acks above are handled
        assert synced["ok"] is True
        assert _sample(acked, event="transcript") == before + 3
        assert _sample("wingman_client_acks_total", event="transcript", outcome="unknown") == repeats + 1
        assert _sample("wingman_client_acks_total", event="insight", outcome="unknown") == strangers + 1
        assert client.of("error") == []  # acks get no answer, not even for an unknown id


async def test_insights_another_gateway_emitted_are_timed_by_the_gateway_streaming_the_call(
        tmp_path: Path) -> None:
    acked = "wingman_acked_audio_to_client_seconds_count"
    async with gateway_harness(tmp_path, script_of(LINES)) as g:
        # the agents, and the insight sink of *another* gateway (the one whose bus partition
        # holds this call): in a cluster its emits reach this call's client through the
        # Socket.IO Redis manager; here they are recorded on the side
        c, elsewhere = g.container, RecordingOutput()
        worker = AgentWorker(bus=c.bus, store=c.store, llm=c.llm, knowledge=c.knowledge, web_search=None,
                             settings=c.settings, agents=[ScriptedAgent()], writer=c.writer)
        sink = InsightSink(bus=c.bus, store=c.store, writer=c.writer,
                           outbox=Outbox(RoomRecorder(elsewhere)))  # type: ignore[arg-type]
        c.spawn(worker.run(), "test-agents")
        c.spawn(sink.run(), "test-other-gateways-sink")
        _rep, token = await g.user("ana")
        client = await g.client(token)
        call_id = (await client.call("start-call", {"title": "tips from elsewhere"}))["call_id"]
        before = _sample(acked, event="insight")
        unknown = _sample("wingman_client_acks_total", event="insight", outcome="unknown")
        await g.stream(client, 0.0, 5.0)
        await elsewhere.wait(lambda: elsewhere.of(call_id, "insight"), what="an insight")
        tips = elsewhere.of(call_id, "insight")
        assert client.of("insight") == []  # not emitted by this gateway
        for tip in tips:  # the client got them (through the other gateway) and acks them here
            assert isinstance(tip["audio_end"], float)
            ack = {"event": "insight", "id": tip["id"], "audio_end": tip["audio_end"], "held": 0.01}
            await client.emit("received", ack)
        await client.emit("received", {"event": "insight", "id": tips[0]["id"]})  # an older client
        synced = await client.call("latency-report", {"client": "bench"})  # the acks above are handled
        assert synced["ok"] is True
        assert _sample(acked, event="insight") == before + len(tips)
        assert _sample("wingman_client_acks_total", event="insight", outcome="unknown") == unknown + 1
        assert client.of("error") == []


async def test_a_latency_report_batch_sent_again_after_a_reconnect_is_counted_once(tmp_path: Path) -> None:
    reported = "wingman_client_transcript_seconds_count"
    async with gateway_harness(tmp_path, script_of(LINES)) as g:
        _rep, token = await g.user("ana")
        first = await g.client(token)
        call_id = (await first.call("start-call", {"title": "resend"}))["call_id"]
        before = _sample(reported, client="bench")
        batch = {"client": "bench", "batch": "b-1", "transcript": [0.2, 0.3]}
        assert await first.call("latency-report", batch) == {"ok": True, "accepted": 2, "duplicate": False}
        await first.disconnect()  # the ack was lost with the socket: the client sends it again
        again = await g.client(token)
        await again.call("start-call", {"call_id": call_id})
        assert await again.call("latency-report", batch) == {"ok": True, "accepted": 0, "duplicate": True}
        assert _sample(reported, client="bench") == before + 2
        other = {**batch, "batch": "b-2"}
        assert (await again.call("latency-report", other))["accepted"] == 2
        assert _sample(reported, client="bench") == before + 4
