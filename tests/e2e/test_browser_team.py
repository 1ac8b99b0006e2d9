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

from tests.e2e.conftest import LAPTOP, PageErrors, get_json, shot
from tests.server import running_server
from wingman.events import Insight
from wingman.settings import Settings
from wingman.store.repos import Store

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
NOW = datetime.now(UTC).replace(microsecond=0)


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
        admin = http.post("/api/auth/register",
                          json={"email": "ada@acme.example", "name": "Ada Admin", "password": PASSWORD})
        admin.raise_for_status()
        admin_token = admin.json()["token"]
        auth = {"Authorization": f"Bearer {admin_token}"}
        link = http.post("/api/invitations", headers=auth, json={"email": "ria@acme.example"}).json()["link"]
        rep = http.post("/api/invitations/accept", json={
            "token": link.split("token=", 1)[1], "name": "Ria Rep", "password": PASSWORD})
        rep.raise_for_status()
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
