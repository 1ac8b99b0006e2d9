"""The Settings page's account section in real Chromium: a password change (a wrong current
password is refused; the right one keeps this session and ends the others), sign out
everywhere (back at the sign-in form, every token refused), and deleting an account (the only
admin is told to hand over first; a rep's account goes, and their email is free again)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    LAPTOP,
    PASSWORD,
    PageErrors,
    axe_violations,
    join_by_invitation,
    register_admin,
    shot,
)
from tests.server import running_server
from wingman.settings import Settings

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a brand new horse battery"


@dataclass(frozen=True)
class Workspace:
    url: str
    admin_token: str


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[Workspace]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-account-page"), web_dist=web_dist,
                        host="127.0.0.1", auth="required", sample_knowledge=False)
    with running_server(settings) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield Workspace(url, register_admin(http).json()["token"])


def _invite(ws: Workspace, email: str, admin: str | None = None) -> str:
    """A rep who joined by invitation (invited with `admin`'s token); returns their token."""
    with httpx.Client(base_url=ws.url, timeout=60) as http:
        token: str = join_by_invitation(http, admin or ws.admin_token, email).json()["token"]
        return token


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me(ws: Workspace, token: str) -> int:
    return httpx.get(f"{ws.url}/api/auth/me", headers=_auth(token), timeout=30).status_code


def _login(ws: Workspace, email: str, password: str) -> httpx.Response:
    return httpx.post(f"{ws.url}/api/auth/login", json={"email": email, "password": password}, timeout=60)


@contextmanager
def settings_page(browser: Browser, ws: Workspace, token: str) -> Iterator[Page]:
    """/settings signed in with `token` (a new context: its own storage); no page errors."""
    context = browser.new_context(viewport=LAPTOP, bypass_csp=True)
    # seeded once per tab: a reload keeps whatever token the page stored since
    seed = f"sessionStorage.setItem('seeded', '1'); localStorage.setItem('wingman.token', {token!r});"
    context.add_init_script(f"if (!sessionStorage.getItem('seeded')) {{ {seed} }}")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors = PageErrors(page)
        page.goto(f"{ws.url}/settings")
        expect(page.get_by_role("heading", name="Your account")).to_be_visible()
        yield page
        errors.check()
    finally:
        context.close()


def _signed_out(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate("localStorage.getItem('wingman.token')") is None


def test_a_password_change_keeps_this_session_and_ends_the_others(
    browser: Browser, workspace: Workspace
) -> None:
    rep_token = _invite(workspace, "ria@acme.example")
    phone = _login(workspace, "ria@acme.example", PASSWORD).json()["token"]  # another device
    with settings_page(browser, workspace, rep_token) as page:
        form = page.get_by_role("form", name="Change password")
        assert axe_violations(page) == []
        form.get_by_label("Current password").fill("not my password")
        form.get_by_label("New password").fill(NEW_PASSWORD)
        form.get_by_role("button", name="Change password").click()
        expect(form.get_by_role("alert")).to_contain_text("current password is wrong")
        assert _me(workspace, phone) == 200  # a refusal changes nothing

        form.get_by_label("Current password").fill(PASSWORD)
        form.get_by_label("New password").fill(NEW_PASSWORD)
        form.get_by_role("button", name="Change password").click()
        expect(form.get_by_role("status")).to_contain_text("Every other session was signed out")
        shot(page, "settings-password-changed")
        stored = page.evaluate("localStorage.getItem('wingman.token')")
        assert stored and stored != rep_token and _me(workspace, stored) == 200  # this session carries on
        assert _me(workspace, phone) == 401 and _me(workspace, rep_token) == 401
        page.goto(f"{workspace.url}/settings")  # still signed in after a reload
        expect(page.get_by_text("ria@acme.example")).to_be_visible()
    assert _login(workspace, "ria@acme.example", PASSWORD).status_code == 401
    assert _login(workspace, "ria@acme.example", NEW_PASSWORD).status_code == 200


def test_sign_out_everywhere_returns_to_the_sign_in_form(browser: Browser, workspace: Workspace) -> None:
    laptop = _login(workspace, "ada@acme.example", PASSWORD).json()["token"]
    with settings_page(browser, workspace, laptop) as page:
        page.get_by_role("button", name="Sign out everywhere").click()
        _signed_out(page)
    assert _me(workspace, laptop) == 401 and _me(workspace, workspace.admin_token) == 401


def test_deleting_an_account_and_the_last_admin_refusal(browser: Browser, workspace: Workspace) -> None:
    admin = _login(workspace, "ada@acme.example", PASSWORD).json()["token"]
    rep = _invite(workspace, "rex@acme.example", admin)
    with settings_page(browser, workspace, admin) as page:
        form = page.get_by_role("form", name="Delete account")
        delete = form.get_by_role("button", name="Delete my account")
        form.get_by_label("Your password").fill(PASSWORD)
        expect(delete).to_be_disabled()  # not before the box is ticked
        form.get_by_label("I understand this cannot be undone").check()
        delete.click()
        expect(form.get_by_role("alert")).to_contain_text("at least one admin")
        assert _me(workspace, admin) == 200  # refused: nothing changed
    with settings_page(browser, workspace, rep) as page:
        form = page.get_by_role("form", name="Delete account")
        form.get_by_label("Your password").fill(PASSWORD)
        form.get_by_label("I understand this cannot be undone").check()
        form.get_by_role("button", name="Delete my account").click()
        _signed_out(page)
    assert _me(workspace, rep) == 401
    assert _login(workspace, "rex@acme.example", PASSWORD).status_code == 401
    members = httpx.get(f"{workspace.url}/api/members", headers=_auth(admin), timeout=30).json()
    assert "rex@acme.example" not in [m["email"] for m in members]
    _invite(workspace, "rex@acme.example", admin)  # the email is free: invited again, a new account
