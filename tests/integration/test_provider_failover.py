"""FailoverStt: Deepgram (against its loopback stand-in) failing over to a local engine."""

from __future__ import annotations

import math

from pydantic import SecretStr

from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.scripted_audio import Script, Segment, chunks, transcribe
from tests.fakes.scripted_stt import ScriptedStt
from wingman.health import ProviderEvent, ProviderHealth
from wingman.stt.base import RetryPolicy
from wingman.stt.deepgram import DeepgramStt
from wingman.stt.failover import FailoverStream, FailoverStt

SPOKEN = [
    Segment(0, 0.2, 1.0, "Honestly, your price seems high.", speaker=1),
    Segment(0, 1.3, 2.4, "It's more than we budgeted for this year.", speaker=1),
    Segment(0, 2.6, 3.5, "Can I ask what budget you had in mind?", speaker=0),
    Segment(0, 3.7, 4.6, "Around thirty dollars per seat.", speaker=1),
]
RETRY = RetryPolicy(attempts=2, initial_seconds=0.01, max_seconds=0.02)


def make(
    server: FakeDeepgram, script: Script, key: str | None = None
) -> tuple[FailoverStt, ProviderHealth, ScriptedStt]:
    health = ProviderHealth()
    health.set_provider("stt", "deepgram")
    local = ScriptedStt(script)
    primary = DeepgramStt(api_key=SecretStr(key or server.api_key), url=server.url, retry=RETRY)
    return FailoverStt(primary=primary, fallback=local, health=health), health, local


async def test_primary_down_for_good_moves_the_call_to_the_fallback_without_loss() -> None:
    script = Script(SPOKEN, duration=5.0)
    # the socket dies during the third utterance and Deepgram refuses every reconnect
    async with FakeDeepgram(script, drop_at=3.2, accept_connections=1) as server:
        stt, health, local = make(server, script)
        heard: list[ProviderEvent] = []
        health_events: list[ProviderEvent] = []

        async def on_health(event: ProviderEvent) -> None:  # async observers work too
            health_events.append(event)

        health.subscribe(on_health)
        stream = stt.stream()
        assert isinstance(stream, FailoverStream)
        stream.add_status_listener(heard.append)
        results = await transcribe(stream, chunks(0, 5.0))

    assert server.rejected == [503] * RETRY.attempts  # reconnects were tried, then given up
    finals = [r for r in results if r.is_final]
    assert [r.text for r in finals] == [s.text for s in SPOKEN]  # nothing lost, none twice
    for r, seg in zip(finals, SPOKEN, strict=True):
        assert math.isclose(r.start, seg.start, abs_tol=1e-3), r
        assert math.isclose(r.end, seg.end, abs_tol=1e-3), r
    # the local engine got exactly the audio after the primary's last final, then the rest
    fallback_stream = local.streams[0]
    primary_finals = server.connections[0].finals
    assert fallback_stream.first_frame == max(s.end_frame for s in primary_finals)
    assert fallback_stream.first_frame + fallback_stream.frames == script.frames
    assert not fallback_stream.errors
    # the utterance cut mid-way keeps its id: the primary's interim is finished by the fallback
    cut = finals[2]
    assert any(not r.is_final and r.utterance_id == cut.utterance_id for r in results)

    assert stream.degraded.is_set() and stream.provider == "local"
    assert [e.payload() for e in heard] == [
        {
            "part": "stt",
            "provider": "local",
            "degraded": True,
            "message": "deepgram is unreachable; using local",
        }
    ]
    assert [e.provider for e in health_events] == ["local"]
    assert health.active("stt") == "local" and health.is_degraded("stt")
    errors = health.recent_errors("stt")
    assert errors[-1].provider == "deepgram" and "503" in errors[-1].message


async def test_rejected_key_fails_over_at_once_and_replays_from_the_start() -> None:
    script = Script(SPOKEN[:2], duration=2.5)
    async with FakeDeepgram(script) as server:
        stt, health, local = make(server, script, key="dg-wrong-key-0000")
        stream = stt.stream()
        results = await transcribe(stream, chunks(0, 2.5))
    assert server.handshakes == 1  # a refused key is not retried
    assert [r.text for r in results if r.is_final] == [s.text for s in SPOKEN[:2]]
    assert local.streams[0].first_frame == 0
    error = health.recent_errors("stt")[-1]
    assert error.code == "auth" and "401" in error.message
    assert "dg-wrong-key" not in error.message


async def test_healthy_primary_stays_and_reports_latency() -> None:
    script = Script(SPOKEN, duration=5.0)
    async with FakeDeepgram(script) as server:
        stt, health, local = make(server, script)
        events: list[ProviderEvent] = []
        health.subscribe(events.append)
        stream = stt.stream()
        results = await transcribe(stream, chunks(0, 5.0))
    assert [r.text for r in results if r.is_final] == [s.text for s in SPOKEN]
    assert local.streams == [] and not stream.degraded.is_set() and events == []
    assert health.active("stt") == "deepgram" and not health.is_degraded("stt")
    assert health.latency("stt", "deepgram")["count"] == len(SPOKEN)
    await stt.warm_up()
    assert local.warmed
