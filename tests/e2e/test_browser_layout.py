"""The web app on a phone (390x844) and a laptop (1440x900), in Debian's Chromium: no page scrolls
sideways, axe-core finds nothing serious on any page, the newest tip is in view during a call,
a reload mid-call resumes it with the transcript whole (no gap, no line twice; with the
microphone blocked on reload the offer says so and Resume loses nothing), a second tab is
offered the call, and /docs and /redoc run with every outside host blocked."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect

from tests.e2e.conftest import (
    DESKTOP,
    PHONE,
    PageErrors,
    axe_violations,
    get_json,
    in_view,
    load_sample,
    shot,
    sideways_scroll,
    unreachable_by_tab,
)
from tests.server import running_server
from wingman.events import Insight, TranscriptFragment
from wingman.settings import Settings
from wingman.store.repos import Store

pytestmark = pytest.mark.browser

# long words and a long name: what used to wrap a word per line or push pages sideways
LONG_TITLE = "Quarterly business review with Northwind Traders procurement and IT security"
LONG_DOC = "northwind-traders-security-questionnaire-answers-2026-final.md"
NEWEST = '[data-testid="live-insights"] [data-newest="true"]'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[tuple[str, str]]:
    """A server with one finished call (transcript, a tip) and one document; yields (url, call id)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-layout"), web_dist=web_dist,
                        host="127.0.0.1", auth="local")
    with running_server(settings) as url:
        load_sample(url)
        user_id = get_json(f"{url}/api/auth/me")["id"]
        # a thread of its own: pytest-asyncio may already run a loop in this one
        with ThreadPoolExecutor(1) as pool:
            call_id = pool.submit(asyncio.run, _seed(settings.effective_database_url, user_id)).result()
        doc = b"# Security answers\n\nWe encrypt everything at rest.\n"
        r = httpx.post(f"{url}/api/knowledge", files={"file": (LONG_DOC, doc, "text/markdown")})
        assert r.status_code in (200, 201), r.text
        yield url, call_id


async def _seed(db_url: str, user_id: str) -> str:
    store = Store(url=db_url)
    try:
        call = await store.create_call(workspace_id=user_id, user_id=user_id, title=LONG_TITLE)
        for i, text in enumerate(["Thanks for making time today.", "Our pricing worries the CFO."]):
            fragment = TranscriptFragment(call_id=call.id, text=text, is_final=True,
                                          speaker="customer", start=i * 3.0, end=i * 3.0 + 2)
            await store.add_segment(workspace_id=user_id, user_id=user_id, call_id=call.id, fragment=fragment)
        await store.add_recommendation(Insight(
            call_id=call.id, user_id=user_id, agent="coach", category="Objection Handling",
            kind="objection.price", content="Anchor on the cost of a lost deal, not the seat price."))
        await store.finish_call(workspace_id=user_id, user_id=user_id, call_id=call.id, full_transcript="",
                                summary="The CFO worries about pricing; a pilot was proposed.")
        return call.id
    finally:
        await store.aclose()


def _context(browser: Browser, viewport: dict[str, int]) -> BrowserContext:
    # bypass_csp: only so axe-core can be injected; the app's own scripts load as in production
    return browser.new_context(viewport=viewport, permissions=["microphone"], bypass_csp=True)


