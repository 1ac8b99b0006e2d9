"""End to end: the real server on loopback, real speech streamed through Socket.IO."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jiwer
import pytest
import socketio

from tests.server import running_server
from wingman.demo import DemoResult, run_demo
from wingman.settings import DATA_DIR, Settings

DEMO_WAV = DATA_DIR / "demo" / "sample_call.wav"
DEMO_SCRIPT = DATA_DIR / "demo" / "sample_call.json"

pytestmark = pytest.mark.slow


def script() -> list[dict[str, Any]]:
    data = json.loads(DEMO_SCRIPT.read_text())
    items: list[dict[str, Any]] = data["utterances"] if isinstance(data, dict) else data
    return items


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("wingman-e2e")
    with running_server(Settings(data_dir=data_dir, auth="local")) as url:
        yield url


@pytest.fixture(scope="module")
def demo_call(server: str) -> DemoResult:
    # the sample call is about the sample company: its profile and documents, loaded on request
    return asyncio.run(run_demo(url=server, audio=DEMO_WAV, speed=1.0, title="E2E demo call",
                                sample_data=True))


def test_transcript_matches_the_spoken_call(demo_call: DemoResult) -> None:
    reference = " ".join(words(u["text"]) for u in script())
    hypothesis = " ".join(words(f["text"]) for f in demo_call.finals)
    wer = jiwer.wer(reference, hypothesis)
    assert wer < 0.25, f"WER {wer:.2%}: {hypothesis}"
    interims = [e for e in demo_call.of("transcript") if not e.data["is_final"]]
    assert interims, "no interim results while people spoke"


def test_speakers_are_told_apart(demo_call: DemoResult) -> None:
    utterances = script()

    def speaker_at(t: float) -> str:
        best = min(utterances, key=lambda u: abs((u["start"] + u["end"]) / 2 - t))
        return str(best["speaker"])

    finals = demo_call.finals
    right = sum(1 for f in finals if f["speaker"] == speaker_at((f["start"] + f["end"]) / 2))
    assert right / len(finals) >= 0.9, [(f["speaker"], f["text"]) for f in finals]
    assert {f["speaker"] for f in finals} == {"rep", "customer"}


def test_call_is_saved_and_found_by_search(server: str, demo_call: DemoResult) -> None:
    with httpx.Client(base_url=server) as http:
        detail = http.get(f"/api/calls/{demo_call.call_id}").json()
        assert len(detail["transcript"]) == len(demo_call.finals)
        assert detail["end_time"] is not None
        assert detail["summary"]
        assert demo_call.ended["call_id"] == demo_call.call_id
        found = http.get("/api/calls", params={"q": "implementation"}).json()
        assert demo_call.call_id in [c["id"] for c in found["items"]]
        missing = http.get("/api/calls", params={"q": "zebracorn"}).json()
        assert demo_call.call_id not in [c["id"] for c in missing["items"]]


def test_expected_insights_arrive(demo_call: DemoResult) -> None:
    kinds = {i["kind"] for i in demo_call.insights}
    categories = {i["category"] for i in demo_call.insights}
    assert any(k.startswith("objection.price") for k in kinds), kinds
    assert any(i.get("entity") == "Aircall" for i in demo_call.insights), demo_call.insights
    assert "Question" in categories or any(i["agent"] == "qa" for i in demo_call.insights)


async def _connect(url: str) -> tuple[socketio.AsyncClient, list[dict[str, Any]]]:
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[dict[str, Any]] = []

    async def on_error(data: dict[str, Any]) -> None:
        errors.append(data)

    sio.on("error", on_error)
    await sio.connect(url, transports=["websocket"])
    return sio, errors


async def _wait_for(errors: list[dict[str, Any]], n: int) -> None:
    for _ in range(200):
        if len(errors) >= n:
            return
        await asyncio.sleep(0.02)


def test_bad_input_gets_errors_and_the_server_survives(server: str) -> None:
    async def scenario() -> None:
        sio, errors = await _connect(server)
        try:
            await sio.emit("audio-chunk", b"\x00" * 640)  # before start-call
            await _wait_for(errors, 1)
            assert errors[-1]["code"] == "no_call"
            ack = await sio.call("start-call", {"title": 5, "sample_rate": 1000})
            assert ack["error"]["code"] == "bad_payload"
            ack = await sio.call("start-call", "not an object")
            assert ack["error"]["code"] == "bad_payload"
            ack = await sio.call("start-call", {"title": "x", "call_id": "no-such-call"})
            assert ack["error"]["code"] == "not_found"
            ack = await sio.call("start-call", {"title": "bad input", "encoding": "f32le"})
            assert "call_id" in ack
            await sio.emit("audio-chunk", b"\x00\x00\x00")  # not float32-aligned
            await _wait_for(errors, 2)
            assert errors[-1]["code"] == "audio_misaligned"
            await sio.emit("audio-chunk", b"\x00" * (2 * 1024 * 1024))  # oversize
            await _wait_for(errors, 3)
            assert errors[-1]["code"] == "audio_too_large"
            await sio.emit("audio-chunk", "text, not binary")
            await _wait_for(errors, 4)
            assert errors[-1]["code"] == "bad_payload"
            ack = await sio.call("feedback", {"id": "nope", "status": "liked"})
            assert ack["error"]["code"] == "not_found"
            ended = await sio.call("end-call", {}, timeout=60)
            assert ended["call_id"] == ack.get("call_id", ended["call_id"])
            again = await sio.call("end-call", {}, timeout=60)  # idempotent
            assert again["call_id"] == ended["call_id"]
        finally:
            await sio.disconnect()

    asyncio.run(scenario())
    with httpx.Client(base_url=server) as http:
        assert http.get("/api/health").status_code == 200


def test_required_auth_refuses_sockets_without_token(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth="required", sample_knowledge=False)
    with running_server(settings) as url:
        async def scenario() -> None:
            sio = socketio.AsyncClient(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await sio.connect(url, transports=["websocket"])
        asyncio.run(scenario())
        with httpx.Client(base_url=url) as http:
            assert http.get("/api/calls").status_code == 401


def test_customer_sentiment_is_scored_live_and_saved(demo_call: DemoResult, server: str) -> None:
    """Real speech: every final customer segment gets a live score; the price objection is
    negative; the call page's timeline reads the same scores back from the store."""
    customer = {f["id"]: f["text"] for f in demo_call.finals if f["speaker"] == "customer"}
    scores = {e.data["id"]: e.data for e in demo_call.of("sentiment")}
    assert set(scores) == set(customer) and len(scores) >= 5
    price = [i for i, text in customer.items() if "price" in text.lower() or "budget" in text.lower()]
    assert price and all(scores[i]["label"] == "negative" for i in price), [customer[i] for i in price]
    saved = httpx.get(f"{server}/api/calls/{demo_call.call_id}/sentiment", timeout=10).json()
    assert {p["segment_id"]: p["label"] for p in saved} == {i: s["label"] for i, s in scores.items()}
    assert all(p["saved"] for p in saved)
