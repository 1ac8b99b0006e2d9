"""A manager's pages in real Chromium: the team's call history filtered by rep, date, competitor
and objection (the filters live in the URL, so a shared link and a reload show the same calls),
and the playbook editor adding and removing rules, editing nudges, showing the API's error for
a bad rule and a conflict when someone else saved first."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    LAPTOP,
    PageErrors,
    get_json,
    join_by_invitation,
    register_admin,
    shot,
)
from tests.server import running_server
from wingman.events import Insight
from wingman.settings import Settings
from wingman.store.repos import Store

pytestmark = pytest.mark.browser
NOW = datetime.now(UTC).replace(microsecond=0)
REFERENCES_TIP = "Offer two customers of their size to call."


@dataclass(frozen=True)
class Team:
    url: str
    admin_token: str
    rep_token: str
    rep_id: str


# (whose, title, days ago, recommendation kind, entity)
CALLS = [
    ("admin", "Ada with Initech", 1, "competitor.aircall", "Aircall"),
    ("rep", "Ria with Globex about price", 2, "objection.price", None),
    ("rep", "Ria with Umbrella, Dialpad came up", 3, "competitor.dialpad", "Dialpad"),
    ("rep", "Ria with Hooli last month", 40, "objection.price", None),
]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[Team]:
    """A workspace with an admin and a rep who joined by invitation, and calls of both."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-team-pages"), web_dist=web_dist,
                        host="127.0.0.1", auth="required", sample_knowledge=False)
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        admin = register_admin(http)
        admin_token = admin.json()["token"]
        auth = {"Authorization": f"Bearer {admin_token}"}
        rep = join_by_invitation(http, admin_token, "ria@acme.example")
        workspace = http.get("/api/workspace", headers=auth).json()["id"]
        ids = {"admin": admin.json()["user"]["id"], "rep": rep.json()["user"]["id"]}
        r = http.put("/api/profile", headers=auth, json={
            "name": "Acme Phones", "sells": "Cloud phone systems for sales teams.",
            "products": ["Acme Dialer"], "competitors": [{"name": "Aircall"}, {"name": "Dialpad"}],
            "pricing_notes": ""})
        r.raise_for_status()
        with ThreadPoolExecutor(1) as pool:  # pytest-asyncio may run a loop in this thread
            pool.submit(asyncio.run, _seed(settings.effective_database_url, workspace, ids)).result()
        yield Team(url, admin_token, rep.json()["token"], ids["rep"])


async def _seed(db_url: str, workspace: str, ids: dict[str, str]) -> None:
    for who, title, days_ago, kind, entity in CALLS:
        started = NOW - timedelta(days=days_ago)
        store = Store(url=db_url, clock=lambda at=started: at)  # the call starts `days_ago` ago
        try:
            call = await store.create_call(workspace_id=workspace, user_id=ids[who], title=title)
            assert await store.add_recommendation(Insight(
                call_id=call.id, user_id=ids[who], workspace_id=workspace, agent="coach",
                category="Tip", kind=kind, content="A tip.", entity=entity))
        finally:
            await store.aclose()


@contextmanager
def signed_in(browser: Browser, token: str) -> Iterator[Page]:
    """A page of a new browser context signed in with `token`; no uncaught page error allowed."""
    context = browser.new_context(viewport=LAPTOP)
    context.add_init_script(f"localStorage.setItem('wingman.token', {token!r})")
    try:
        page = context.new_page()
        errors = PageErrors(page)
        yield page
        errors.check()
    finally:
        context.close()


def _titles(page: Page) -> list[str]:
    expect(page.get_by_test_id("call-list")).to_be_visible()
    titles = page.get_by_test_id("call-list").locator("li a > span:first-child > span:first-child")
    return [t.strip() for t in titles.all_inner_texts()]


def test_the_team_history_is_filtered_and_the_link_shows_the_same_calls(browser: Browser, team: Team) -> None:
    with signed_in(browser, team.admin_token) as page:
        page.goto(f"{team.url}/calls")
        expect(page.get_by_text("4 calls")).to_be_visible()

        page.get_by_label("Rep", exact=True).select_option(label="Ria Rep")
        expect(page.get_by_text("3 calls with these filters")).to_be_visible()
        page.get_by_label("Objection", exact=True).select_option(label="Price objection")
        expect(page.get_by_text("2 calls with these filters")).to_be_visible()
        page.get_by_label("From", exact=True).fill((NOW - timedelta(days=7)).astimezone().date().isoformat())
        expect(page.get_by_text("1 call with these filters")).to_be_visible()
        assert _titles(page) == ["Ria with Globex about price"]
        expect(page.get_by_test_id("call-list")).to_contain_text("Ria Rep")  # whose call it is
        assert re.search(r"rep=.+&objection=price&from=\d{4}-\d\d-\d\d", page.url), page.url
        shot(page, "team-history-filtered")

        # the view survives a reload and travels as a link
        page.reload()
        expect(page.get_by_text("1 call with these filters")).to_be_visible()
        expect(page.get_by_label("Objection", exact=True)).to_have_value("price")
        shared = page.url
        other = page.context.new_page()
        other.goto(shared)
        expect(other.get_by_text("1 call with these filters")).to_be_visible()
        assert _titles(other) == ["Ria with Globex about price"]
        other.close()

        # a competitor, typed and confirmed, over everyone's calls
        page.get_by_role("button", name="Clear filters").click()
        expect(page.get_by_text("4 calls")).to_be_visible()
        page.get_by_label("Competitor", exact=True).fill("dialpad")
        page.get_by_label("Competitor", exact=True).press("Enter")
        expect(page.get_by_text("1 call with these filters")).to_be_visible()
        assert _titles(page) == ["Ria with Umbrella, Dialpad came up"]
        page.get_by_label("To", exact=True).fill((NOW - timedelta(days=30)).astimezone().date().isoformat())
        expect(page.get_by_text("No calls match these filters")).to_be_visible()


