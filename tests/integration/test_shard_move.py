"""Moving a tenant between shards (`wingman shards move-tenant`) on SQLite and PostgreSQL:
every row copied and readable from the new shard only, the old shard emptied, other tenants
untouched, writes paused while copying, live calls refused, interrupted moves resumed."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.integration.store_support import BACKENDS, Clock, sqlite_url
from tests.services import postgres_database
from wingman.errors import BadInput
from wingman.events import AgentRun, Insight, TranscriptFragment, utcnow
from wingman.profile import CompanyProfile
from wingman.settings import ShardUrls
from wingman.store.crm import CrmConnectionRecord, CrmRepo
from wingman.store.models import Base
from wingman.store.moves import DIRECTORY_TABLES, TENANT_TABLES, counts, move_tenant
from wingman.store.placement import TenantMoving
from wingman.store.recordings import RecordingRecord, RecordingRepo
from wingman.store.records import KeyMoment, NewChunk, UserRecord, Viewer
from wingman.store.repos import Store
from wingman.store.sentiment import add_sentiment
from wingman.store.summaries import SummaryRepo
from wingman.store.summary_edits import Editor
from wingman.store.voiceprints import VoiceprintRecord

SHARDS = ("shard-a", "shard-b")


@pytest.fixture(params=BACKENDS)
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A directory database and two shard databases (created and dropped for PostgreSQL)."""
    if request.param == "sqlite":
        yield {
            "url": sqlite_url(tmp_path / "directory"),
            "shards": {n: sqlite_url(tmp_path / n) for n in SHARDS},
        }
        return
    with ExitStack() as stack:
        yield {
            "url": request.getfixturevalue("postgres_url"),
            "shards": {n: stack.enter_context(postgres_database()) for n in SHARDS},
        }


@pytest.fixture
async def store(urls: dict[str, Any]) -> AsyncIterator[Store]:
    opened = Store(**urls, clock=Clock(), placement_ttl=0)
    await opened.migrate()
    try:
        yield opened
    finally:
        await opened.aclose()


async def user_on(store: Store, shard: str, tag: str) -> UserRecord:
    """A new user whose hash shard is `shard`."""
    for n in range(200):
        user = await store.create_user(email=f"{tag}{n}@example.com", name=tag, password_hash=None)
        if store.router.home(user.id) == shard:
            return user
    raise AssertionError("no user hashed to " + shard)


async def fill(store: Store, user_id: str, word: str) -> None:
    """One finished call with everything a call keeps, a document with embeddings, vocabulary."""
    call = await store.create_call(workspace_id=user_id, user_id=user_id, title=f"{word} call")
    for n in range(3):
        await store.add_segment(
            workspace_id=user_id, user_id=user_id,
            call_id=call.id,
            fragment=TranscriptFragment(
                call_id=call.id,
                text=f"we talk about {word} number {n}",
                is_final=True,
                speaker="customer",
                channel=1,
                start=float(n),
                end=n + 0.5,
            ),
        )
    insight = Insight(
        call_id=call.id,
        user_id=user_id,
        block_id="b1",
        agent="coach",
        category="Objection Handling",
        kind="objection.price",
        content="Ask budget",
    )
    await store.add_recommendation(insight)
    await store.set_feedback(workspace_id=user_id, user_id=user_id, recommendation_id=insight.id,
            status="liked")
    await store.add_agent_run(
        AgentRun(
            call_id=call.id,
            user_id=user_id,
            block_id="b1",
            agent="coach",
            input="i",
            rule_or_prompt="r",
            output="o",
            provider="local",
            latency_ms=3.0,
            insight_ids=(insight.id,),
        )
    )
    await store.finish_call(
        workspace_id=user_id, user_id=user_id,
        call_id=call.id,
        full_transcript=f"all {word}",
        summary=f"{word} summary",
        key_moments=[
            KeyMoment(kind="objection", text="price", at=1.0),
            KeyMoment(kind="question", text="soc", at=2.0),
        ],
        action_items=["send proposal", "book pilot"],
    )
    await store.add_comment(
        viewer=Viewer.owner(user_id, user_id).model_copy(update={"role": "admin", "everyone": True}),
        author_name="Coach", call_id=call.id, text=f"{word} well handled", at_seconds=1.0,
    )
    await store.add_document(
        workspace_id=user_id, user_id=user_id,
        filename=f"{word}.md",
        content_type="text/markdown",
        size_bytes=10,
        chunks=[
            NewChunk(text=f"{word} one", embedding=b"\x01" * 8),
            NewChunk(text=f"{word} two", embedding=b"\x02" * 8),
        ],
    )
    await store.set_vocabulary_terms(workspace_id=user_id, user_id=user_id, terms=[f"{word}Term", "Relay"])
    # the tables other areas added: sentiment, company profile, the rep's voiceprint
    await add_sentiment(store, workspace_id=user_id, user_id=user_id, call_id=call.id,
                        segment_id=f"{word}-s1", start=1.0, score=-0.5, label="negative")
    await store.put_profile(tenant_id=user_id, profile=CompanyProfile(name=f"{word.title()} Co"))
    await store.put_voiceprint(VoiceprintRecord(user_id=user_id, model="test", embedding=b"\x00" * 8,
                                                seconds=9.0, created_at=utcnow()), workspace_id=user_id)
    crm = CrmRepo(store)
    await crm.save_connection(CrmConnectionRecord(
        tenant_id=user_id, provider="hubspot", status="connected", refresh_token="sealed",
        connected_by=user_id, updated_at=utcnow()))
    await crm.enqueue(tenant_id=user_id, call_id=call.id, provider="hubspot", now=utcnow())
    recordings = RecordingRepo(store)  # the rows; the audio files stay where they are
    await recordings.save_settings(workspace_id=user_id, enabled=True, retention_days=30,
                                   updated_by=user_id, now=utcnow())
    await recordings.start(RecordingRecord(
        call_session_id=call.id, workspace_id=user_id, user_id=user_id, status="ready", node="disk",
        path=f"{user_id}/{call.id}.ogg", media_type="audio/ogg", sample_rate=16000, channels=1,
        size_bytes=10, seconds=1.0, created_at=utcnow()))
    edited = await SummaryRepo(store).save(
        viewer=Viewer.owner(user_id, user_id), editor=Editor(id=user_id, name=word), call_id=call.id,
        base_version=0, text=f"{word} summary, edited", action_items=[f"send the {word} offer"])
    assert edited is not None and edited[0]
    found = await store.list_calls(viewer=Viewer.owner(user_id, user_id), q="edited")
    assert [(c.id, c.summary) for c in found.items] == [(call.id, f"{word} summary, edited")]


