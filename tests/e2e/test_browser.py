"""Browser end to end: Debian's Chromium drives the built web app against the real Wingman server.

The server is `wingman.app.create_app` under uvicorn on a free loopback port with its data in a
temporary directory. Chromium's fake microphone plays the customer channel of the demo call, so
the whole path runs for real: getUserMedia -> AudioWorklet -> binary `audio-chunk` frames at the
AudioContext's own rate -> speech engine -> agents -> Socket.IO -> React. Screenshots of each
step land in test-artifacts/browser/. Fixtures and helpers: tests/e2e/conftest.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LAPTOP, PageErrors, get_json, shot

pytestmark = pytest.mark.browser

TITLE = "Acme support team evaluation"


# ---------------------------------------------------------------- tests


@pytest.mark.timeout(900)
def test_live_call_transcript_insight_feedback_then_history(page: Page, server_url: str) -> None:
    errors = PageErrors(page)
    page.goto(f"{server_url}/live")
    page.get_by_label("Call title").fill(TITLE)
    page.get_by_role("button", name="Start call").click()
    expect(page.get_by_role("button", name="End call")).to_be_visible()
    expect(page.get_by_text(re.compile(r"mic · \d+\.\d kHz"))).to_be_visible()

    # speech from the fake microphone comes back as final transcript lines
    transcript = page.get_by_role("log", name="Live transcript")
    first_final = transcript.locator("li[data-final=true]").first
    expect(first_final).to_be_visible(timeout=180_000)
    expect(first_final).to_contain_text(re.compile(r"[A-Za-z]{3,}"))
    shot(page, "01-live-transcript")

    # an agent's insight arrives in the sidebar; like it
    sidebar = page.get_by_role("region", name="Live insights")
    expect(sidebar.get_by_test_id("insight").first).to_be_visible(timeout=240_000)
    insight_id = sidebar.get_by_test_id("insight").first.get_attribute("data-insight-id")
    insight = sidebar.locator(f'[data-insight-id="{insight_id}"]')
    like = insight.get_by_role("button", name="Helpful", exact=True)
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    liked_text = insight.locator("p").first.inner_text()
    shot(page, "02-insight-liked")

    spoken = [t for t in transcript.locator("li[data-final=true] p").all_inner_texts() if t.strip()]
    assert spoken, "no final transcript text"

    page.get_by_role("button", name="End call").click()
    summary = page.get_by_test_id("call-summary")
    expect(summary).to_be_visible(timeout=180_000)
    shot(page, "03-call-ended")

    # the server saved the call, its transcript and the like
    calls = get_json(f"{server_url}/api/calls?q=")["items"]
    call = next(c for c in calls if c["title"] == TITLE)
    detail = get_json(f"{server_url}/api/calls/{call['id']}")
    assert detail["end_time"] is not None
    assert detail["transcript"], "transcript not saved"
    liked = [r for r in detail["recommendations"] if r["feedback_status"] == "liked"]
    assert [(r["id"], r["content"]) for r in liked] == [(insight_id, liked_text)]

    # find it in history by a word that was spoken
    word = max(re.findall(r"[A-Za-z]{5,}", " ".join(s["text"] for s in detail["transcript"])), key=len)
    page.get_by_role("link", name="Call history").click()
    page.get_by_role("searchbox", name="Search calls").fill(word)
    expect(page).to_have_url(re.compile(rf"/calls\?q={word}"))
    result = page.get_by_test_id("call-list").get_by_role("link", name=re.compile(TITLE))
    expect(result).to_be_visible()
    shot(page, "04-history-search")

    # the call page shows the transcript, the liked recommendation and the agents' reasoning
    result.click()
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(page.get_by_role("log", name="Transcript").locator("li").first).to_be_visible()
    rec = page.locator(f'[data-insight-id="{insight_id}"]')
    expect(rec.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("agent-runs").locator("li").first).to_be_visible()
    # only the runs that showed a tip (or failed) stay under the filter, each saying so
    page.get_by_label("Only runs that said something or failed").check()
    acted = page.get_by_test_id("agent-runs").locator("li")
    expect(acted.first).to_be_visible()
    for text in acted.all_inner_texts():
        assert re.search(r"\b\d+ tips?\b", text) or "error" in text, text
    page.get_by_label("Only runs that said something or failed").uncheck()
    moments = page.get_by_role("list", name="Key moments").get_by_role("button")
    if moments.count() > 0:
        moments.first.click()
        expect(page.locator("li.wm-flash")).to_have_count(1)

    # feedback can be changed afterwards, and the server keeps the change
    rec.get_by_role("button", name="Not helpful").click()
    expect(rec.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    shot(page, "05-call-detail", full_page=False)  # where the key moment scrolled to
    detail = get_json(f"{server_url}/api/calls/{call['id']}")
    statuses = {r["id"]: r["feedback_status"] for r in detail["recommendations"]}
    assert statuses[insight_id] == "disliked"
    errors.check()


def test_dashboard_and_knowledge_base(page: Page, server_url: str, tmp_path: Path) -> None:
    errors = PageErrors(page)
    page.goto(server_url)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Calls this week")).to_be_visible()
    expect(page.get_by_text("Top objections")).to_be_visible()
    shot(page, "06-dashboard")

    doc = tmp_path / "browser-test-faq.md"
    doc.write_text("# Browser test FAQ\n\nRelay supports call whispering for team leads.\n")
    page.get_by_role("link", name="Knowledge base").click()
    page.get_by_label("Add a document").set_input_files(str(doc))
    page.get_by_role("button", name="Upload").click()
    docs = page.get_by_role("list", name="Documents")
    expect(docs.get_by_text("browser-test-faq.md").first).to_be_visible()
    shot(page, "07-knowledge")

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name=re.compile("Delete .*browser-test-faq")).click()
    expect(page.get_by_role("status").filter(has_text="Deleted")).to_be_visible()
    expect(docs.get_by_text("browser-test-faq.md")).to_have_count(0)
    errors.check()


def test_microphone_denied_is_explained(browser: Browser, server_url: str) -> None:
    context = browser.new_context(viewport=LAPTOP)  # no microphone permission: headless denies
    try:
        page = context.new_page()
        errors = PageErrors(page)
        page.goto(f"{server_url}/live")
        page.get_by_role("button", name="Start call").click()
        alert = page.get_by_test_id("capture-error")
        expect(alert).to_contain_text("Microphone access denied")
        expect(page.get_by_role("button", name="Start call")).to_be_enabled()
        shot(page, "08-mic-denied")
        errors.check()
    finally:
        context.close()


def test_register_sign_in_and_out_when_auth_is_required(browser: Browser, secured_url: str) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = context.new_page()
        errors = PageErrors(page)
        page.goto(secured_url)
        page.get_by_role("tab", name="Create account").click()
        page.get_by_label("Name").fill("Sam Rep")
        page.get_by_label("Email").fill("sam@relay.example")
        page.get_by_label("Password").fill("correct horse battery")
        shot(page, "09-register")
        page.get_by_role("button", name="Create account").last.click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_text("Sam Rep")).to_be_visible()

        token = page.evaluate("localStorage.getItem('wingman.token')")
        assert token and get_json(f"{secured_url}/api/auth/me", token)["email"] == "sam@relay.example"
        page.reload()  # the token survives a reload
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        expect(page.get_by_text("No calls yet")).to_be_visible()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("tab", name="Sign in")).to_be_visible()
        page.get_by_label("Email").fill("sam@relay.example")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").last.click()
        expect(page.get_by_role("alert")).to_be_visible()
        page.get_by_label("Password").fill("correct horse battery")
        page.get_by_role("button", name="Sign in").last.click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        errors.check()
    finally:
        context.close()
