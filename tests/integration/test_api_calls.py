"""REST call history: list and search, detail, agent runs, stats and feedback, per user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.api_support import Api, RecordingBus, bearer, open_api
from wingman.errors import ProviderConnectionError
from wingman.events import TOPIC_CALLS, AgentRun, BusEvent, Feedback, Insight, TranscriptFragment
from wingman.store.records import KeyMoment


@dataclass
class World:
    api: Api
    ana: dict[str, str]  # auth headers
    bob: dict[str, str]
    call_id: str
    rec_id: str
    run_id: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for api in open_api(tmp_path, "required"):
        ana_id, ana_token = await api.register("ana")
        _, bob_token = await api.register("bob")
        store = api.store
        call = await store.create_call(workspace_id=ana_id, user_id=ana_id, title="Relay for Dana's team")
        lines = [("rep", "Hi Dana, thanks for making time today."),
                 ("customer", "Honestly, your price seems high.")]
        for i, (speaker, text) in enumerate(lines):
            await store.add_segment(workspace_id=ana_id, user_id=ana_id, call_id=call.id,
                    fragment=TranscriptFragment(
                call_id=call.id, text=text, is_final=True, speaker=speaker, start=i * 5.0,
                end=i * 5.0 + 4))
        rec = Insight(call_id=call.id, user_id=ana_id, agent="coach", block_id="b1",
                      category="Objection Handling", kind="objection.price",
                      content="Ask what budget they had in mind.",
                      context_snippet="your price seems high", source="pricing-and-discounts.md")
        await store.add_recommendation(rec)
        run = AgentRun(call_id=call.id, user_id=ana_id, block_id="b1", agent="coach",
                       input="your price seems high", rule_or_prompt="objection.price",
                       output=rec.content, provider="local", latency_ms=2.0)
        await store.add_agent_run(run)
        await store.add_agent_run(AgentRun(  # the same block, another agent: no tip
            call_id=call.id, user_id=ana_id, block_id="b1", agent="search", input="price",
            rule_or_prompt="search", output="", provider="local", latency_ms=1.0))
        await store.finish_call(
            workspace_id=ana_id, user_id=ana_id, call_id=call.id, full_transcript="rep: Hi Dana ...",
            summary="Dana finds the price high; proposal on Friday.",
            key_moments=[KeyMoment(kind="objection", text="price seems high", at=5.0)],
            action_items=["Send the proposal on Friday"],
            end_time=call.start_time + timedelta(minutes=3))
        yield World(api, bearer(ana_token), bearer(bob_token), call.id, rec.id, run.id)


async def test_list_and_search_calls(world: World) -> None:
    c = world.api.client
    r = await c.get("/api/calls", headers=world.ana)
    assert r.status_code == 200
    ana = (await c.get("/api/auth/me", headers=world.ana)).json()["id"]
    assert r.json() == {"total": 1, "items": [{
        "id": world.call_id, "user_id": ana, "title": "Relay for Dana's team",
        "start_time": "2025-11-26T15:00:00Z", "end_time": "2025-11-26T15:03:00Z",
        "duration_seconds": 180.0, "summary": "Dana finds the price high; proposal on Friday.",
        "snippet": None}]}
    for q, hits in [("price", 1), ("making time", 1), ("proposal friday", 1), ("aircall", 0)]:
        found = (await c.get("/api/calls", params={"q": q}, headers=world.ana)).json()
        assert found["total"] == hits, q
    # a search result shows the words that matched, marked, not markup
    item = (await c.get("/api/calls", params={"q": "friday"}, headers=world.ana)).json()["items"][0]
    assert {"text": "Friday", "match": True} in item["snippet"]
    assert "".join(p["text"] for p in item["snippet"]).startswith("Dana finds the price high")
    assert (await c.get("/api/calls", params={"q": "price"}, headers=world.bob)).json() == {
        "items": [], "total": 0}
    paged = await c.get("/api/calls", params={"limit": 1, "offset": 1}, headers=world.ana)
    assert paged.json() == {"items": [], "total": 1}
    bad_params: list[dict[str, str | int]] = [
        {"limit": 0}, {"limit": 101}, {"offset": -1}, {"q": "x" * 201}]
    for params in bad_params:
        bad = await c.get("/api/calls", params=params, headers=world.ana)
        assert bad.status_code == 422 and "detail" in bad.json(), params


async def test_call_detail_is_complete_and_private(world: World) -> None:
    c = world.api.client
    r = await c.get(f"/api/calls/{world.call_id}", headers=world.ana)
    assert r.status_code == 200
    d = r.json()
    assert d["summary"].startswith("Dana finds") and d["full_transcript"] == "rep: Hi Dana ..."
    assert [(t["speaker"], t["start"], t["end"]) for t in d["transcript"]] == [
        ("rep", 0.0, 4.0), ("customer", 5.0, 9.0)]
    assert set(d["transcript"][0]) == {"id", "text", "speaker", "start", "end"}
    (rec,) = d["recommendations"]
    assert rec["id"] == world.rec_id and rec["feedback_status"] == "none"
    assert {k: rec[k] for k in ("category", "agent", "kind", "context_snippet", "source")} == {
        "category": "Objection Handling", "agent": "coach", "kind": "objection.price",
        "context_snippet": "your price seems high", "source": "pricing-and-discounts.md"}
    assert d["key_moments"] == [{"kind": "objection", "text": "price seems high", "at": 5.0}]
    assert d["action_items"] == ["Send the proposal on Friday"]
    for path in [f"/api/calls/{world.call_id}", f"/api/calls/{world.call_id}/agent-runs"]:
        other = await c.get(path, headers=world.bob)
        assert other.status_code == 404 and other.json() == {"detail": "no such call"}
    assert (await c.get("/api/calls/unknown", headers=world.ana)).status_code == 404


async def test_agent_runs_and_stats(world: World) -> None:
    c = world.api.client
    runs = (await c.get(f"/api/calls/{world.call_id}/agent-runs", headers=world.ana)).json()
    assert [(r["agent"], r["rule_or_prompt"], r["error"], r["insight_ids"]) for r in runs] == [
        ("coach", "objection.price", None, [world.rec_id]), ("search", "search", None, [])]
    assert runs[0]["id"] == world.run_id
    stats = (await c.get("/api/stats", headers=world.ana)).json()
    assert stats["total_calls"] == 1 and stats["calls_this_week"] == 1
    assert stats["minutes_this_week"] == 3.0 and stats["insights_shown"] == 1
    assert stats["top_objections"] == [{"name": "price", "count": 1}]
    assert stats["avg_rep_talk_ratio"] == 0.5
    assert (await c.get("/api/stats", headers=world.bob)).json()["total_calls"] == 0


async def test_feedback(world: World) -> None:
    c, url = world.api.client, f"/api/recommendations/{world.rec_id}/feedback"
    r = await c.post(url, json={"status": "liked"}, headers=world.ana)
    assert r.status_code == 200
    assert r.json() == {"ok": True, "id": world.rec_id, "feedback_status": "liked"}
    detail = (await c.get(f"/api/calls/{world.call_id}", headers=world.ana)).json()
    assert detail["recommendations"][0]["feedback_status"] == "liked"
    ((topic, event, key),) = world.api.container.bus.published
    assert (topic, key) == (TOPIC_CALLS, world.call_id)
    assert isinstance(event, Feedback) and (event.id, event.status) == (world.rec_id, "liked")

    stolen = await c.post(url, json={"status": "disliked"}, headers=world.bob)
    assert stolen.status_code == 404 and stolen.json() == {"detail": "no such recommendation"}
    assert (await c.post(url, json={"status": "love"}, headers=world.ana)).status_code == 422
    assert (await c.post(url, json={"status": "liked"})).status_code == 401
    stats = (await c.get("/api/stats", headers=world.ana)).json()
    assert (stats["insights_liked"], stats["liked_share"]) == (1, 1.0)
    cleared = await c.post(url, json={"status": "none"}, headers=world.ana)
    assert cleared.json()["feedback_status"] == "none"


class DownBus(RecordingBus):
    """A bus that is out: every publish fails the way a broken connection does."""

    async def publish(self, topic: str, event: BusEvent, *, key: str) -> None:
        raise ProviderConnectionError("bus down")


async def test_feedback_is_kept_when_the_bus_is_down(world: World, caplog: pytest.LogCaptureFixture) -> None:
    """The store is the record: the agents read it when they next load preferences."""
    world.api.container.bus = DownBus()
    url = f"/api/recommendations/{world.rec_id}/feedback"
    r = await world.api.client.post(url, json={"status": "disliked"}, headers=world.ana)
    assert r.status_code == 200 and r.json()["feedback_status"] == "disliked"
    detail = (await world.api.client.get(f"/api/calls/{world.call_id}", headers=world.ana)).json()
    assert detail["recommendations"][0]["feedback_status"] == "disliked"
    assert "feedback not published" in [rec.getMessage() for rec in caplog.records]