def test_a_rep_filters_only_their_own_calls(browser: Browser, team: Team) -> None:
    with signed_in(browser, team.rep_token) as page:
        page.goto(f"{team.url}/calls?objection=price")
        expect(page.get_by_text("2 calls with these filters")).to_be_visible()
        expect(page.get_by_label("Rep", exact=True)).to_have_count(0)
        # a link with someone else's id shows nothing of theirs
        admin_id = get_json(f"{team.url}/api/auth/me", team.admin_token)["id"]
        page.goto(f"{team.url}/calls?rep={admin_id}")
        expect(page.get_by_text("No calls match these filters")).to_be_visible()


def test_a_manager_adds_and_removes_rules_edits_nudges_and_meets_a_conflict(browser: Browser,
                                                                            team: Team) -> None:
    auth = {"Authorization": f"Bearer {team.admin_token}"}
    with signed_in(browser, team.admin_token) as page:
        page.on("dialog", lambda d: d.accept())  # "Remove the rule ...?"
        page.goto(f"{team.url}/playbook")
        expect(page.get_by_text("The shipped template: edit it")).to_be_visible()

        # a new buying signal; checked here first, then by the server (a Python regex)
        add = page.get_by_role("form", name="Add to Buying signals")
        add.get_by_label("New signals rule name").fill("Asks for references")
        add.get_by_role("button", name="Add rule").click()
        rule = page.get_by_test_id("rule-signals.asks_for_references")
        expect(rule).to_be_visible()
        page.get_by_role("button", name="Save playbook").click()
        expect(page.get_by_role("alert")).to_contain_text("fix the 2 problems")
        expect(rule.get_by_role("list", name="signals.asks_for_references problems")).to_contain_text(
            "Write at least one tip")
        phrases = rule.get_by_label("signals.asks_for_references Trigger phrases")
        phrases.press_sequentially("(?P<who>references\n")
        rule.get_by_label("signals.asks_for_references Tips").fill(REFERENCES_TIP)
        page.get_by_role("button", name="Save playbook").click()
        expect(rule.get_by_role("list", name="signals.asks_for_references problems")).to_contain_text(
            "signals.asks_for_references.patterns[0]: bad regular expression")
        phrases.fill("\\b(can we|could we) (talk|speak) to (a |one of your )?(customers?|references?)\\b")

        # remove a tone rule and make the talk-ratio nudge stricter
        tone = next(iter(get_json(f"{team.url}/api/playbook", team.admin_token)["playbook"]["tone"]))
        page.get_by_role("button", name=f"Remove tone.{tone}").click()
        expect(page.get_by_test_id(f"rule-tone.{tone}")).to_have_count(0)
        page.get_by_label("nudges.talk_ratio max_ratio").fill("0.55")
        page.get_by_role("button", name="Save playbook").click()
        expect(page.get_by_role("status").filter(has_text="Saved version 1")).to_be_visible()
        saved = get_json(f"{team.url}/api/playbook", team.admin_token)["playbook"]
        assert saved["signals"]["asks_for_references"]["tips"] == [REFERENCES_TIP]
        assert tone not in saved["tone"] and saved["nudges"]["talk_ratio"]["max_ratio"] == 0.55
        versions = page.get_by_role("list", name="Playbook versions")
        expect(versions).to_contain_text("signals.asks_for_references: added")
        expect(versions).to_contain_text(f"tone.{tone}: removed")

        # someone else saves while this page edits: the edit is kept and can be saved over it
        theirs = {**saved, "nudges": {**saved["nudges"], "monologue": {**saved["nudges"]["monologue"],
                                                                         "max_seconds": 75}}}
        r = httpx.put(f"{team.url}/api/playbook", headers=auth, json={"playbook": theirs, "base_version": 1})
        assert r.status_code == 200, r.text
        page.get_by_label("nudges.questions min_questions").fill("4")
        page.get_by_role("button", name="Save playbook").click()
        expect(page.get_by_role("alert")).to_contain_text("Your changes are still here")
        newer = page.get_by_test_id("newer-version")
        expect(newer).to_contain_text("saved version 2")
        expect(page.get_by_label("nudges.questions min_questions")).to_have_value("4")
        shot(page, "team-playbook-conflict")
        newer.get_by_role("button", name="Save mine as the next version").click()
        expect(page.get_by_role("status").filter(has_text="Saved version 3")).to_be_visible()
        final = get_json(f"{team.url}/api/playbook", team.admin_token)
        assert final["version"] == 3 and final["playbook"]["nudges"]["questions"]["min_questions"] == 4


def test_a_rep_reads_the_playbook_but_cannot_change_it(browser: Browser, team: Team) -> None:
    with signed_in(browser, team.rep_token) as page:
        page.goto(f"{team.url}/playbook")
        expect(page.get_by_text("Managers and admins edit the playbook")).to_be_visible()
        expect(page.get_by_label("objections.price Tips")).to_be_disabled()
        expect(page.get_by_role("button", name="Save playbook")).to_have_count(0)
        expect(page.get_by_role("button", name="Add rule")).to_have_count(0)
