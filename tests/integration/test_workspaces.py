"""Workspaces in the store, on SQLite and PostgreSQL: migration 0004 turns each user into a
one-person workspace, roles decide whose calls a member sees, invitations are single-use and
expire, a workspace always keeps an admin, and coaching comments follow call visibility."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.store_support import Clock
from wingman.errors import BadInput, NotFound
from wingman.store.records import UserRecord, Viewer
from wingman.store.repos import MIGRATIONS, Store
from wingman.store.team import InvitationError


def _upgrade(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def test_migration_makes_each_user_the_admin_of_a_workspace_of_their_own(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, "0003")
            for uid in ("u1", "u2"):
                await conn.execute(
                    text(
                        "INSERT INTO users (id, email, name, created_at) "
                        f"VALUES ('{uid}', '{uid}@example.com', 'User {uid}', CURRENT_TIMESTAMP)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO call_sessions (id, user_id, title, start_time) "
                        f"VALUES ('call-{uid}', '{uid}', 'a call', CURRENT_TIMESTAMP)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO documents (id, user_id, filename, content_type, size_bytes, source, "
                        f"created_at) VALUES ('doc-{uid}', '{uid}', 'a.md', 'text/markdown', 3, 'upload', "
                        "CURRENT_TIMESTAMP)"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO vocabulary_terms (id, user_id, term, term_key, position, created_at) "
                        f"VALUES ('t-{uid}', '{uid}', 'Relay', 'relay', 0, CURRENT_TIMESTAMP)"
                    )
                )
            await conn.execute(
                text(
                    "INSERT INTO tenant_placements (user_id, shard, updated_at) "
                    "VALUES ('u1', 'shard-b', CURRENT_TIMESTAMP)"
                )
            )
            await conn.run_sync(_upgrade, "head")
    finally:
        await engine.dispose()
    store = Store(url=db_url)
    try:
        for uid in ("u1", "u2"):
            user = await store.get_user(user_id=uid)
            assert user is not None and user.workspace_id == uid and user.role == "admin"
            workspace = await store.get_workspace(workspace_id=uid)
            assert workspace is not None and workspace.name == f"User {uid}"
            assert [m.id for m in await store.list_members(workspace_id=uid)] == [uid]
            viewer = await store.viewer(user)
            assert [c.id for c in (await store.list_calls(viewer=viewer)).items] == [f"call-{uid}"]
            assert [d.id for d in await store.list_documents(workspace_id=uid)] == [f"doc-{uid}"]
            assert await store.list_vocabulary_terms(workspace_id=uid) == ["Relay"]
        async with store.router.directory().connect() as conn:
            placed = (await conn.execute(text("SELECT workspace_id, shard FROM workspace_placements"))).all()
        assert placed == [("u1", "shard-b")]
    finally:
        await store.aclose()


@dataclass
class Team:
    admin: UserRecord
    manager: UserRecord
    rep_a: UserRecord  # reports to the manager
    rep_b: UserRecord  # reports to nobody
    outsider: UserRecord  # another workspace's admin


async def _member(
    store: Store, admin: UserRecord, email: str, role: str, manager: str | None = None
) -> UserRecord:
    _invitation, token = await store.create_invitation(
        workspace_id=admin.workspace_id,
        email=email,
        role=role,
        invited_by=admin.id,
        ttl_seconds=3600,
        manager_id=manager,
    )
    return await store.accept_invitation(token=token, name=email.split("@")[0], password_hash="x")


async def _team(store: Store) -> Team:
    admin = await store.create_user(
        email="ada@acme.example", name="Ada", password_hash="x", new_workspace="Acme"
    )
    manager = await _member(store, admin, "max@acme.example", "manager")
    rep_a = await _member(store, admin, "ria@acme.example", "rep", manager.id)
    rep_b = await _member(store, admin, "rob@acme.example", "rep")
    outsider = await store.create_user(email="olga@other.example", name="Olga", password_hash="x")
    return Team(admin, manager, rep_a, rep_b, outsider)


async def test_roles_decide_whose_calls_a_member_sees_and_nothing_crosses_workspaces(store: Store) -> None:
    t = await _team(store)
    assert t.rep_a.workspace_id == t.admin.workspace_id and t.rep_a.manager_id == t.manager.id
    calls = {}
    for who in (t.admin, t.manager, t.rep_a, t.rep_b, t.outsider):
        calls[who.id] = (
            await store.create_call(workspace_id=who.workspace_id, user_id=who.id, title=who.name)
        ).id

    async def visible(user: UserRecord) -> set[str]:
        page = await store.list_calls(viewer=await store.viewer(user))
        return {c.title for c in page.items}

    assert await visible(t.admin) == {"Ada", "max", "ria", "rob"}
    assert await visible(t.manager) == {"max", "ria"}
    assert await visible(t.rep_a) == {"ria"}
    assert await visible(t.rep_b) == {"rob"}
    assert await visible(t.outsider) == {"Olga"}
    # by id: a call the viewer may not see is exactly like a missing one
    rep_a = await store.viewer(t.rep_a)
    for other in (t.rep_b, t.manager, t.outsider):
        assert await store.get_call(viewer=rep_a, call_id=calls[other.id]) is None
        assert await store.call_detail(viewer=rep_a, call_id=calls[other.id]) is None
    assert await store.get_call(viewer=await store.viewer(t.manager), call_id=calls[t.rep_a.id]) is not None
    admin = await store.viewer(t.admin)
    assert await store.get_call(viewer=admin, call_id=calls[t.outsider.id]) is None
    assert await store.get_call(viewer=admin, call_id="no-such-call") is None
    # the team dashboard's per-rep figures
    assert (await store.stats(viewer=admin, rep=t.rep_a.id)).total_calls == 1
    assert (await store.stats(viewer=await store.viewer(t.manager), rep=t.rep_b.id)).total_calls == 0


async def test_invitations_are_single_use_expire_and_can_be_withdrawn(store: Store, clock: Clock) -> None:
    admin = await store.create_user(email="ada@acme.example", name="Ada", password_hash="x")
    invitation, token = await store.create_invitation(
        workspace_id=admin.workspace_id,
        email="Rep@Acme.example",
        role="rep",
        invited_by=admin.id,
        ttl_seconds=3600,
    )
    assert invitation.email == "rep@acme.example" and token not in str(invitation)
    assert (await store.invitation_for_token(token)).id == invitation.id
    joined = await store.accept_invitation(token=token, name="Rep", password_hash="x")
    assert joined.workspace_id == admin.workspace_id and joined.role == "rep"
    with pytest.raises(InvitationError) as used:
        await store.accept_invitation(token=token, name="Again", password_hash="x")
    assert used.value.code == "invitation_used"
    assert await store.list_invitations(workspace_id=admin.workspace_id) == []

    _late, late_token = await store.create_invitation(
        workspace_id=admin.workspace_id,
        email="late@acme.example",
        role="rep",
        invited_by=admin.id,
        ttl_seconds=60,
    )
    clock.advance(seconds=61)
    with pytest.raises(InvitationError) as expired:
        await store.accept_invitation(token=late_token, name="Late", password_hash="x")
    assert expired.value.code == "invitation_expired"
    assert await store.get_user_by_email("late@acme.example") is None  # nothing changed

    pulled, pulled_token = await store.create_invitation(
        workspace_id=admin.workspace_id,
        email="pulled@acme.example",
        role="manager",
        invited_by=admin.id,
        ttl_seconds=3600,
    )
    assert await store.revoke_invitation(workspace_id="another-workspace", invitation_id=pulled.id) is False
    assert await store.revoke_invitation(workspace_id=admin.workspace_id, invitation_id=pulled.id)
    for bad in (pulled_token, "not-a-token"):
        with pytest.raises(InvitationError) as invalid:
            await store.invitation_for_token(bad)
        assert invalid.value.code == "invitation_invalid"
    with pytest.raises(BadInput) as taken:  # an existing account cannot be invited
        await store.create_invitation(
            workspace_id=admin.workspace_id,
            email="rep@acme.example",
            role="rep",
            invited_by=admin.id,
            ttl_seconds=60,
        )
    assert taken.value.code == "email_taken"


async def test_a_workspace_always_keeps_an_admin(store: Store) -> None:
    t = await _team(store)
    ws = t.admin.workspace_id
    for attempt in (
        store.update_member(workspace_id=ws, user_id=t.admin.id, role="manager"),
        store.remove_member(workspace_id=ws, user_id=t.admin.id),
    ):
        with pytest.raises(BadInput) as refused:
            await attempt
        assert refused.value.code == "last_admin"
    assert (await store.get_user(user_id=t.admin.id)) == t.admin  # unchanged
    # with a second admin, the first may step down; a member of another workspace is missing
    await store.update_member(workspace_id=ws, user_id=t.manager.id, role="admin")
    demoted = await store.update_member(workspace_id=ws, user_id=t.admin.id, role="rep")
    assert demoted.role == "rep"
    with pytest.raises(NotFound):
        await store.update_member(workspace_id=ws, user_id=t.outsider.id, role="rep")
    with pytest.raises(NotFound):  # a manager must be in the workspace
        await store.update_member(workspace_id=ws, user_id=t.rep_b.id, manager_id=t.outsider.id)
    moved = await store.update_member(workspace_id=ws, user_id=t.rep_b.id, manager_id=t.manager.id)
    assert moved.manager_id == t.manager.id
    # removing the manager (an admin now, with Ada admin again): gone, their reps report to nobody
    await store.update_member(workspace_id=ws, user_id=t.admin.id, role="admin")
    await store.remove_member(workspace_id=ws, user_id=t.manager.id)
    members = {m.id: m for m in await store.list_members(workspace_id=ws)}
    assert t.manager.id not in members and members[t.rep_a.id].manager_id is None


async def test_comments_follow_call_visibility(store: Store) -> None:
    t = await _team(store)
    call = await store.create_call(workspace_id=t.rep_a.workspace_id, user_id=t.rep_a.id, title="pricing")
    manager = await store.viewer(t.manager)
    comment = await store.add_comment(
        viewer=manager, author_name="Max", call_id=call.id, text="Good recovery on price", at_seconds=42.0
    )
    seen = await store.list_comments(viewer=await store.viewer(t.rep_a), call_id=call.id)
    assert [(c.text, c.at_seconds, c.author_name) for c in seen] == [("Good recovery on price", 42.0, "Max")]
    assert seen[0].id == comment.id
    assert await store.comment_counts(viewer=manager, call_ids=[call.id]) == {call.id: 1}
    with pytest.raises(BadInput) as rep_writes:
        await store.add_comment(
            viewer=await store.viewer(t.rep_a), author_name="Ria", call_id=call.id, text="hi"
        )
    assert rep_writes.value.code == "forbidden"
    outsider = Viewer(
        workspace_id=t.outsider.workspace_id, user_id=t.outsider.id, role="admin", everyone=True
    )
    with pytest.raises(NotFound):
        await store.add_comment(viewer=outsider, author_name="Olga", call_id=call.id, text="peek")
    assert await store.list_comments(viewer=outsider, call_id=call.id) == []
    assert await store.list_comments(viewer=await store.viewer(t.rep_b), call_id=call.id) == []