async def snapshot(store: Store, user_id: str, word: str) -> dict[str, Any]:
    """Everything the API shows of a tenant, read through the Store."""
    page = await store.list_calls(viewer=Viewer.owner(user_id, user_id), q=word)
    detail = await store.call_detail(viewer=Viewer.owner(user_id, user_id), call_id=page.items[0].id)
    return {
        "found": [c.id for c in page.items],
        # found by the words of its summary edit (the new shard's search index holds it)
        "by_edit": [
            (c.id, c.summary)
            for c in (await store.list_calls(viewer=Viewer.owner(user_id, user_id), q="edited")).items
        ],
        "detail": detail,
        "runs": await store.list_agent_runs(viewer=Viewer.owner(user_id, user_id), call_id=page.items[0].id),
        "documents": await store.list_documents(workspace_id=user_id),
        "chunks": await store.list_chunks(workspace_id=user_id),
        "terms": await store.list_vocabulary_terms(workspace_id=user_id),
        "feedback": await store.feedback_by_kind(workspace_id=user_id, user_id=user_id),
        "stats": await store.stats(viewer=Viewer.owner(user_id, user_id)),
    }


async def rows(store: Store, shard: str, user_id: str) -> dict[str, int]:
    async with store.router.shard(shard).primary.connect() as conn:
        return await counts(conn, user_id)


def test_every_table_is_either_moved_with_its_tenant_or_kept_in_the_directory() -> None:
    # a new table must be added to one of the lists, or moves would leave its rows behind
    assert set(Base.metadata.tables) == set(TENANT_TABLES) | set(DIRECTORY_TABLES)


async def test_move_copies_every_row_switches_and_empties_the_old_shard(
    store: Store, urls: dict[str, Any]
) -> None:
    mover = await user_on(store, "shard-a", "mover")
    neighbour = await user_on(store, "shard-a", "neighbour")  # stays on the source
    resident = await user_on(store, "shard-b", "resident")  # already on the target
    for user, word in ((mover, "pricing"), (neighbour, "budget"), (resident, "security")):
        await fill(store, user.id, word)
    before = await snapshot(store, mover.id, "pricing")
    others = {u.id: await rows(store, store.router.home(u.id) or "", u.id) for u in (neighbour, resident)}
    on_source = await rows(store, "shard-a", mover.id)
    assert all(on_source.values()), on_source  # the fixture fills every tenant table

    said: list[str] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    report = await move_tenant(store, tenant=mover.id, target="shard-b", progress=said.append, sleep=sleep)
    assert (report.source, report.target, report.copied) == ("shard-a", "shard-b", on_source)
    assert await rows(store, "shard-a", mover.id) == dict.fromkeys(TENANT_TABLES, 0)
    assert await rows(store, "shard-b", mover.id) == on_source
    assert len(waits) == 2 and any("verified" in line for line in said), said
    # another node (its own Store) reads the tenant from the new shard, search included
    other_node = Store(**urls, clock=Clock(), placement_ttl=0)
    try:
        assert await snapshot(other_node, mover.id, "pricing") == before
        call = await other_node.create_call(workspace_id=mover.workspace_id, user_id=mover.id,
                title="after the move")
        assert (await rows(store, "shard-b", mover.id))["call_sessions"] == 2
        assert await other_node.get_call(viewer=Viewer.own(mover), call_id=call.id) is not None
    finally:
        await other_node.aclose()
    for user_id, counted in others.items():
        assert await rows(store, store.router.home(user_id) or "", user_id) == counted
    # running it again changes nothing
    again = await move_tenant(store, tenant=mover.id, target="shard-b", sleep=sleep)
    assert (again.copied, again.leftovers) == ({}, {})
    assert await rows(store, "shard-b", mover.id) == {**on_source, "call_sessions": 2}


