"""Browser end to end for workspaces, in real Chromium: the first account creates the
workspace, invites a rep from the Team page, the rep joins through the link (which then no
longer works), and a manager edits the playbook (a bad trigger is refused by name, a good
edit becomes version 1, an older version comes back with Restore)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LAPTOP, PageErrors, get_json, shot
from tests.server import running_server
from wingman.settings import Settings

pytestmark = pytest.mark.browser
SLOW = 30_000  # ms: argon2 hashes on a busy 2-core machine take seconds (sign-up, join, sign-in)

PASSWORD = "correct horse battery"
NEW_TIP = "Ask which budget line the pilot would come from."


@pytest.fixture(scope="module")
def team_url(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("wingman-team"),
        web_dist=web_dist,
        host="127.0.0.1",
        auth="required",
        sample_knowledge=False,
    )
    with running_server(settings) as url:
        yield url


@pytest.mark.timeout(300)
def test_invite_a_rep_who_joins_through_the_link_once(browser: Browser, team_url: str) -> None:
    admin_ctx = browser.new_context(viewport=LAPTOP)
    rep_ctx = browser.new_context(viewport=LAPTOP)
    try:
        admin = admin_ctx.new_page()
        errors = PageErrors(admin)
        admin.goto(team_url)
        admin.get_by_role("tab", name="Create account").click()
        admin.get_by_label("Name").fill("Ada Admin")
        admin.get_by_label("Email").fill("ada@acme.example")
        admin.get_by_label("Password").fill(PASSWORD)
        admin.get_by_role("button", name="Create account").last.click()
        expect(admin.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=SLOW)
        onboarding = admin.get_by_role("region", name="Set up your workspace")
        expect(onboarding).to_contain_text("Invite your team")

        admin.get_by_role("link", name="Team").first.click()
        expect(admin.get_by_role("heading", name="Team")).to_be_visible()
        invite = admin.get_by_role("form", name="Invite someone")
        invite.get_by_label("Email").fill("ria@acme.example")
        invite.get_by_role("button", name="Invite").click()
        link_box = admin.get_by_label("Invitation link")
        expect(link_box).to_have_value(re.compile(r"/join\?token="))
        link = link_box.input_value()
        expect(admin.get_by_role("listitem").filter(has_text="ria@acme.example")).to_be_visible()
        shot(admin, "30-team-invited")

        rep = rep_ctx.new_page()
        rep_errors = PageErrors(rep)
        rep.goto(link)
        expect(rep.get_by_role("heading", name="You're invited")).to_be_visible()
        expect(rep.get_by_text("ria@acme.example")).to_be_visible()
        rep.get_by_label("Your name").fill("Ria Rep")
        rep.get_by_label("Choose a password").fill(PASSWORD)
        shot(rep, "31-join")
        rep.get_by_role("button", name="Join the workspace").click()
        expect(rep.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=SLOW)
        token = rep.evaluate("localStorage.getItem('wingman.token')")
        me = get_json(f"{team_url}/api/auth/me", token)
        assert me["role"] == "rep" and me["name"] == "Ria Rep"
        rep_errors.check()

        # the link works once
        used = rep_ctx.new_page()
        used.goto(link)
        expect(used.get_by_role("alert")).to_contain_text("used already")

        admin.reload()
        member = admin.get_by_test_id("member-ria@acme.example")
        expect(member).to_contain_text("Ria Rep")
        errors.check()
    finally:
        admin_ctx.close()
        rep_ctx.close()


@pytest.mark.timeout(300)
def test_a_manager_edits_the_playbook_and_restores_it(browser: Browser, team_url: str) -> None:
    ctx = browser.new_context(viewport=LAPTOP)
    try:
        page = ctx.new_page()
        errors = PageErrors(page)
        page.goto(team_url)
        page.get_by_label("Email").fill("ada@acme.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").last.click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=SLOW)
        page.get_by_role("link", name="Playbook").first.click()
        expect(page.get_by_role("heading", name="Playbook")).to_be_visible()
        expect(page.get_by_text("The shipped template: edit it")).to_be_visible()

        phrases = page.get_by_label("objections.price Trigger phrases")
        original = phrases.input_value()
        phrases.fill("(too expensive\n" + original)
        page.get_by_role("button", name="Save playbook").click()
        expect(page.get_by_role("alert")).to_contain_text("objections.price.patterns[0]")

        phrases.fill(original)
        page.get_by_label("objections.price Tips").fill(NEW_TIP)
        page.get_by_label("objections.price priority").fill("0.9")
        page.get_by_role("button", name="Save playbook").click()
        expect(page.get_by_role("status").filter(has_text="Saved version 1")).to_be_visible()
        versions = page.get_by_role("list", name="Playbook versions")
        expect(versions).to_contain_text("objections.price: priority, tips")
        expect(versions).to_contain_text("Ada Admin")
        shot(page, "32-playbook-saved")
        token = page.evaluate("localStorage.getItem('wingman.token')")
        assert get_json(f"{team_url}/api/playbook", token)["playbook"]["objections"]["price"]["tips"] == [
            NEW_TIP
        ]

        page.get_by_role("button", name="Restore").last.click()  # the shipped template
        expect(
            page.get_by_role("status").filter(has_text="Restored the template as version 2")
        ).to_be_visible()
        expect(page.get_by_label("objections.price Tips")).not_to_have_value(NEW_TIP)
        errors.check()
    finally:
        ctx.close()
