"""Browser end to end for what comes after calls: real Chromium on the built web app against the
real server. The dashboard's trend charts (empty, then with calls, over week, month and
quarter), the call page's sentiment chart (with data and empty), connecting HubSpot through its
OAuth consent page (the stand-in, in a thread) and syncing a call, and the follow-up draft."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot
from tests.fakes.hubspot_server import FakeHubSpot
from tests.server import running_server
from wingman.events import Insight, TranscriptFragment
from wingman.settings import Settings
from wingman.store.accounts import LOCAL_USER_ID
from wingman.store.repos import Store

pytestmark = pytest.mark.browser
CHARTS = ("chart-calls", "chart-talk", "chart-objections", "chart-competitors", "chart-tips")


@contextmanager
def hubspot_in_thread() -> Iterator[FakeHubSpot]:
    """The HubSpot stand-in on its own event loop, so the sync-API browser test can use it."""
    ready, holder = threading.Event(), {}

    def run() -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            async with FakeHubSpot() as hs:
                holder.update(hs=hs, loop=loop, stop=asyncio.Event())
                ready.set()
                await holder["stop"].wait()

        loop.run_until_complete(main())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["hs"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, web_dist: Path
) -> Iterator[tuple[str, Settings, FakeHubSpot]]:
    with hubspot_in_thread() as hs:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("wingman-after"),
            web_dist=web_dist,
            host="127.0.0.1",
            auth="local",
            sample_knowledge=False,
            hubspot_client_id=hs.oauth.client_id,
            hubspot_client_secret=hs.oauth.client_secret,
            hubspot_auth_url=hs.base_url,
            hubspot_api_url=hs.base_url,
            crm_poll_seconds=0.2,
        )
        with running_server(settings) as url:
            yield url, settings, hs


def seed_call(
    settings: Settings,
    *,
    title: str,
    lines: list[tuple[str, str]],
    kinds: list[tuple[str, str | None]],
    liked: int = 0,
) -> str:
    """A finished call of the local user, written to the server's database."""

    async def main() -> str:
        store = Store(url=settings.effective_database_url)
        try:
            call = await store.create_call(workspace_id=LOCAL_USER_ID, user_id=LOCAL_USER_ID, title=title)
            for i, (speaker, text) in enumerate(lines):
                await store.add_segment(
                    workspace_id=LOCAL_USER_ID, user_id=LOCAL_USER_ID,
                    call_id=call.id,
                    fragment=TranscriptFragment(
                        call_id=call.id,
                        text=text,
                        is_final=True,
                        speaker=speaker,
                        channel=int(speaker == "customer"),
                        start=i * 6.0,
                        end=i * 6.0 + 5,
                    ),
                )
            ids = []
            for kind, entity in kinds:
                tip = Insight(
                    call_id=call.id,
                    user_id=LOCAL_USER_ID,
                    agent="coach",
                    kind=kind,
                    content=f"tip {kind}",
                    category="Competitor" if entity else "Objection Handling",
                    entity=entity,
                )
                await store.add_recommendation(tip)
                ids.append(tip.id)
            for rid in ids[:liked]:
                await store.set_feedback(workspace_id=LOCAL_USER_ID, user_id=LOCAL_USER_ID,
                        recommendation_id=rid, status="liked")
            await store.finish_call(
                workspace_id=LOCAL_USER_ID, user_id=LOCAL_USER_ID,
                call_id=call.id,
                full_transcript="",
                summary=f"{title}: they want a pilot.",
                action_items=["Send the pilot plan by Friday"],
                end_time=call.start_time + timedelta(minutes=25),
            )
            return call.id
        finally:
            await store.aclose()

    # Playwright's sync API runs a loop in this thread: the store gets a thread of its own
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _charts(page: Page, empty: bool) -> None:
    for test_id in CHARTS:
        chart = page.get_by_test_id(test_id)
        expect(chart).to_have_attribute("data-empty", "true" if empty else "false")
        if not empty:
            expect(chart.locator("svg.recharts-surface").first).to_be_visible()


def test_dashboard_trends_empty_then_with_calls(page: Page, world: Any) -> None:
    url, settings, _ = world
    page.goto(url)
    expect(page.get_by_role("heading", name="Trends")).to_be_visible()
    _charts(page, empty=True)
    shot(page, "after-01-trends-empty")
    seed_call(
        settings,
        title="Initech - discovery",
        kinds=[("objection.price", None), ("competitor.aircall", "Aircall")],
        lines=[("rep", "What made you look?"), ("customer", "Our calls drop a lot.")],
        liked=1,
    )
    seed_call(
        settings,
        title="Globex - demo",
        kinds=[("objection.timing", None)],
        lines=[("rep", "Here is the dashboard."), ("customer", "That looks great.")],
    )
    page.reload()
    _charts(page, empty=False)
    expect(page.get_by_test_id("chart-objections").locator(".recharts-legend-item")).to_have_count(2)
    expect(page.get_by_test_id("chart-talk").locator(".recharts-line-dot")).to_have_count(2)
    shot(page, "after-02-trends-month")
    for name in ("Week", "Quarter"):
        page.get_by_role("group", name="Range").get_by_role("button", name=name).click()
        expect(page.get_by_role("button", name=name)).to_have_attribute("aria-pressed", "true")
        _charts(page, empty=False)
    shot(page, "after-03-trends-quarter")


