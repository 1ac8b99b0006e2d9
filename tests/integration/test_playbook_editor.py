"""The playbook editor: per-workspace versions validated by the playbook parser, who changed
what, restore, conflicts, the next live block coached with the new version (on this node at
once, on another node within the version check), and its REST routes with role checks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.agents import block, shared_embedder
from tests.integration.store_support import Clock, open_store
from tests.security.support import PASSWORD, quiet_settings, serve
from wingman.agents.playbook import PlaybookSource
from wingman.agents.runner import AgentWorker
from wingman.bus.memory import MemoryBus
from wingman.errors import BadInput
from wingman.llm.local import LocalLlm
from wingman.playbooks import InvalidPlaybook, WorkspacePlaybooks, describe_changes
from wingman.search.knowledge import KnowledgeBase
from wingman.settings import Settings
from wingman.store.repos import Store

NEW_TIP = "Ask which budget line the pilot would come from, then size the pilot to it."
PRICE = "Honestly the price is way too high for us."


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _playbooks(store: Store, ticks: Ticks | None = None, check: float = 2.0) -> WorkspacePlaybooks:
    template = PlaybookSource(Settings().effective_playbook_path)
    return WorkspacePlaybooks(store=store, template=template, check_seconds=check, clock=ticks or Ticks())


def _with_price_tip(content: dict[str, Any]) -> dict[str, Any]:
    edited = copy.deepcopy(content)
    edited["objections"]["price"]["tips"] = [NEW_TIP]
    edited["objections"]["price"]["priority"] = 0.95
    return edited


async def test_versions_are_validated_described_restorable_and_per_workspace(store: Store) -> None:
    ana = await store.create_user(email="ana@acme.example", name="Ana", password_hash=None)
    olga = await store.create_user(email="olga@other.example", name="Olga", password_hash=None)
    playbooks = _playbooks(store)
    start = await playbooks.current(ana.workspace_id)
    assert start.version == 0 and start.content == playbooks.template_content()

    saved = await playbooks.save(
        ana.workspace_id, _with_price_tip(start.content), author_id=ana.id, author_name="Ana", base_version=0
    )
    assert saved.version == 1 and saved.author_name == "Ana"
    assert saved.changes == "objections.price: priority, tips"
    assert (await playbooks.for_tenant(ana.workspace_id)).objections["price"].tips == [NEW_TIP]
    assert NEW_TIP not in (await playbooks.for_tenant(olga.workspace_id)).objections["price"].tips

    bad_pattern = _with_price_tip(start.content)
    bad_pattern["objections"]["price"]["patterns"][0] = r"\b(too expensive"  # unbalanced parenthesis
    no_tips = _with_price_tip(start.content)
    no_tips["signals"]["buying"]["tips"] = []
    bad_key = _with_price_tip(start.content)
    bad_key["objections"]["Late Budget"] = {**bad_key["objections"]["price"]}
    never_fires = _with_price_tip(start.content)
    never_fires["tone"]["silent"] = {"label": "Silent", "category": "Tone", "tips": ["Say something."],
                                     "patterns": [], "examples": []}
    for broken, named in (
        (bad_pattern, "objections.price.patterns[0]"),
        (no_tips, "signals.buying.tips"),
        (bad_key, "objections.Late Budget: a rule key is lower-case"),
        (never_fires, "tone.silent: add a trigger phrase or an example sentence"),
    ):
        with pytest.raises(InvalidPlaybook) as invalid:
            await playbooks.save(
                ana.workspace_id, broken, author_id=ana.id, author_name="Ana", base_version=1
            )
        assert any(p.startswith(named) for p in invalid.value.problems), invalid.value.problems
    assert await store.playbook_head(workspace_id=ana.workspace_id) == 1  # nothing changed

    with pytest.raises(BadInput) as stale:  # someone saved version 1 since this edit began
        await playbooks.save(
            ana.workspace_id, start.content, author_id=ana.id, author_name="Ana", base_version=0
        )
    assert stale.value.code == "conflict"

    restored = await playbooks.restore(
        ana.workspace_id, 0, author_id=ana.id, author_name="Ana", base_version=1
    )
    assert restored.version == 2 and restored.restored_from == 0
    assert restored.changes.startswith("restored version 0: objections.price")
    assert json.loads(restored.content) == start.content
    versions = await store.list_playbook_versions(workspace_id=ana.workspace_id)
    assert [v.version for v in versions] == [2, 1]
    assert await store.list_playbook_versions(workspace_id=olga.workspace_id) == []


async def test_another_node_picks_the_new_version_up_within_its_check(store: Store) -> None:
    ana = await store.create_user(email="ana@acme.example", name="Ana", password_hash=None)
    editor = _playbooks(store)
    ticks = Ticks()
    worker_node = _playbooks(store, ticks, check=2.0)
    before = await worker_node.for_tenant(ana.workspace_id)
    content = (await editor.current(ana.workspace_id)).content
    await editor.save(
        ana.workspace_id, _with_price_tip(content), author_id=ana.id, author_name="Ana", base_version=0
    )
    assert await worker_node.for_tenant(ana.workspace_id) is before  # cached for check_seconds
    ticks.now += 2.5
    assert (await worker_node.for_tenant(ana.workspace_id)).objections["price"].tips == [NEW_TIP]


def test_describe_changes_names_each_trigger() -> None:
    before = {
        "objections": {"price": {"tips": ["a"]}, "timing": {"tips": ["b"]}},
        "signals": {},
        "nudges": {"x": 1},
    }
    after = {
        "objections": {"price": {"tips": ["c"]}},
        "signals": {"demo": {"tips": ["d"]}},
        "nudges": {"x": 2},
    }
    assert describe_changes(before, after) == (
        "objections.price: tips; objections.timing: removed; signals.demo: added; nudges: changed"
    )


async def test_the_next_live_block_is_coached_with_the_saved_playbook(tmp_path: Path) -> None:
    async for store in open_store(f"sqlite+aiosqlite:///{tmp_path / 'live.db'}", Clock()):
        ana = await store.create_user(email="ana@acme.example", name="Ana", password_hash=None)
        playbooks = _playbooks(store)
        settings = Settings(data_dir=tmp_path, agent_deadline_seconds=5.0)
        worker = AgentWorker(
            bus=MemoryBus(),
            store=store,
            llm=LocalLlm(),
            knowledge=KnowledgeBase(store=store, embedder=shared_embedder()),
            web_search=None,
            settings=settings,
            playbooks=playbooks,
        )
        call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="pricing")

        first = [
            i
            for i in await worker.handle_block(
                block(PRICE, call_id=call.id, user_id=ana.id, workspace_id=ana.workspace_id)
            )
            if i.kind == "objection.price"
        ]
        assert first and NEW_TIP not in first[0].content
        content = (await playbooks.current(ana.workspace_id)).content
        await playbooks.save(
            ana.workspace_id, _with_price_tip(content), author_id=ana.id, author_name="Ana", base_version=0
        )
        # a new call, so the gate's per-call memory of the first tip does not hold this one back
        call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="pricing again")
        second = [
            i
            for i in await worker.handle_block(
                block(PRICE, call_id=call.id, user_id=ana.id, workspace_id=ana.workspace_id)
            )
            if i.kind == "objection.price"
        ]
        assert second and NEW_TIP in second[0].content


def test_managers_edit_the_playbook_and_reps_read_it(tmp_path: Path) -> None:
    with serve(quiet_settings(tmp_path)) as server, httpx.Client(base_url=server.url) as http:
        r = http.post(
            "/api/auth/register", json={"email": "ada@acme.example", "name": "Ada", "password": PASSWORD}
        )
        ada = {"Authorization": f"Bearer {r.json()['token']}"}
        link = http.post("/api/invitations", headers=ada, json={"email": "ria@acme.example"}).json()["link"]
        accepted = http.post(
            "/api/invitations/accept", json={"token": link.split("token=", 1)[1], "password": PASSWORD}
        )
        ria = {"Authorization": f"Bearer {accepted.json()['token']}"}

        current = http.get("/api/playbook", headers=ria).json()
        assert current["version"] == 0 and "price" in current["playbook"]["objections"]
        edited = _with_price_tip(current["playbook"])
        refused = http.put("/api/playbook", headers=ria, json={"playbook": edited, "base_version": 0})
        assert refused.status_code == 403

        bad = copy.deepcopy(edited)
        bad["objections"]["price"]["patterns"] = ["(unclosed"]
        invalid = http.put("/api/playbook", headers=ada, json={"playbook": bad, "base_version": 0})
        assert invalid.status_code == 400 and invalid.json()["code"] == "invalid_playbook"
        assert invalid.json()["problems"][0].startswith("objections.price.patterns[0]")
        assert http.get("/api/playbook", headers=ada).json()["version"] == 0  # unchanged

        saved = http.put("/api/playbook", headers=ada, json={"playbook": edited, "base_version": 0})
        assert saved.status_code == 200 and saved.json()["version"] == 1
        again = http.put("/api/playbook", headers=ada, json={"playbook": edited, "base_version": 0})
        assert again.status_code == 409
        assert http.get("/api/playbook", headers=ria).json()["playbook"]["objections"]["price"]["tips"] == [
            NEW_TIP
        ]
        versions = http.get("/api/playbook/versions", headers=ria).json()
        assert [(v["version"], v["author_name"]) for v in versions] == [(1, "Ada")]
        old = http.get("/api/playbook/versions/1", headers=ria).json()
        assert old["playbook"]["objections"]["price"]["tips"] == [NEW_TIP]
        assert http.get("/api/playbook/versions/9", headers=ria).status_code == 404
        back = http.post("/api/playbook/versions/0/restore", headers=ada, json={"base_version": 1})
        assert back.status_code == 200 and back.json()["restored_from"] == 0
        assert http.get("/api/playbook", headers=ada).json()["playbook"] == current["playbook"]
