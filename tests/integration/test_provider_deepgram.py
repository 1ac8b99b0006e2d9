"""DeepgramStt against a loopback stand-in that speaks Deepgram's live WebSocket protocol."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr

from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.scripted_audio import SR, Script, Segment, chunks, collect, transcribe
from wingman.errors import ProviderAuthError
from wingman.stt.base import RetryPolicy, SttResult
from wingman.stt.deepgram import DeepgramStt, keyterms, keywords, listen_url

FAST_RETRY = RetryPolicy(attempts=3, initial_seconds=0.01, max_seconds=0.05)

MONO = [
    Segment(0, 0.2, 1.0, "Hi Dana, thanks for making time today.", speaker=0),
    Segment(0, 1.3, 2.4, "Thanks Sam. We're evaluating a few phone systems.", speaker=1),
    Segment(0, 2.6, 3.5, "Does Relay integrate with Salesforce?", speaker=1),
    Segment(0, 3.7, 4.6, "Yes, we have a native Salesforce integration.", speaker=0),
]
STEREO = [
    Segment(0, 0.2, 1.0, "Hi Dana, I'm Sam from Relay."),
    Segment(1, 1.2, 2.0, "Your price seems high."),
    Segment(0, 2.2, 2.9, "Can I ask what budget you had in mind?"),
    Segment(1, 3.0, 3.8, "Around thirty dollars per seat."),
]


def finals(results: list[SttResult]) -> list[SttResult]:
    return [r for r in results if r.is_final]


def dg_for(server: FakeDeepgram, **kw: object) -> DeepgramStt:
    return DeepgramStt(api_key=SecretStr(server.api_key), url=server.url, retry=FAST_RETRY, **kw)  # type: ignore[arg-type]


async def test_mono_stream_sends_documented_handshake_and_maps_results() -> None:
    script = Script(MONO, duration=5.0)
    async with FakeDeepgram(script) as server:
        stt = dg_for(server)
        stream = stt.stream(vocabulary=["Relay", "Salesforce", "SOC 2 Type 2", "relay"])
        results = await transcribe(stream, chunks(0, 5.0))

    conn = server.connections[0]
    assert len(server.connections) == 1
    assert conn.headers["Authorization"] == f"Token {server.api_key}"
    assert conn.path == "/v1/listen"
    expected = {
        "model": "nova-3",
        "encoding": "linear16",
        "sample_rate": "16000",
        "channels": "1",
        "language": "en",
        "interim_results": "true",
        "endpointing": "300",
        "utterance_end_ms": "1000",
        "smart_format": "true",
        "vad_events": "true",
        "diarize": "true",
    }
    for name, value in expected.items():
        assert conn.param(name) == value, name
    assert conn.param("multichannel") is None
    assert conn.params("keyterm") == ["Relay", "Salesforce", "SOC 2 Type 2"]  # deduplicated
    assert conn.params("keywords") == []
    # every frame of audio arrived, in order, then CloseStream
    assert conn.first_frame == 0 and conn.frames == script.frames and not conn.errors
    assert conn.controls[-1] == {"type": "CloseStream"}

    final = finals(results)
    assert [r.text for r in final] == [s.text for s in MONO]
    for r, seg in zip(final, MONO, strict=True):
        assert r.start == pytest.approx(seg.start, abs=1e-3)
        assert r.end == pytest.approx(seg.end, abs=1e-3)
        assert r.channel == 0
        assert r.speaker == f"speaker_{seg.speaker}"
        assert r.confidence == pytest.approx(0.97)
        assert r.audio_end_at is not None
    # interims come first and share their final's id; each final has its own id
    for r in final:
        interims = [i for i in results if not i.is_final and i.utterance_id == r.utterance_id]
        assert interims and results.index(interims[0]) < results.index(r)
        assert r.text.startswith(interims[0].text.split()[0])
    assert len({r.utterance_id for r in final}) == len(final)
    assert stream.finalized_samples == script.frames
    assert stream.request_ids and stream.speech_started[0] == pytest.approx(3.7)
    assert stream.utterance_ends[0] == pytest.approx(4.6)


async def test_stereo_uses_multichannel_and_keeps_channels_apart() -> None:
    script = Script(STEREO, duration=4.0, channels=2)
    async with FakeDeepgram(script) as server:
        stream = dg_for(server, model="nova-2").stream(channels=2, vocabulary=["Relay", "SOC 2"])
        results = await transcribe(stream, chunks(0, 4.0, channels=2))

    conn = server.connections[0]
    assert conn.param("channels") == "2" and conn.param("multichannel") == "true"
    assert conn.param("diarize") is None
    assert conn.params("keywords") == ["Relay"]  # older models: single words only
    assert conn.params("keyterm") == []
    final = finals(results)
    assert [(r.channel, r.text) for r in final] == [(s.channel, s.text) for s in STEREO]
    for r, seg in zip(final, STEREO, strict=True):
        assert r.start == pytest.approx(seg.start) and r.end == pytest.approx(seg.end)
        assert r.speaker is None  # the pipeline names channels: 0 rep, 1 customer
    assert stream.finalized_samples == script.frames


async def test_dropped_socket_reconnects_resends_unfinalized_audio_and_keeps_call_time() -> None:
    script = Script(MONO, duration=5.0)
    # dies half-way through the third utterance: the first two are final, the third is not
    async with FakeDeepgram(script, drop_at=3.0) as server:
        stream = dg_for(server).stream()
        results = await transcribe(stream, chunks(0, 5.0))

    assert [c.dropped for c in server.connections] == [True, False]
    assert stream.reconnects == 1
    second = server.connections[1]
    # the new socket starts with the audio after the last final (end of segment 2's silence),
    # not at zero and not where the old socket died
    last_final_before_drop = max(s.end_frame for s in script.segments if s in server.connections[0].finals)
    assert second.first_frame == last_final_before_drop
    assert second.received_end == script.frames and not second.errors
    final = finals(results)
    assert [r.text for r in final] == [s.text for s in MONO]  # nothing lost, nothing twice
    for r, seg in zip(final, MONO, strict=True):
        assert r.start == pytest.approx(seg.start, abs=1e-3)  # call time, not socket time
        assert r.end == pytest.approx(seg.end, abs=1e-3)
    # the utterance cut by the drop keeps its id: its interim before and final after match
    third = final[2]
    assert any(not r.is_final and r.utterance_id == third.utterance_id for r in results)


async def test_stereo_drop_does_not_repeat_a_channel_already_final() -> None:
    script = Script(STEREO, duration=4.0, channels=2)
    # at 2.95 s the rep's "Can I ask..." (2.2-2.9) is final but the customer's channel is final
    # only up to 2.0: the audio from 2.0 is resent and Deepgram transcribes the rep's line again
    async with FakeDeepgram(script, drop_at=2.95) as server:
        stream = dg_for(server).stream(channels=2)
        results = await transcribe(stream, chunks(0, 4.0, channels=2))
    assert len(server.connections) == 2
    assert server.connections[1].first_frame == 2.0 * SR
    final = finals(results)
    assert [(r.channel, r.text) for r in final] == [(s.channel, s.text) for s in STEREO]


async def test_rejected_key_fails_at_once_without_retrying() -> None:
    async with FakeDeepgram(Script(MONO, duration=5.0)) as server:
        stt = DeepgramStt(api_key=SecretStr("wrong-key-123456"), url=server.url, retry=FAST_RETRY)
        stream = stt.stream()
        with pytest.raises(ProviderAuthError) as info:
            await transcribe(stream, chunks(0, 1.0))
    assert server.handshakes == 1 and server.rejected == [401]
    assert stream.reconnects == 0
    assert "wrong-key" not in str(info.value)


async def test_keepalive_holds_the_socket_open_through_silence() -> None:
    script = Script(MONO[:2], duration=2.5)
    # Deepgram closes after idle_timeout without audio or KeepAlive: send them more often
    async with FakeDeepgram(script, idle_timeout=0.3) as server:
        stream = dg_for(server, keepalive_seconds=0.05).stream()
        for c in chunks(0, 1.2):
            stream.push_audio(c)
        # no audio now: wait (on the server's own count) until idle time well past its timeout
        await server.wait_keepalives(10)
        for c in chunks(1.2, 2.5):
            stream.push_audio(c)
        stream.end_input()
        results = await collect(stream)

    assert len(server.connections) == 1 and not server.connections[0].idle_closed
    assert stream.keepalives_sent >= 10
    assert {"type": "KeepAlive"} in server.connections[0].controls
    assert [r.text for r in finals(results)] == [s.text for s in MONO[:2]]


async def test_without_keepalive_the_idle_socket_is_closed_and_reopened() -> None:
    script = Script(MONO[:2], duration=2.5)
    async with FakeDeepgram(script, idle_timeout=0.2) as server:
        stream = dg_for(server, keepalive_seconds=30.0).stream()
        for c in chunks(0, 1.2):
            stream.push_audio(c)
        await server.wait_until(lambda: any(c.idle_closed for c in server.connections))
        for c in chunks(1.2, 2.5):
            stream.push_audio(c)
        stream.end_input()
        results = await collect(stream)
    assert server.connections[0].idle_closed and len(server.connections) == 2
    assert [r.text for r in finals(results)] == [s.text for s in MONO[:2]]


async def test_a_server_that_never_closes_after_close_stream_does_not_hang_the_call() -> None:
    script = Script(MONO[:2], duration=2.5)
    async with FakeDeepgram(script, close_after_finalize=False) as server:
        stream = dg_for(server, finalize_timeout_seconds=0.2).stream()
        results = await transcribe(stream, chunks(0, 2.5), timeout=5.0)
    assert len(server.connections) == 1  # everything was final: no reconnect needed
    assert [r.text for r in finals(results)] == [s.text for s in MONO[:2]]


def test_vocabulary_limits() -> None:
    many = [f"Term{i}" for i in range(150)]
    assert len(keyterms(many)) == 100
    long_terms = ["x" * 60] * 1 + [f"phrase number {i} " + "y" * 30 for i in range(100)]
    terms = keyterms(long_terms)
    assert sum(max(len(t.split()), -(-len(t) // 3)) for t in terms) <= 500
    assert keywords(["SOC 2", "Relay", "Aircall.", "relay"] + many)[:2] == ["Relay", "Aircall"]
    assert len(keywords(many)) == 100
    url = listen_url(
        "wss://api.deepgram.com/v1/listen?tag=wingman",
        model="nova-3",
        sample_rate=SR,
        channels=2,
        language="en",
        endpointing_ms=300,
        utterance_end_ms=1000,
        vocabulary=["Relay Voice"],
    )
    query = parse_qsl(urlsplit(url).query)
    assert ("tag", "wingman") in query and ("keyterm", "Relay Voice") in query
    assert ("multichannel", "true") in query


def test_repr_hides_key() -> None:
    stt = DeepgramStt(api_key=SecretStr("dg-secret-abcdef123456"))
    assert "dg-secret" not in repr(stt)
    assert "dg-secret" not in json.dumps(vars(stt), default=str)


async def test_mono_diarized_words_become_rep_and_customer_through_the_speaker_stream() -> None:
    """Deepgram's per-word speaker numbers reach the results as word timings, and the speaker
    stream maps them to roles (no voiceprint, one voice heard by the diarizer: the first number
    heard is the rep), splitting a final that holds two speakers."""
    from tests.unit.test_speakers_diarizer import scripted_embed
    from wingman.audio.pool import AudioWorkerPool
    from wingman.speakers.diarizer import OnlineDiarizer
    from wingman.speakers.stream import DiarizedStream

    script = Script(MONO, duration=5.0)
    pool = AudioWorkerPool(max_workers=1)
    try:
        async with FakeDeepgram(script) as server:
            inner = dg_for(server).stream()
            stream = DiarizedStream(inner=inner, diarizer=OnlineDiarizer(embed=scripted_embed()), pool=pool)
            results = await transcribe(stream, chunks(0, 5.0))
    finally:
        pool.shutdown()
    final = finals(results)
    assert [r.text for r in final] == [s.text for s in MONO]
    assert [r.speaker for r in final] == ["rep", "customer", "customer", "rep"]
    assert all(w.speaker == seg.speaker for r, seg in zip(final, MONO, strict=True) for w in r.words)
    assert final[0].words[0].start == pytest.approx(0.2, abs=1e-3)
    # one final holding both voices is split on the numbers
    both = SttResult(text="yes we do thanks", is_final=True, channel=0, start=0.2, end=2.4,
                     words=final[0].words[:2] + final[1].words[:2])
    parts = stream.label(both)
    assert [(p.speaker, len(p.words)) for p in parts] == [("rep", 2), ("customer", 2)]