def _fits_and_passes_axe(page: Page, where: str) -> None:
    assert sideways_scroll(page) == 0, f"{where}: the page scrolls sideways"
    found = axe_violations(page)
    assert found == [], f"{where}: axe-core found {found}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_fits_the_screen_and_passes_axe(browser: Browser, site: tuple[str, str],
                                                   viewport: dict[str, int]) -> None:
    url, call_id = site
    context = _context(browser, viewport)
    try:
        page = context.new_page()
        errors = PageErrors(page)
        pages = {
            "/": page.get_by_role("heading", name="Dashboard"),
            "/live": page.get_by_role("button", name="Start call"),
            "/calls": page.get_by_test_id("call-list"),
            "/calls?q=pricing": page.get_by_test_id("search-snippet"),
            f"/calls/{call_id}": page.get_by_role("heading", name=LONG_TITLE),
            "/knowledge": page.get_by_role("list", name="Documents"),
            "/profile": page.get_by_role("heading", name="Company profile"),
            "/settings": page.get_by_role("heading", name="Settings"),
            "/no-such-page": page.get_by_text("Page not found"),
        }
        name = "phone" if viewport is PHONE else "desktop"
        for path, ready in pages.items():
            page.goto(f"{url}{path}")
            expect(ready.first).to_be_visible()
            page.wait_for_load_state("networkidle")
            _fits_and_passes_axe(page, f"{path} at {viewport['width']} px")
            missed = unreachable_by_tab(page)
            assert missed == [], f"{path}: not reachable with Tab: {missed}"
        shot(page, f"layout-{name}-not-found")

        page.goto(f"{url}/calls")
        title = page.get_by_test_id("call-list").get_by_text(LONG_TITLE)
        box = title.bounding_box()
        assert box and box["width"] > viewport["width"] * 0.6, "the history title is squeezed"
        page.goto(f"{url}/calls?q=pricing")
        mark = page.get_by_test_id("search-snippet").locator("mark").first
        expect(mark).to_have_text(re.compile("pricing", re.I))
        shot(page, f"layout-{name}-search")

        page.goto(f"{url}/knowledge")
        doc = page.get_by_role("list", name="Documents").get_by_text(LONG_DOC).first
        expect(doc).to_be_visible()
        assert doc.evaluate("el => el.scrollWidth <= el.clientWidth"), "the document name is cut off"
        shot(page, f"layout-{name}-knowledge")

        nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Call history")
        if viewport is PHONE:
            # the navigation folds into a menu; the keyboard opens it and follows a link
            expect(nav_link).to_be_hidden()
            menu = page.get_by_role("button", name="Menu")
            menu.focus()
            page.keyboard.press("Enter")
            expect(menu).to_have_attribute("aria-expanded", "true")
            _fits_and_passes_axe(page, "the open menu")
            shot(page, "layout-phone-menu", full_page=False)
        nav_link.focus()
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/calls$"))
        errors.check()
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_sign_in_page_fits_and_passes_axe(browser: Browser, secured_url: str,
                                              viewport: dict[str, int]) -> None:
    context = _context(browser, viewport)
    try:
        page = context.new_page()
        page.goto(secured_url)
        expect(page.get_by_role("tab", name="Sign in")).to_be_visible()
        _fits_and_passes_axe(page, f"sign-in at {viewport['width']} px")
        assert unreachable_by_tab(page) == []
        page.get_by_role("tab", name="Create account").click()
        _fits_and_passes_axe(page, f"create account at {viewport['width']} px")
    finally:
        context.close()


def _finals(page: Page) -> list[tuple[str, str]]:
    rows = page.get_by_role("log", name="Live transcript").locator("li[data-final=true]")
    return [(row.get_attribute("id") or "", row.locator("p").inner_text()) for row in rows.all()]