def test_call_page_sentiment_crm_sync_and_follow_up(page: Page, world: Any) -> None:
    url, settings, hs = world
    company = hs.add("companies", {"name": "Umbrella"})
    call_id = seed_call(
        settings,
        title="Umbrella - pricing",
        kinds=[],
        lines=[
            ("customer", "This looks great so far."),
            ("rep", "It is forty dollars a seat."),
            ("customer", "Honestly, that's way too expensive for us."),
            ("customer", "Send the details to kim@umbrella.test."),
        ],
    )
    quiet = seed_call(
        settings, title="Internal prep", kinds=[], lines=[("rep", "Just me practising the pitch.")]
    )
    # connect HubSpot: the consent page (the stand-in) sends the browser back to our callback
    page.goto(f"{url}/settings")
    page.get_by_test_id("crm-hubspot").get_by_role("button", name="Connect HubSpot").click()
    expect(page.get_by_role("status").filter(has_text="Connected HubSpot.")).to_be_visible()
    expect(page.get_by_test_id("crm-hubspot").get_by_text("connected", exact=True)).to_be_visible()
    shot(page, "after-04-settings-connected")

    page.goto(f"{url}/calls/{call_id}")
    chart = page.get_by_test_id("chart-sentiment")
    expect(chart).to_have_attribute("data-empty", "false")
    expect(chart.locator(".recharts-line-dot")).to_have_count(3)
    chart.locator(".recharts-line-dot").nth(1).click()
    expect(page.locator("li.wm-flash")).to_have_count(1)
    draft = page.get_by_role("textbox", name="Follow-up email")
    expect(draft).to_contain_text("Send the pilot plan by Friday")
    expect(page.get_by_text(re.compile(r"To: kim@umbrella\.test"))).to_be_visible()
    draft.fill("Hi Kim, edited.")
    expect(draft).to_have_value("Hi Kim, edited.")
    # the call ended before HubSpot was connected: sync it now, by the button
    panel = page.get_by_test_id("crm-sync")
    panel.get_by_role("button", name="Sync now").click()
    expect(panel.get_by_text("synced to HubSpot (Umbrella)")).to_be_visible(timeout=30_000)
    assert [n["associations"] for n in hs.created("notes")] == [[("companies", company)]]
    shot(page, "after-05-call-sentiment-crm")

    page.goto(f"{url}/calls/{quiet}")
    expect(page.get_by_test_id("chart-sentiment")).to_have_attribute("data-empty", "true")


def test_call_page_summary_is_edited_kept_on_reload_and_reverted(page: Page, world: Any) -> None:
    url, settings, _ = world
    call_id = seed_call(
        settings, title="Hooli - discovery", kinds=[],
        lines=[("customer", "We need routing for twelve agents."), ("rep", "I will send the pilot plan.")],
    )
    page.goto(f"{url}/calls/{call_id}")
    summary = page.get_by_test_id("call-detail-summary")
    expect(summary).to_have_text("Hooli - discovery: they want a pilot.")
    page.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Summary").fill("Hooli: 12 agents, routing; pilot agreed for January.")
    items = "Rep: send the pilot contract by Friday"
    page.get_by_role("textbox", name="Action items, one per line").fill(items)
    page.get_by_role("button", name="Save").click()
    expect(summary).to_have_text("Hooli: 12 agents, routing; pilot agreed for January.")
    # the follow-up email is drafted again from the edited summary, and after a reload too
    expect(page.get_by_role("textbox", name="Follow-up email")).to_contain_text("pilot agreed for January")
    page.reload()
    expect(summary).to_have_text("Hooli: 12 agents, routing; pilot agreed for January.")
    expect(page.get_by_test_id("call-detail-action-items")).to_have_text(items)
    expect(page.get_by_test_id("summary-edited")).to_contain_text("Edited")
    expect(page.get_by_role("textbox", name="Follow-up email")).to_contain_text("pilot agreed for January")
    shot(page, "after-06-summary-edited")
    page.get_by_role("button", name="Revert to generated").click()
    expect(summary).to_have_text("Hooli - discovery: they want a pilot.")
    page.reload()
    expect(summary).to_have_text("Hooli - discovery: they want a pilot.")
    expect(page.get_by_test_id("summary-edited")).to_have_count(0)
