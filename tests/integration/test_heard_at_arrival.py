"""An utterance's end is "heard" when the chunk holding it arrived at the pipeline, not when the
speech engine took it out of the intake queue: the server's latencies (wingman/metrics.py)
count the wait in front of the engine, in a new call and in one resumed on another node.

The chunks are pushed without yielding to the event loop, so they all wait in the intake
queue and the engine takes every one of them after the last push: its own stamp comes after
`pushed`, the arrival of the chunk holding the end falls between the stamps around that chunk.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.call_harness import MONO, CallHarness, call_harness
from tests.security.support import script_of
from wingman import metrics
from wingman.events import TranscriptFragment
from wingman.realtime.lifecycle import CallLifecycle
from wingman.realtime.quotas import Quotas

LINES = ["hello there.", "we need forty seats."]  # 0.5-1.5 s and 2.0-3.0 s of call time


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[TranscriptFragment]:
    """Every final the outbox emits, as the metrics see it (with its `audio_end_at`)."""
    finals: list[TranscriptFragment] = []
    real = metrics.final_shown

    def record(fragment: TranscriptFragment, *, live: bool = True) -> None:
        if fragment.is_final and fragment.text:
            finals.append(fragment)
        real(fragment, live=live)

    monkeypatch.setattr(metrics, "final_shown", record)
    return finals


def _push_around(
    h: CallHarness, call_id: str, start: float, end: float, stop: float
) -> tuple[float, float, float]:
    """Audio from `start` to `stop` with the chunk ending at `end` pushed on its own: the
    clock before and after that chunk, and after the last push."""
    h.push(call_id, start, end - 0.1)
    before = time.monotonic()
    h.push(call_id, end - 0.1, end)
    after = time.monotonic()
    h.push(call_id, end, stop)
    return before, after, time.monotonic()


async def test_a_final_is_heard_when_the_chunk_holding_its_end_arrived(
    tmp_path: Path, shown: list[TranscriptFragment]
) -> None:
    async with call_harness(tmp_path, script_of(LINES[:1])) as h:
        call_id = await h.start(await h.user("ana"))
        before, after, pushed = _push_around(h, call_id, 0.0, 1.5, 2.0)
        await h.output.wait(lambda: h.output.finals(call_id), what="the final")
        assert [f.text for f in shown] == ["hello there."] and shown[0].end == 1.5
        heard = shown[0].audio_end_at
        assert heard is not None and before <= heard <= after < pushed


async def test_a_resumed_call_looks_up_arrivals_in_its_own_audio_time(
    tmp_path: Path, shown: list[TranscriptFragment]
) -> None:
    async with call_harness(tmp_path, script_of(LINES)) as h:
        rep = await h.user("ana")
        call_id = await h.start(rep)
        h.push(call_id, 0.0, 1.6)
        await h.output.wait(lambda: h.output.finals(call_id), what="the first final")
        await h.lifecycle.drop(call_id)  # another node carries the call on from 1.5 s
        other = CallLifecycle(container=h.container, output=h.output,
                              quotas=Quotas(settings=h.container.settings, store=h.container.store))
        try:
            assert await other.resume("tab-2", rep, call_id, MONO) == call_id
            h.lifecycle = other
            before, after, pushed = _push_around(h, call_id, 1.5, 3.0, 3.5)
            await h.output.wait(lambda: len(h.output.finals(call_id)) == 2, what="the second final")
        finally:
            await other.aclose(budget=5.0)
        assert [f.text for f in shown] == LINES and shown[1].end == 3.0  # call time
        heard = shown[1].audio_end_at
        assert heard is not None and before <= heard <= after < pushed
