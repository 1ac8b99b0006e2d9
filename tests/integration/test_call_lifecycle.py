"""One call's life through the real lifecycle and pipeline, in-process (tests/call_harness.py):
start, audio frames to transcript events and saved segments, an agent's insight delivered
and stored, a resume on another node rebuilding times and talk time from the saved segments,
end-call once however often it is asked, and admission refusing a call on a full node."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.call_harness import MONO, CallHarness, call_harness
from tests.security.support import script_of
from wingman.errors import Busy, QuotaExceeded
from wingman.events import TOPIC_BLOCKS, TOPIC_CALLS, CallEnded, TranscriptBlock
from wingman.pipeline.options import ResumePoint
from wingman.realtime.lifecycle import CallLifecycle
from wingman.realtime.quotas import Quotas
from wingman.store.records import Viewer

LINES = ["hello there.", "we need forty seats.", "what does it cost?", "send me a quote."]


async def _stored(h: CallHarness, owner: Viewer, call_id: str) -> list[str]:
    await h.container.writer.drain()
    return [s.text for s in await h.container.store.list_segments(viewer=owner, call_id=call_id)]


async def test_a_started_call_is_live_stored_and_leased(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES)) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep, sid="tab-1", title="first call")
        assert set(h.lifecycle.calls) == {call_id} and h.lifecycle.load == 1
        assert h.lifecycle.calls[call_id].sids == {"tab-1"}
        call = await h.container.store.get_call(viewer=rep, call_id=call_id)
        assert call is not None and call.title == "first call" and call.end_time is None
        assert await h.container.leases.owner(call_id) == h.container.settings.node_id
        with pytest.raises(TypeError):  # the registry is the lifecycle's alone
            h.lifecycle.calls[call_id] = h.lifecycle.calls[call_id]  # type: ignore[index]


async def test_frames_in_give_transcript_events_out_and_saved_segments(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES)) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep)
        h.push(call_id, 0.0, 6.5)
        await h.output.wait(lambda: len(h.output.finals(call_id)) == 4, what="four finals")
        finals = h.output.finals(call_id)
        assert [f["text"] for f in finals] == LINES
        # script_of: line i from 0.5 + 1.5 i for 1 s, in call seconds
        assert [(f["start"], f["end"]) for f in finals] == [(0.5, 1.5), (2.0, 3.0), (3.5, 4.5), (5.0, 6.0)]
        assert await _stored(h, rep, call_id) == LINES  # saved before (or as) they were shown
        assert h.lifecycle.audio_seconds(call_id) == pytest.approx(6.5)


async def test_an_agents_insight_reaches_the_call_and_is_stored_once(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES[:1])) as h:
        await h.run_agents()
        rep = await h.user("ana")
        call_id = await h.start(rep)
        h.push(call_id, 0.0, 2.0)
        await h.output.wait(lambda: h.output.of(call_id, "insight"), what="the insight")
        (insight,) = h.output.of(call_id, "insight")
        assert insight["content"] == "scripted tip #0" and insight["agent"] == "coach"
        payload = await h.end(rep, call_id)
        detail = await h.container.store.call_detail(viewer=rep, call_id=call_id)
        assert detail is not None and [r.id for r in detail.recommendations] == [insight["id"]]
        assert payload["call_id"] == call_id
        runs = await h.container.store.list_agent_runs(viewer=rep, call_id=call_id)
        assert [(r.agent, r.output) for r in runs] == [("scripted", "said it")]  # the worker's own write


async def test_a_resume_on_another_node_goes_on_after_the_saved_segments(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES)) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep)
        blocks = h.container.bus.subscribe(TOPIC_BLOCKS, group="test")
        h.push(call_id, 0.0, 3.2)  # the first two lines (0.5-1.5 s, 2.0-3.0 s)
        await h.output.wait(lambda: len(h.output.finals(call_id)) == 2, what="two finals")
        saved = await h.container.store.list_segments(viewer=rep, call_id=call_id)
        assert ResumePoint.after(saved) == ResumePoint(
            time_offset=3.0, first_seq=2, talk_seconds={"unknown": pytest.approx(2.0)}
        )
        # this node goes away (its client left with it); another node carries the call on
        await h.lifecycle.drop(call_id)
        other = CallLifecycle(container=h.container, output=h.output,
                              quotas=Quotas(settings=h.container.settings, store=h.container.store))
        try:
            assert await other.resume("tab-2", rep, call_id, MONO) == call_id
            assert other.audio_seconds(call_id) == 3.0  # the client resends from there
            live = other.get(call_id)
            assert live is not None and live.sids == {"tab-2"}
            h.lifecycle = other  # push() goes to the node carrying the call now
            h.push(call_id, 3.0, 6.5)
            await h.output.wait(lambda: len(h.output.finals(call_id)) == 4, what="four finals")
            assert await _stored(h, rep, call_id) == LINES  # no gap, no duplicate
            seen: list[TranscriptBlock] = []
            while len(seen) < 4:
                event = await asyncio.wait_for(anext(blocks), 10)
                if isinstance(event, TranscriptBlock):
                    seen.append(event)
            assert [b.seq for b in seen] == [0, 1, 2, 3]  # no seq used twice
            # the talk time of the lines the first node heard is carried on, not restarted
            assert seen[-1].talk_seconds == {"unknown": pytest.approx(4.0)}
        finally:
            await other.aclose(budget=5.0)
            await blocks.aclose()


async def test_end_call_finalizes_once_however_often_it_is_asked(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES[:2])) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep)
        h.push(call_id, 0.0, 3.5)
        await h.output.wait(lambda: len(h.output.finals(call_id)) == 2, what="two finals")
        first, second = await asyncio.gather(h.end(rep, call_id), h.end(rep, call_id))
        assert first == second and first["call_id"] == call_id
        assert h.lifecycle.calls == {}
        again = await h.end(rep, call_id)  # after it ended: the same summary, nothing redone
        assert again == first
        call = await h.container.store.get_call(viewer=rep, call_id=call_id)
        assert call is not None and call.end_time is not None
        assert await h.container.leases.owner(call_id) is None  # released with the call


async def test_a_full_node_refuses_a_new_call_with_busy(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES[:1]), max_calls_per_node=1,
                            busy_retry_after_seconds=7.0) as h:
        ana, bob = await h.user("ana"), await h.user("bob")
        await h.start(ana)
        assert not h.lifecycle.accepting
        with pytest.raises(Busy) as refused:
            await h.start(bob)
        assert refused.value.retry_after == 7.0
        assert h.lifecycle.load == 1  # the refused call took no slot and left no row
        assert (await h.container.store.list_calls(viewer=bob)).items == []


async def test_a_call_whose_client_never_came_back_is_finalized_by_the_reaper(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES[:1]), abandon_call_seconds=0.2) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep, sid="tab-1")
        h.push(call_id, 0.0, 2.0)
        await h.output.wait(lambda: h.output.finals(call_id), what="the final")
        h.lifecycle.detach("tab-1")  # the tab closed without end-call
        live = h.lifecycle.get(call_id)
        assert live is not None and live.sids == set() and live.detached_at is not None
        ended = h.container.bus.subscribe(TOPIC_CALLS, group="test")
        reaper = asyncio.get_running_loop().create_task(h.lifecycle.upkeep.reap_abandoned(interval=0.05))
        try:
            while not (isinstance(event := await asyncio.wait_for(anext(ended), 10), CallEnded)
                       and event.call_id == call_id):
                pass
        finally:
            reaper.cancel()
            await ended.aclose()
        call = await h.container.store.get_call(viewer=rep, call_id=call_id)
        assert call is not None and call.end_time is not None and h.lifecycle.calls == {}
        assert await _stored(h, rep, call_id) == LINES[:1]


async def test_a_user_at_their_call_quota_is_refused_and_the_node_keeps_its_slot(tmp_path: Path) -> None:
    async with call_harness(tmp_path, script_of(LINES[:1]), max_calls_per_user=1) as h:
        ana, bob = await h.user("ana"), await h.user("bob")
        await h.start(ana)
        with pytest.raises(QuotaExceeded):
            await h.start(ana)  # a second tab: one live call each
        assert h.lifecycle.load == 1 and h.lifecycle.accepting
        assert await h.start(bob)  # another user is not held up by ana's quota