async def test_a_live_call_refuses_the_move_and_writes_wait_while_copying(store: Store) -> None:
    user = await user_on(store, "shard-a", "live")
    await fill(store, user.id, "pricing")
    open_call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
            title="still talking")
    with pytest.raises(BadInput) as refused:
        await move_tenant(store, tenant=user.id, target="shard-b")
    assert refused.value.code == "live_call"
    await store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=open_call.id,
            full_transcript="", summary="")

    seen: list[str] = []

    async def meanwhile(seconds: float) -> None:
        if seen:
            return
        # during the fence: writes are refused (retryable), reads still served from the source
        with pytest.raises(TenantMoving):
            await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="during the move")
        seen.extend(c.title for c in (await store.list_calls(viewer=Viewer.own(user))).items)
        # a node that had not seen the mark yet starts a call: the move must back off
        async with store.router.shard("shard-a").primary.begin() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO call_sessions (id, user_id, workspace_id, title, start_time) "
                f"VALUES ('late-call', '{user.id}', '{user.workspace_id}', 'late', CURRENT_TIMESTAMP)"
            )

    with pytest.raises(BadInput) as late:
        await move_tenant(store, tenant=user.id, target="shard-b", sleep=meanwhile)
    assert late.value.code == "live_call" and "pricing call" in seen
    assert (await rows(store, "shard-b", user.id))["users"] == 0  # nothing copied
    # the mark is undone: writes work again, on the source
    await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="after the refusal")
    assert (await rows(store, "shard-a", user.id))["call_sessions"] == 4


@pytest.mark.parametrize("crash_at", [1, 2])
async def test_an_interrupted_move_resumes(store: Store, crash_at: int) -> None:
    """crash_at 1: while writes are paused, before the copy; 2: after the switch, before the
    old copy is deleted."""
    user = await user_on(store, "shard-a", "crash")
    await fill(store, user.id, "pricing")
    expected = await rows(store, "shard-a", user.id)
    calls = 0

    async def crash(seconds: float) -> None:
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await move_tenant(store, tenant=user.id, target="shard-b", sleep=crash)
    if crash_at == 1:
        with pytest.raises(TenantMoving):  # still paused until the move is finished
            await store.set_vocabulary_terms(workspace_id=user.workspace_id, user_id=user.id, terms=["x"])
    else:
        # switched: the tenant is served from the target while the source still holds a copy
        assert (await store.list_calls(viewer=Viewer.own(user), q="pricing")).total == 1
        assert await rows(store, "shard-a", user.id) == expected

    async def no_wait(seconds: float) -> None:
        return None

    report = await move_tenant(store, tenant=user.id, target="shard-b", sleep=no_wait)
    assert (report.copied or report.leftovers) == expected
    assert await rows(store, "shard-a", user.id) == dict.fromkeys(TENANT_TABLES, 0)
    assert await rows(store, "shard-b", user.id) == expected
    assert (await store.list_calls(viewer=Viewer.own(user), q="pricing")).total == 1


