"""The Store contract, run against SQLite and PostgreSQL: CRUD, idempotency, tenant scoping."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import numpy as np
import pytest

from tests.integration.store_support import Clock
from wingman.errors import BadInput, NotFound
from wingman.events import AgentRun, Insight, TranscriptFragment
from wingman.store.records import KeyMoment, NewChunk, UserRecord, Viewer
from wingman.store.repos import Store


async def user(store: Store, name: str = "ana") -> UserRecord:
    return await store.create_user(email=f"{name}@example.com", name=name, password_hash="x")


def fragment(call_id: str, text: str, start: float, end: float, *, speaker: str = "customer",
             fid: str | None = None, final: bool = True) -> TranscriptFragment:
    extra = {"id": fid} if fid else {}
    return TranscriptFragment(call_id=call_id, text=text, is_final=final, speaker=speaker,
                              channel=0 if speaker == "rep" else 1, start=start, end=end, **extra)


def insight(call_id: str, user_id: str, kind: str = "objection.price", **kw: object) -> Insight:
    fields: dict[str, object] = {
        "call_id": call_id, "user_id": user_id, "agent": "coach",
        "category": "Objection Handling", "kind": kind, "content": "Ask what budget they had",
        "context_snippet": "your price seems high",
    }
    fields.update(kw)
    return Insight.model_validate(fields)


# -- users
async def test_users_are_created_and_found_by_id_and_email(store: Store) -> None:
    ana = await store.create_user(email="  Ana@Example.COM ", name=" Ana ", password_hash="h")
    assert ana.email == "ana@example.com" and ana.name == "Ana"
    assert await store.get_user(user_id=ana.id) == ana
    found = await store.get_user_by_email("ANA@example.com")
    assert found is not None and found.id == ana.id and found.password_hash == "h"
    assert await store.get_user_by_email("bob@example.com") is None
    assert await store.get_user(user_id="nope") is None
    assert "password_hash" not in ana.model_dump()


async def test_duplicate_email_is_a_clear_error(store: Store) -> None:
    await user(store)
    with pytest.raises(BadInput) as e:
        await store.create_user(email="ANA@example.com", name="other", password_hash=None)
    assert e.value.code == "email_taken"


async def test_local_user_is_created_once_even_when_raced(store: Store) -> None:
    users = await asyncio.gather(*(store.ensure_local_user() for _ in range(5)))
    assert len({u.id for u in users}) == 1
    assert (await store.ensure_local_user()).id == users[0].id


async def test_revoked_tokens_are_remembered_until_they_expire(store: Store, clock: Clock) -> None:
    await store.revoke_token(jti="old", expires_at=clock() + timedelta(minutes=1))
    await store.revoke_token(jti="new", expires_at=clock() + timedelta(hours=2))
    await store.revoke_token(jti="new", expires_at=clock() + timedelta(hours=2))  # twice: fine
    assert await store.is_token_revoked(jti="old") and await store.is_token_revoked(jti="new")
    assert not await store.is_token_revoked(jti="other")
    clock.advance(minutes=5)
    await store.revoke_token(jti="later", expires_at=clock() + timedelta(hours=1))
    assert not await store.is_token_revoked(jti="old")  # purged: it has expired anyway
    assert await store.is_token_revoked(jti="new")


# -- calls
async def test_calls_are_created_read_and_scoped_to_their_user(store: Store, clock: Clock) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="  Relay demo  ")
    assert call.title == "Relay demo" and call.user_id == ana.id
    assert call.start_time == clock() and call.end_time is None and call.duration_seconds is None
    assert await store.get_call(viewer=Viewer.own(ana), call_id=call.id) == call
    assert await store.get_call(viewer=Viewer.own(bob), call_id=call.id) is None
    assert await store.call_detail(viewer=Viewer.own(bob), call_id=call.id) is None
    assert (await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id,
            title="   ")).title == "Untitled call"


async def test_create_call_with_an_id_is_idempotent_and_guarded(store: Store) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    cid = "7d1b0b7e-2a43-4c36-9a55-6b0a3d5ac001"
    first = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="one", call_id=cid)
    again = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="two", call_id=cid)
    assert first == again and again.title == "one"
    with pytest.raises(BadInput):
        await store.create_call(workspace_id=bob.workspace_id, user_id=bob.id, title="steal", call_id=cid)
    with pytest.raises(NotFound):
        await store.create_call(workspace_id=ana.workspace_id,
                user_id="00000000-0000-0000-0000-00000000dead", title="x")


async def test_segments_are_idempotent_final_only_and_scoped(store: Store) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="t")
    late = fragment(call.id, "second", 5.0, 7.0, speaker="rep")
    early = fragment(call.id, "first", 1.0, 4.0)
    assert await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            fragment=late)
    assert await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            fragment=early)
    assert not await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            fragment=early)
    interim = fragment(call.id, "inter", 8.0, 9.0, final=False)
    assert not await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            fragment=interim)
    assert not await store.add_segment(workspace_id=bob.workspace_id, user_id=bob.id, call_id=call.id,
                                       fragment=fragment(call.id, "intruder", 9.0, 10.0))
    with pytest.raises(BadInput):
        await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
                                fragment=fragment("other-call", "x", 0.0, 1.0))
    segments = await store.list_segments(viewer=Viewer.own(ana), call_id=call.id)
    assert [(s.id, s.text, s.speaker) for s in segments] == [
        (early.id, "first", "customer"), (late.id, "second", "rep")]
    assert await store.list_segments(viewer=Viewer.own(bob), call_id=call.id) == []


async def test_concurrent_duplicate_segments_store_one_row(store: Store) -> None:
    ana = await user(store)
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="t")
    frag = fragment(call.id, "same words", 0.0, 1.0)
    results = await asyncio.gather(
        *(store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
                fragment=frag) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert len(await store.list_segments(viewer=Viewer.own(ana), call_id=call.id)) == 1


async def test_recommendations_feedback_and_feedback_by_kind(store: Store) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="t")
    price = insight(call.id, ana.id, source="pricing.md", entity=None, confidence=0.8)
    aircall = insight(call.id, ana.id, kind="competitor.aircall", agent="search",
                      category="Competitor", entity="Aircall")
    assert await store.add_recommendation(price)
    assert not await store.add_recommendation(price)
    assert await store.add_recommendation(aircall)
    assert not await store.add_recommendation(insight(call.id, bob.id))  # not bob's call
    rec = await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=price.id,
            status="liked")
    assert rec is not None and rec.feedback_status == "liked" and rec.call_session_id == call.id
    assert rec.source == "pricing.md" and rec.confidence == 0.8 and rec.agent == "coach"
    assert await store.set_feedback(workspace_id=bob.workspace_id, user_id=bob.id, recommendation_id=price.id,
                                    status="disliked") is None
    await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=aircall.id,
            status="disliked")
    assert await store.feedback_by_kind(workspace_id=ana.workspace_id, user_id=ana.id) == {
        "objection.price": (1, 0), "competitor.aircall": (0, 1)}
    assert await store.feedback_by_kind(workspace_id=bob.workspace_id, user_id=bob.id) == {}
    await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=aircall.id,
            status="none")
    assert await store.feedback_by_kind(workspace_id=ana.workspace_id, user_id=ana.id) == {
            "objection.price": (1, 0)}
    with pytest.raises(BadInput):
        await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=price.id,
                                 status="love")  # type: ignore[arg-type]


async def test_finish_call_saves_once_and_detail_has_everything(store: Store, clock: Clock) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Relay for Dana")
    await store.add_segment(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
                            fragment=fragment(call.id, "Hi Dana", 0.0, 2.0, speaker="rep"))
    first = insight(call.id, ana.id)
    await store.add_recommendation(first)
    moments = [KeyMoment(kind="objection", text="price seems high", at=31.5),
               KeyMoment(kind="next_step", text="proposal Friday", at=80.0)]
    end = clock() + timedelta(minutes=12)
    for _ in range(2):  # finishing twice changes nothing
        done = await store.finish_call(
            workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            full_transcript="rep: Hi Dana", summary="Good call",
            key_moments=moments, action_items=["Send proposal", "Set up pilot"], end_time=end)
        assert done is not None and done.end_time == end and done.duration_seconds == 720.0
    assert await store.finish_call(workspace_id=bob.workspace_id, user_id=bob.id, call_id=call.id,
            full_transcript="",
                                   summary="hijack") is None
    detail = await store.call_detail(viewer=Viewer.own(ana), call_id=call.id)
    assert detail is not None
    assert (detail.summary, detail.full_transcript) == ("Good call", "rep: Hi Dana")
    assert detail.key_moments == moments
    assert detail.action_items == ["Send proposal", "Set up pilot"]
    assert [s.text for s in detail.transcript] == ["Hi Dana"]
    assert [r.id for r in detail.recommendations] == [first.id]
    await store.finish_call(workspace_id=ana.workspace_id, user_id=ana.id, call_id=call.id,
            full_transcript="x", summary="v2",
                            key_moments=moments[:1], action_items=[], end_time=end)
    detail = await store.call_detail(viewer=Viewer.own(ana), call_id=call.id)
    assert detail is not None and detail.summary == "v2"
    assert detail.key_moments == moments[:1] and detail.action_items == []


async def test_agent_runs_are_idempotent_and_scoped(store: Store, clock: Clock) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="t")
    runs = [AgentRun(call_id=call.id, user_id=ana.id, block_id="b1", agent=agent,
                     input="your price seems high", rule_or_prompt="objection.price",
                     output="tip" if agent == "coach" else "", provider="local",
                     latency_ms=3.5, error=None if agent == "coach" else "timeout",
                     created_at=clock() + timedelta(seconds=i))
            for i, agent in enumerate(["coach", "qa"])]
    for run in runs:
        assert await store.add_agent_run(run)
        assert not await store.add_agent_run(run)
    assert not await store.add_agent_run(runs[0].model_copy(update={"id": "x", "user_id": bob.id}))
    listed = await store.list_agent_runs(viewer=Viewer.own(ana), call_id=call.id)
    assert [(r.id, r.agent, r.error) for r in listed] == [
        (runs[0].id, "coach", None), (runs[1].id, "qa", "timeout")]
    assert listed[0].latency_ms == 3.5 and listed[0].block_id == "b1"
    assert await store.list_agent_runs(viewer=Viewer.own(bob), call_id=call.id) == []


async def test_documents_and_chunks(store: Store) -> None:
    ana, bob = await user(store, "ana"), await user(store, "bob")
    vectors = np.random.default_rng(1).random((2, 4), dtype=np.float32)
    doc = await store.add_document(
        workspace_id=ana.workspace_id, user_id=ana.id, filename="pricing.md",
        content_type="text/markdown", size_bytes=120,
        checksum="abc", source="sample",
        chunks=[NewChunk(text=f"chunk {i}", embedding=v.tobytes()) for i, v in enumerate(vectors)])
    other = await store.add_document(workspace_id=ana.workspace_id, user_id=ana.id, filename="soc2.md",
                                     content_type="text/markdown", size_bytes=5,
                                     chunks=[NewChunk(text="SOC 2 Type 2")])
    assert doc.chunk_count == 2 and doc.source == "sample" and doc.checksum == "abc"
    docs = await store.list_documents(workspace_id=ana.workspace_id)
    assert [(d.id, d.chunk_count) for d in docs] == [(doc.id, 2), (other.id, 1)]
    chunks = await store.list_chunks(workspace_id=ana.workspace_id)
    assert [(c.filename, c.position, c.text) for c in chunks] == [
        ("pricing.md", 0, "chunk 0"), ("pricing.md", 1, "chunk 1"), ("soc2.md", 0, "SOC 2 Type 2")]
    assert chunks[1].embedding is not None
    np.testing.assert_array_equal(np.frombuffer(chunks[1].embedding, dtype=np.float32), vectors[1])
    assert chunks[2].embedding is None
    only = await store.list_chunks(workspace_id=ana.workspace_id, document_id=other.id)
    assert [c.text for c in only] == ["SOC 2 Type 2"]
    assert await store.list_documents(workspace_id=bob.workspace_id) == []
    assert await store.list_chunks(workspace_id=bob.workspace_id) == []
    assert not await store.delete_document(workspace_id=bob.workspace_id, document_id=doc.id)
    assert await store.delete_document(workspace_id=ana.workspace_id, document_id=doc.id)
    assert not await store.delete_document(workspace_id=ana.workspace_id, document_id=doc.id)
    assert [c.text for c in await store.list_chunks(workspace_id=ana.workspace_id)] == ["SOC 2 Type 2"]