def _more_finals_than(page: Page, n: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('[role=log] li[data-final=true]').length > {n}", timeout=180_000)


def _resumed_whole(page: Page, before: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The finals once the resumed call has a new one: the lines from before the reload come
    back unchanged, no line twice; word by word, the words heard before in order, none dropped."""
    _more_finals_than(page, len(before))
    after = _finals(page)
    assert after[: len(before)] == before, "lines from before the reload are missing or changed"
    ids = [i for i, _ in after]
    assert len(ids) == len(set(ids)), "a line shows twice"
    words = " ".join(t for _, t in after).split()
    said_before = " ".join(t for _, t in before).split()
    assert words[: len(said_before)] == said_before, "a word from before the reload was dropped"
    return after


@pytest.mark.timeout(900)
def test_a_call_on_a_phone_survives_a_reload_and_moves_to_a_second_tab(browser: Browser,
                                                                      site: tuple[str, str]) -> None:
    url, _ = site
    context = _context(browser, PHONE)
    try:
        page = context.new_page()
        errors = PageErrors(page)
        page.goto(f"{url}/live")
        page.get_by_label("Call title").fill("Phone call")
        page.get_by_role("button", name="Start call").click()
        expect(page.get_by_role("button", name="End call")).to_be_visible()
        expect(page.locator(NEWEST)).to_be_visible(timeout=240_000)

        # the newest tip is on screen without scrolling, highlighted, and no toast repeats it
        assert page.evaluate("scrollY") == 0 and in_view(page, NEWEST)
        expect(page.get_by_test_id("insight-toast")).to_have_count(0)
        _fits_and_passes_axe(page, "the live call on a phone")
        shot(page, "layout-phone-live", full_page=False)

        # L likes the newest tip, from the keyboard
        newest_id = page.locator(NEWEST).get_attribute("data-insight-id")
        page.locator("body").press("l")
        def like(p: Page) -> Locator:
            card = p.locator(f'[data-insight-id="{newest_id}"]')
            return card.get_by_role("button", name="Helpful", exact=True)

        expect(like(page)).to_have_attribute("aria-pressed", "true")

        # reload mid-call: the page takes the call back; every line once, then new ones
        _more_finals_than(page, 0)
        before = _finals(page)
        page.reload()
        expect(page.get_by_role("button", name="End call")).to_be_visible(timeout=30_000)
        after = _resumed_whole(page, before)
        expect(like(page)).to_have_attribute("aria-pressed", "true")  # the tips came back too
        shot(page, "layout-phone-resumed", full_page=False)

        # the same call on a laptop screen: the newest tip in view, nothing sideways
        page.set_viewport_size(DESKTOP)
        expect(page.locator(NEWEST)).to_be_visible()
        assert in_view(page, NEWEST) and sideways_scroll(page) == 0
        shot(page, "layout-desktop-live", full_page=False)

        # a second tab is offered the call; taking it over stops the first tab
        other = context.new_page()
        other_errors = PageErrors(other)
        other.goto(url)
        offer = other.get_by_test_id("running-call-offer")
        expect(offer).to_contain_text("This call is still running")
        _fits_and_passes_axe(other, "the resume offer")
        offer.get_by_role("button", name="Resume").click()
        expect(other.get_by_role("button", name="End call")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("handed-off")).to_be_visible()
        _more_finals_than(other, len(after) - 1)  # the lines so far, from the server
        other.get_by_role("button", name="End call").click()
        expect(other.get_by_test_id("call-summary")).to_be_visible(timeout=180_000)
        errors.check()
        other_errors.check()
    finally:
        context.close()


def test_api_docs_work_with_no_internet(browser: Browser, site: tuple[str, str]) -> None:
    url, _ = site
    context = browser.new_context(viewport=DESKTOP)
    outside: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", only_this_server)
        page = context.new_page()
        scripts: list[Any] = []
        page.on("response", lambda r: scripts.append(r.url) if r.request.resource_type == "script" else None)
        page.goto(f"{url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Wingman", timeout=30_000)
        expect(page.get_by_text("/api/calls").first).to_be_visible()
        page.goto(f"{url}/redoc")
        expect(page.get_by_role("heading", name=re.compile("Wingman"))).to_be_visible(timeout=30_000)
        assert scripts and all(s.startswith(url) for s in scripts), scripts
        assert outside == [], f"the docs asked outside hosts: {outside}"
    finally:
        context.close()


@pytest.mark.timeout(600)
def test_a_reload_with_the_microphone_blocked_says_so_and_loses_nothing(browser: Browser,
                                                                       site: tuple[str, str]) -> None:
    """The permission is taken away before a reload mid-call: the page says the microphone is
    blocked and offers the call; once allowed, Resume carries on with every line once."""
    url, _ = site
    context = _context(browser, DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{url}/live")
        page.get_by_label("Call title").fill("Blocked mic call")
        page.get_by_role("button", name="Start call").click()
        expect(page.get_by_role("button", name="End call")).to_be_visible()
        _more_finals_than(page, 0)
        before = _finals(page)
        context.clear_permissions()  # headless Chromium then refuses the microphone
        page.reload()
        offer = page.get_by_test_id("running-call-offer")
        blocked = offer.get_by_test_id("offer-mic-blocked")
        expect(blocked).to_contain_text("The microphone is blocked", timeout=30_000)
        shot(page, "layout-reload-mic-blocked", full_page=False)
        context.grant_permissions(["microphone"])
        offer.get_by_role("button", name="Resume").click()
        expect(page.get_by_role("button", name="End call")).to_be_visible(timeout=30_000)
        _resumed_whole(page, before)
        page.get_by_role("button", name="End call").click()
        expect(page.get_by_test_id("call-summary")).to_be_visible(timeout=180_000)
    finally:
        context.close()