async def test_each_shard_serves_lag_tolerant_reads_from_its_own_replica(tmp_path: Path) -> None:
    """Replicas here are separate SQLite files that never catch up: whatever a read returns
    says which database it went to."""
    replicas = {n: sqlite_url(tmp_path / f"{n}-replica") for n in ("directory", *SHARDS)}
    for url in replicas.values():  # the replicas' schema, as a base backup would bring it
        blank = Store(url=url)
        await blank.migrate()
        await blank.aclose()
    store = Store(
        url=sqlite_url(tmp_path / "directory"),
        replica_urls=[replicas["directory"]],
        shards={n: ShardUrls(primary=sqlite_url(tmp_path / n), replicas=(replicas[n],)) for n in SHARDS},
        clock=Clock(),
        placement_ttl=0,
    )
    await store.migrate()
    try:
        user = await user_on(store, "shard-b", "rep")
        call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title="pricing call")
        # read-your-own-writes: the live call's reads go to the shard's primary
        assert await store.get_call(viewer=Viewer.own(user), call_id=call.id) is not None
        assert await store.call_detail(viewer=Viewer.own(user), call_id=call.id) is not None
        # history, search and dashboard: the shard's replica, which has not caught up
        assert (await store.list_calls(viewer=Viewer.own(user))).total == 0
        assert (await store.stats(viewer=Viewer.own(user))).total_calls == 0
        async with store.router.shard("shard-b").replicas[0].connect() as conn:
            await conn.exec_driver_sql(
                "INSERT INTO users (id, email, name, created_at) "
                f"VALUES ('{user.id}', 'rep@example.com', 'rep', CURRENT_TIMESTAMP)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO call_sessions (id, user_id, workspace_id, title, start_time) "
                f"VALUES ('{call.id}', '{user.id}', '{user.workspace_id}', 'replicated', CURRENT_TIMESTAMP)"
            )
            await conn.commit()
        assert [c.title for c in (await store.list_calls(viewer=Viewer.own(user))).items] == ["replicated"]
        # sign-in and revocation never read the directory replica (it has no users at all)
        assert await store.get_user_by_email(user.email) is not None
        await store.revoke_token(jti="t1", expires_at=Clock().now)
        assert await store.is_token_revoked(jti="t1")
    finally:
        await store.aclose()


def test_the_cli_moves_a_tenant_by_email_and_lists_the_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from typer.testing import CliRunner

    from wingman.cli import app

    shards = {n: sqlite_url(tmp_path / n) for n in SHARDS}
    monkeypatch.setenv("WINGMAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WINGMAN_DATABASE_URL", sqlite_url(tmp_path / "directory"))
    monkeypatch.setenv("WINGMAN_DATABASE_SHARDS", json.dumps(shards))
    monkeypatch.setenv("WINGMAN_PLACEMENT_CACHE_SECONDS", "0")

    async def seed() -> str:
        store = Store(url=sqlite_url(tmp_path / "directory"), shards=shards, clock=Clock())
        await store.migrate()
        try:
            user = await user_on(store, "shard-a", "cli")
            await fill(store, user.id, "pricing")
            return user.email
        finally:
            await store.aclose()

    email = asyncio.run(seed())
    runner = CliRunner()

    def tenants() -> dict[str, int]:
        listed = runner.invoke(app, ["shards", "list"])
        assert listed.exit_code == 0, listed.output
        return {
            m[0]: int(m[1]) for m in re.findall(r"(shard-\w+)\s+replicas=0\s+tenants=(\d+)", listed.output)
        }

    before = tenants()
    moved = runner.invoke(app, ["shards", "move-tenant", email, "shard-b"])
    assert moved.exit_code == 0, moved.output
    said = " ".join(moved.output.split())  # rich wraps long lines
    # 26 rows: 25 and the summary edit
    assert "copied 3 transcript_segments" in said and "26 rows moved from shard-a" in said
    assert tenants() == {"shard-a": before["shard-a"] - 1, "shard-b": before["shard-b"] + 1}
    refused = runner.invoke(app, ["shards", "move-tenant", email, "shard-z"])
    assert refused.exit_code == 1 and "no shard 'shard-z'" in " ".join(refused.output.split())


async def test_a_members_voiceprint_lives_on_the_shard_of_their_workspace(store: Store) -> None:
    admin = await user_on(store, "shard-a", "admin")
    for n in range(200):  # a member whose own id hashes to the other shard
        member = await store.create_user(
            email=f"member{n}@example.com", name="Member", password_hash=None, workspace_id=admin.workspace_id
        )
        if store.router.home(member.id) == "shard-b":
            break
    else:
        raise AssertionError("no member id hashed to shard-b")
    record = VoiceprintRecord(user_id=member.id, model="test", embedding=b"\x01" * 8, seconds=5.0,
                              created_at=utcnow())
    await store.put_voiceprint(record, workspace_id=admin.workspace_id)
    got = await store.get_voiceprint(workspace_id=admin.workspace_id, user_id=member.id)
    assert got is not None and got.embedding == record.embedding
    assert (await rows(store, "shard-a", admin.workspace_id))["voiceprints"] == 1
    assert (await rows(store, "shard-b", member.id))["voiceprints"] == 0
    assert await store.get_voiceprint(workspace_id=admin.workspace_id, user_id=admin.id) is None
    assert await store.delete_voiceprint(workspace_id=admin.workspace_id, user_id=member.id)
    assert await store.get_voiceprint(workspace_id=admin.workspace_id, user_id=member.id) is None
