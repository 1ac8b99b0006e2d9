"""A user's own account against a real Store (SQLite and PostgreSQL): sign out everywhere, a
password change, account deletion (own data removed, the workspace's handed over, the last
admin refused, a sole member's workspace gone), a removed member's email free again, and
simultaneous first sign-ups making one account."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from wingman.auth import Auth, SignupClosed
from wingman.errors import BadInput, NotFound, Unauthorized
from wingman.events import TranscriptFragment
from wingman.settings import Settings
from wingman.store import account_store
from wingman.store.account_store import LocalUserKept
from wingman.store.records import NewChunk, UserRecord, Viewer
from wingman.store.repos import Store

PASSWORD = "correct horse battery"


def _auth(store: Store, tmp_path: Path, **kw: object) -> Auth:
    settings = Settings(data_dir=tmp_path / "data", auth="required", **kw)  # type: ignore[arg-type]
    return Auth(store=store, settings=settings)


async def _invite(store: Store, auth: Auth, admin: UserRecord, email: str, role: str = "rep") -> UserRecord:
    _inv, token = await store.create_invitation(
        workspace_id=admin.workspace_id, email=email, role=role, invited_by=admin.id, ttl_seconds=600
    )
    return (await auth.accept_invitation(token=token, name=email.split("@")[0], password=PASSWORD)).user


async def _call(store: Store, user: UserRecord, title: str) -> str:
    call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title=title)
    fragment = TranscriptFragment(
        call_id=call.id, id=f"{call.id}-1", text="we compare you with Acme", start=0.0, end=1.0,
        is_final=True, speaker="customer",
    )
    await store.add_segment(
        workspace_id=user.workspace_id, user_id=user.id, call_id=call.id, fragment=fragment
    )
    return call.id


async def _call_ids(store: Store, workspace_id: str) -> list[str]:
    return [c.id for c in (await store.list_calls(viewer=Viewer.workspace(workspace_id))).items]


async def _document(store: Store, user: UserRecord, name: str) -> str:
    doc = await store.add_document(
        workspace_id=user.workspace_id, user_id=user.id, filename=name, content_type="text/markdown",
        size_bytes=30, chunks=[NewChunk(text="# Pricing\nPricing starts at 40 per seat.")],
    )
    return doc.id


async def test_sign_out_everywhere_ends_every_session_of_that_user_only(store: Store, tmp_path: Path) -> None:
    auth = _auth(store, tmp_path, open_signup=True)
    ada = await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)
    laptop = await auth.login(email="ada@acme.example", password=PASSWORD)
    bob = await auth.register(email="bob@other.example", name="Bob", password=PASSWORD)
    ended: list[str] = []

    async def listener(jti: str) -> None:
        ended.append(jti)

    auth.on_logout(listener)
    assert await auth.sign_out_everywhere(ada.user) == 2
    assert len(ended) == 2  # the gateway closes the sockets of each of them
    for grant in (ada, laptop):
        with pytest.raises(Unauthorized, match="signed out"):
            await auth.user_for_token(grant.token)
    assert (await auth.user_for_token(bob.token)).id == bob.user.id  # another user is untouched
    again = await auth.login(email="ada@acme.example", password=PASSWORD)
    assert (await auth.user_for_token(again.token)).id == ada.user.id  # signing in again works


async def test_tokens_from_before_sessions_were_recorded_are_refused_too(
    store: Store, tmp_path: Path
) -> None:
    auth = _auth(store, tmp_path)
    ada = await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)
    old, _ = auth.issue_token(ada.user)  # not in auth_sessions, as tokens made before 0009
    await asyncio.sleep(1.1)  # token times are whole seconds
    await auth.sign_out_everywhere(ada.user)
    with pytest.raises(Unauthorized, match="signed out"):
        await auth.user_for_token(old)


async def test_a_password_change_needs_the_current_one_and_ends_other_sessions(
    store: Store, tmp_path: Path
) -> None:
    auth = _auth(store, tmp_path)
    ada = await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)
    phone = await auth.login(email="ada@acme.example", password=PASSWORD)
    with pytest.raises(Unauthorized):
        await auth.change_password(ada.user, current="not my password", new="a new horse battery")
    with pytest.raises(BadInput) as short:
        await auth.change_password(ada.user, current=PASSWORD, new="short")
    assert short.value.code == "invalid_password"
    assert (await auth.user_for_token(phone.token)).id == ada.user.id  # refusals changed nothing

    fresh = await auth.change_password(ada.user, current=PASSWORD, new="a new horse battery")
    for old in (ada, phone):
        with pytest.raises(Unauthorized):
            await auth.user_for_token(old.token)
    assert (await auth.user_for_token(fresh.token)).id == ada.user.id  # this session continues
    with pytest.raises(Unauthorized):
        await auth.login(email="ada@acme.example", password=PASSWORD)
    assert (await auth.login(email="ada@acme.example", password="a new horse battery")).user.id == ada.user.id


async def test_deleting_a_rep_removes_their_data_and_hands_the_workspaces_over(
    store: Store, tmp_path: Path
) -> None:
    auth = _auth(store, tmp_path)
    ada = (await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)).user
    ria = await _invite(store, auth, ada, "ria@acme.example")
    ria_grant = await auth.login(email="ria@acme.example", password=PASSWORD)
    ria_call = await _call(store, ria, "Ria's call")
    ada_call = await _call(store, ada, "Ada's call")
    ria_doc = await _document(store, ria, "ria-pricing.md")
    await store.set_vocabulary_terms(workspace_id=ada.workspace_id, user_id=ria.id, terms=["Acme"])
    await store.add_comment(viewer=await store.viewer(ada), author_name="Ada", call_id=ria_call, text="nice")

    with pytest.raises(Unauthorized):
        await auth.delete_account(ria, password="wrong password")
    deleted = await auth.delete_account(ria, password=PASSWORD)
    assert not deleted.workspace_deleted and len(deleted.jtis) == 2

    everyone = Viewer.workspace(ada.workspace_id)
    assert await _call_ids(store, ada.workspace_id) == [ada_call]
    assert await store.list_segments(viewer=everyone, call_id=ria_call) == []
    docs = await store.list_documents(workspace_id=ada.workspace_id)
    assert [d.id for d in docs] == [ria_doc]  # the workspace keeps the document ...
    chunks = await store.list_chunks(workspace_id=ada.workspace_id, document_id=ria_doc)
    assert chunks and all(c.user_id == ada.id for c in chunks)  # ... now the admin's
    assert await store.list_vocabulary_terms(workspace_id=ada.workspace_id) == ["Acme"]
    assert await store.get_user(user_id=ria.id) is None
    with pytest.raises(Unauthorized):
        await auth.user_for_token(ria_grant.token)
    # the email is free: Ria can be invited again, as a new account
    again = await _invite(store, auth, ada, "ria@acme.example")
    assert again.id != ria.id and again.workspace_id == ada.workspace_id


async def test_the_last_admin_cannot_delete_their_account_while_others_remain(
    store: Store, tmp_path: Path
) -> None:
    auth = _auth(store, tmp_path)
    ada = (await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)).user
    max_ = await _invite(store, auth, ada, "max@acme.example", role="manager")
    ada_call = await _call(store, ada, "Ada's call")
    with pytest.raises(BadInput) as refused:
        await auth.delete_account(ada, password=PASSWORD)
    assert refused.value.code == "last_admin"
    assert (await store.get_user(user_id=ada.id)) is not None  # nothing changed
    assert await _call_ids(store, ada.workspace_id) == [ada_call]
    await store.update_member(workspace_id=ada.workspace_id, user_id=max_.id, role="admin")
    deleted = await auth.delete_account(ada, password=PASSWORD)
    assert not deleted.workspace_deleted
    assert [m.id for m in await store.list_members(workspace_id=ada.workspace_id)] == [max_.id]
    assert (await store.list_calls(viewer=Viewer.workspace(ada.workspace_id))).total == 0


async def test_a_sole_member_deletes_the_workspace_with_all_its_data(store: Store, tmp_path: Path) -> None:
    auth = _auth(store, tmp_path, open_signup=True)
    solo = (await auth.register(email="solo@one.example", name="Solo", password=PASSWORD)).user
    other = (await auth.register(email="other@two.example", name="Other", password=PASSWORD)).user
    await _call(store, solo, "solo call")
    await _document(store, solo, "solo.md")
    other_call = await _call(store, other, "other call")
    deleted = await auth.delete_account(solo, password=PASSWORD)
    assert deleted.workspace_deleted
    assert await store.get_workspace(workspace_id=solo.workspace_id) is None
    assert await store.list_documents(workspace_id=solo.workspace_id) == []
    assert (await store.list_calls(viewer=Viewer.workspace(solo.workspace_id))).total == 0
    # another workspace is untouched, and the email can sign up again
    assert await _call_ids(store, other.workspace_id) == [other_call]
    back = await auth.register(email="solo@one.example", name="Solo", password=PASSWORD)
    assert back.user.id != solo.id


async def test_the_local_user_is_not_deleted(store: Store, tmp_path: Path) -> None:
    local = await store.ensure_local_user()
    with pytest.raises(LocalUserKept):
        await store.delete_account(user_id=local.id, now=store.now())
    with pytest.raises(NotFound):
        await store.delete_account(user_id="no-such-user", now=store.now())


async def test_a_removed_members_email_can_be_invited_again(store: Store, tmp_path: Path) -> None:
    auth = _auth(store, tmp_path)
    ada = (await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)).user
    ria = await _invite(store, auth, ada, "ria@acme.example")
    call = await _call(store, ria, "Ria's call")
    await store.remove_member(workspace_id=ada.workspace_id, user_id=ria.id)
    with pytest.raises(Unauthorized):
        await auth.login(email="ria@acme.example", password=PASSWORD)
    back = await _invite(store, auth, ada, "ria@acme.example")
    assert back.id != ria.id
    assert (await auth.login(email="ria@acme.example", password=PASSWORD)).user.id == back.id
    # the removed member's calls stay with the workspace
    assert await _call_ids(store, ada.workspace_id) == [call]


async def test_simultaneous_first_sign_ups_make_one_workspace(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    """Two nodes (two Auths, each with its own in-process lock and its own connections) take
    the first sign-up at once: one account, the other is told sign-up is by invitation."""
    other_store = Store(url=db_url)
    try:
        nodes = [_auth(store, tmp_path / "a"), _auth(other_store, tmp_path / "b")]
        results = await asyncio.gather(
            *(node.register(email=f"founder{i}@acme.example", name=f"F{i}", password=PASSWORD)
              for i, node in enumerate(nodes)),
            return_exceptions=True,
        )
    finally:
        await other_store.aclose()
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, SignupClosed)]
    assert len(made) == 1 and len(refused) == 1, results
    assert len(await store.list_members(workspace_id=made[0].user.workspace_id)) == 1


async def test_a_deletion_a_failure_left_half_done_is_finished_by_the_sweep(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = _auth(store, tmp_path, open_signup=True)
    ada = (await auth.register(email="ada@acme.example", name="Ada", password=PASSWORD)).user
    ria = await _invite(store, auth, ada, "ria@acme.example")
    solo = (await auth.register(email="solo@one.example", name="Solo", password=PASSWORD)).user
    ria_call, ada_call = await _call(store, ria, "Ria's call"), await _call(store, ada, "Ada's call")
    await _call(store, solo, "solo call")

    async def shard_down(*_: object, **__: object) -> None:
        raise ConnectionError("the shard is down")

    with monkeypatch.context() as patch:  # the purge fails after the account was taken out
        patch.setattr(account_store, "_purge_member", shard_down)
        patch.setattr(account_store, "_purge_workspace", shard_down)
        await auth.delete_account(ria, password=PASSWORD)
        deleted = await auth.delete_account(solo, password=PASSWORD)
        assert deleted.workspace_deleted
        assert await store.finish_deletions() == 0  # still down: still pending
    with pytest.raises(Unauthorized):  # taken out at once all the same
        await auth.login(email="ria@acme.example", password=PASSWORD)
    everyone = Viewer.workspace(ada.workspace_id)
    assert sorted(await _call_ids(store, ada.workspace_id)) == sorted([ria_call, ada_call])  # left behind

    assert await store.finish_deletions() == 2  # the shard is back: the sweep ends both
    assert await _call_ids(store, ada.workspace_id) == [ada_call]
    assert await store.list_segments(viewer=everyone, call_id=ria_call) == []
    assert await store.get_user(user_id=ria.id) is None
    assert await store.get_workspace(workspace_id=solo.workspace_id) is None
    assert (await store.list_calls(viewer=Viewer.workspace(solo.workspace_id))).total == 0
    assert await store.finish_deletions() == 0  # nothing left to do
