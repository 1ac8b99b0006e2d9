"""Real Chromium: a new user describes their company on the profile page, tries the sample
company and removes it again in one action; the server holds what the page showed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import get_json

pytestmark = pytest.mark.browser


def test_profile_is_saved_and_sample_data_comes_and_goes(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/profile")
    expect(page.get_by_role("heading", name="Company profile")).to_be_visible()
    page.get_by_label("Company name").fill("Fjordline Freight")
    page.get_by_label("What you sell").fill("Route planning for small trucking fleets.")
    page.get_by_label("Products (comma-separated)").fill("Fjord Planner, Fjord Track")
    page.get_by_label("Competitors (comma-separated)").fill("Haulwise, RouteRabbit, Truckly")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    saved = get_json(f"{server_url}/api/profile")["profile"]
    assert saved["name"] == "Fjordline Freight"
    assert [c["name"] for c in saved["competitors"]] == ["Haulwise", "RouteRabbit", "Truckly"]
    assert saved["products"] == ["Fjord Planner", "Fjord Track"]

    page.reload()
    expect(page.get_by_label("Competitors (comma-separated)")).to_have_value("Haulwise, RouteRabbit, Truckly")

    # server_url starts with the sample loaded: one click removes it, the user's profile stays
    page.get_by_role("button", name="Remove sample data").click()
    expect(page.get_by_role("button", name="Try with sample data")).to_be_visible()
    assert get_json(f"{server_url}/api/sample")["loaded"] is False
    assert get_json(f"{server_url}/api/profile")["profile"]["name"] == "Fjordline Freight"

    page.get_by_role("button", name="Try with sample data").click()
    expect(page.get_by_role("button", name="Remove sample data")).to_be_visible()
    assert get_json(f"{server_url}/api/sample")["loaded"] is True
    # the user's own profile is kept when the sample comes in
    assert get_json(f"{server_url}/api/profile")["profile"]["name"] == "Fjordline Freight"
