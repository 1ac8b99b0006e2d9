"""Browser end to end for the per-rep trends chart a manager or admin sees: real Chromium on
the built web app against the real server. The local user (the workspace's admin) picks
"Everyone": with no calls the calls-per-rep chart shows its empty state; after a finished call
of the admin and two of a rep of the workspace it draws one line per member with the calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import shot
from tests.server import running_server
from wingman.events import TranscriptFragment
from wingman.settings import Settings
from wingman.store.accounts import LOCAL_USER_ID
from wingman.store.repos import Store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[tuple[str, Settings]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("wingman-trends-team"), web_dist=web_dist,
                        host="127.0.0.1", auth="local", sample_knowledge=False, agents_in_process=False)
    with running_server(settings) as url:
        yield url, settings


def seed(settings: Settings) -> None:
    """A rep in the local workspace; one finished call of the admin and two of the rep."""

    async def main() -> None:
        store = Store(url=settings.effective_database_url)
        try:
            rep = await store.create_user(email="rita@wingman.test", name="Rita Rep", password_hash=None,
                                          workspace_id=LOCAL_USER_ID, role="rep")
            for user_id, title in ((LOCAL_USER_ID, "Initech - discovery"), (rep.id, "Globex - demo"),
                                   (rep.id, "Umbrella - pricing")):
                call = await store.create_call(workspace_id=LOCAL_USER_ID, user_id=user_id, title=title)
                await store.add_segment(
                    workspace_id=LOCAL_USER_ID, user_id=user_id, call_id=call.id,
                    fragment=TranscriptFragment(call_id=call.id, text="Our calls drop a lot.", is_final=True,
                                                speaker="customer", channel=1, start=0.0, end=4.0),
                )
                await store.finish_call(workspace_id=LOCAL_USER_ID, user_id=user_id, call_id=call.id,
                                        full_transcript="", summary=f"{title}: a pilot.", action_items=[],
                                        end_time=call.start_time + timedelta(minutes=20))
        finally:
            await store.aclose()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        pool.submit(asyncio.run, main()).result()


def test_calls_per_rep_chart_empty_then_one_line_per_rep(page: Page, world: tuple[str, Settings]) -> None:
    url, settings = world
    page.goto(url)
    expect(page.get_by_role("heading", name="Trends")).to_be_visible()
    page.get_by_label("Whose").select_option(label="Everyone")
    chart = page.get_by_test_id("chart-reps")
    expect(chart).to_have_attribute("data-empty", "true")
    expect(chart).to_contain_text("None of your reps had a call in this range.")
    shot(page, "trends-team-01-empty")

    seed(settings)
    page.reload()
    page.get_by_label("Whose").select_option(label="Everyone")
    expect(chart).to_have_attribute("data-empty", "false")
    expect(chart.locator("svg.recharts-surface").first).to_be_visible()
    legend = chart.locator(".recharts-legend-item")
    expect(legend).to_have_count(2)
    expect(legend.filter(has_text="Rita Rep")).to_have_count(1)
    expect(chart.locator(".recharts-line-curve")).to_have_count(2)
    shot(page, "trends-team-02-with-calls")
