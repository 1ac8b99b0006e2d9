"""The store writer: per-tenant lanes (one tenant's shard down does not stall another), every
transient error retried (TenantMoving included), the journal on disk replayed after a
shutdown or a kill, and writes that can never succeed given up and counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import exc as sa_exc

from wingman.events import Insight, TranscriptFragment
from wingman.store.journal import Journal
from wingman.store.placement import TenantMoving
from wingman.store.writer import StoreWriter, is_transient


class FlakyStore:
    """Records applied writes; tenants in `down` fail with a connection error, `moving` ones
    with TenantMoving `moving[tenant]` times, `broken` ones with a non-transient error."""

    def __init__(self) -> None:
        self.segments: list[tuple[str, str]] = []
        self.insights: list[str] = []
        self.down: set[str] = set()
        self.moving: dict[str, int] = {}
        self.broken: set[str] = set()

    def _gate(self, user_id: str) -> None:
        if user_id in self.down:
            raise sa_exc.OperationalError("INSERT", {}, ConnectionRefusedError("shard down"))
        if self.moving.get(user_id, 0) > 0:
            self.moving[user_id] -= 1
            raise TenantMoving("the tenant is moving")
        if user_id in self.broken:
            raise ValueError("this write can never work")

    async def add_segment(
        self, *, workspace_id: str, user_id: str, call_id: str, fragment: TranscriptFragment
    ) -> bool:
        assert workspace_id == user_id  # no workspace given: the user id is the tenant
        self._gate(user_id)
        self.segments.append((user_id, fragment.text))
        return True

    async def add_recommendation(self, insight: Insight) -> bool:
        self._gate(insight.user_id)
        self.insights.append(insight.id)
        return True


def fragment(call_id: str, text: str) -> TranscriptFragment:
    return TranscriptFragment(call_id=call_id, text=text, is_final=True, start=0.0, end=1.0)


def insight(user_id: str, call_id: str) -> Insight:
    return Insight(call_id=call_id, user_id=user_id, agent="coach", category="Objection Handling",
                   kind="objection.price", content="Anchor on value.")


async def test_one_tenant_down_does_not_stall_another() -> None:
    store = FlakyStore()
    store.down.add("a")
    writer = StoreWriter(store=store, max_backoff=0.05)
    stuck = writer.save_segment(user_id="a", call_id="ca", fragment=fragment("ca", "a one"))
    saved = [writer.save_segment(user_id="b", call_id="cb", fragment=fragment("cb", f"b {i}"))
             for i in range(5)]
    assert all(await asyncio.gather(*saved))
    assert [t for u, t in store.segments if u == "b"] == [f"b {i}" for i in range(5)]
    assert not stuck.done() and not writer.healthy_for("a") and writer.healthy_for("b")
    assert await writer.drain(1.0, user_id="b")  # b's end-call does not wait for a's shard
    store.down.clear()
    assert await stuck
    await writer.aclose()


async def test_tenant_moving_is_retried_until_the_move_ends() -> None:
    store = FlakyStore()
    store.moving["a"] = 5  # a move takes longer than the old writer's three attempts
    writer = StoreWriter(store=store, max_backoff=0.02)
    assert await writer.save_insight(insight("a", "ca"))
    assert len(store.insights) == 1 and writer.dropped == 0
    assert is_transient(TenantMoving("moving"))
    await writer.aclose()


async def test_a_write_that_can_never_succeed_is_given_up_and_counted() -> None:
    store = FlakyStore()
    store.broken.add("a")
    writer = StoreWriter(store=store, max_backoff=0.01)
    assert await writer.save_segment(user_id="a", call_id="ca", fragment=fragment("ca", "x")) is False
    assert writer.dropped == 1
    await writer.aclose()


async def test_writes_left_at_shutdown_are_replayed_at_the_next_start(tmp_path: Path) -> None:
    store = FlakyStore()
    store.down.add("a")
    writer = StoreWriter(store=store, spill_dir=tmp_path, max_backoff=0.05)
    for i in range(3):
        writer.save_segment(user_id="a", call_id="ca", fragment=fragment("ca", f"line {i}"))
    writer.save_insight(insight("a", "ca"))
    writer.save_segment(user_id="b", call_id="cb", fragment=fragment("cb", "b line"))
    assert await writer.aclose(timeout=0.3) == 4  # b's got in; a's four wait on disk
    store.down.clear()
    again = StoreWriter(store=store, spill_dir=tmp_path)
    assert await again.replay() == 4
    assert await again.drain(5.0)
    assert [t for u, t in store.segments if u == "a"] == ["line 0", "line 1", "line 2"]
    assert len(store.insights) == 1
    assert await again.aclose() == 0
    assert await StoreWriter(store=store, spill_dir=tmp_path).replay() == 0  # nothing twice


async def test_a_killed_process_journal_is_adopted_torn_line_and_all(tmp_path: Path) -> None:
    journal = Journal(tmp_path)  # a process that dies without closing or marking anything done
    for i in range(3):
        journal.append("segment", "a", "ca", fragment("ca", f"line {i}").model_dump(mode="json"))
    journal.done(1)
    with journal.path.open("ab") as f:
        f.write(b'{"seq": 9, "kind": "segm')  # the write the kill cut in half
    dead_path = journal.path
    journal.close()  # the kernel drops a dead process's lock like this
    store = FlakyStore()
    writer = StoreWriter(store=store, spill_dir=tmp_path)
    assert await writer.replay() == 2
    assert await writer.drain(5.0)
    assert [t for _u, t in store.segments] == ["line 1", "line 2"]
    await writer.aclose()
    assert dead_path.exists()  # taken over as the new process's own journal (emptied)


async def test_past_its_memory_bound_the_writer_keeps_writes_on_disk_only(tmp_path: Path) -> None:
    store = FlakyStore()
    store.down.add("a")
    writer = StoreWriter(store=store, spill_dir=tmp_path, max_queued=4, max_backoff=0.02)
    futures = [writer.save_segment(user_id="a", call_id="ca", fragment=fragment("ca", f"l{i}"))
               for i in range(10)]
    assert writer.pending == 10
    store.down.clear()
    assert all(await asyncio.gather(*futures))
    assert [t for _u, t in store.segments] == [f"l{i}" for i in range(10)]
    await writer.aclose()
