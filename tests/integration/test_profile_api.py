"""REST /api/profile and /api/sample over the real Store, Auth and knowledge base, per tenant;
the profile table on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.api_support import RestClient
from tests.integration.test_knowledge_api import knowledge_client
from wingman.api import profile as profile_api
from wingman.profile import CompanyProfile
from wingman.sample import sample_profile
from wingman.settings import Settings
from wingman.store.repos import Store

PROFILE: dict[str, Any] = {
    "name": "Lumen Ledger",
    "sells": "Accounting software for small firms: invoicing, payroll and bank reconciliation.",
    "products": ["Ledger Core", "Ledger Payroll"],
    "competitors": [{"name": "Tallybook"}, {"name": "SumIt", "battlecard": None}],
    "pricing_notes": "Core is 19 dollars a month.",
}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[RestClient]:
    settings = Settings(data_dir=tmp_path / "data", auth="required", competitors=["Fallback Co"],
                        open_signup=True)  # a workspace each
    async with knowledge_client(tmp_path, settings, profile_api.router) as c:
        yield c


async def test_profile_is_per_tenant_validated_and_replaced(client: RestClient) -> None:
    ana = await client.register("ana")
    bob = await client.register("bob")
    empty = (await client.http.get("/api/profile", headers=ana)).json()
    assert empty == {"profile": None, "source": None, "default_competitors": ["Fallback Co"]}
    r = await client.http.put("/api/profile", headers=ana, json=PROFILE)
    assert r.status_code == 200, r.text
    assert r.json()["profile"]["competitors"][1] == {"name": "SumIt", "battlecard": None}
    got = (await client.http.get("/api/profile", headers=ana)).json()
    assert got["profile"]["name"] == "Lumen Ledger" and got["source"] == "user"
    assert (await client.http.get("/api/profile", headers=bob)).json()["profile"] is None
    me = (await client.http.get("/api/auth/me", headers=ana)).json()
    assert await client.container.profiles.competitors(me["id"]) == ["Tallybook", "SumIt"]
    changed = {**PROFILE, "competitors": [{"name": "Tallybook"}]}
    assert (await client.http.put("/api/profile", headers=ana, json=changed)).status_code == 200
    assert (await client.http.get("/api/profile", headers=ana)).json()["profile"]["competitors"] == [
        {"name": "Tallybook", "battlecard": None}]


@pytest.mark.parametrize(("change", "where"), [
    ({"name": "  "}, "name"),
    ({"name": "x" * 65}, "name"),
    ({"competitors": [{"name": "Tallybook"}, {"name": "tallybook"}]}, "competitors[1]"),
    ({"products": ["Lumen Ledger"]}, "products[0]"),
    ({"competitors": [{"name": "Tallybook", "battlecard": "nowhere.md"}]}, "competitors[0].battlecard"),
    ({"sells": "x" * 2001}, "sells"),
    ({"colour": "blue"}, "colour"),
])
async def test_bad_profiles_get_a_clear_error_and_change_nothing(
    client: RestClient, change: dict[str, Any], where: str
) -> None:
    ana = await client.register("ana")
    assert (await client.http.put("/api/profile", headers=ana, json=PROFILE)).status_code == 200
    r = await client.http.put("/api/profile", headers=ana, json={**PROFILE, **change})
    assert r.status_code == 422, r.text
    assert where in r.text
    assert (await client.http.get("/api/profile", headers=ana)).json()["profile"] == PROFILE | {
        "competitors": [{"name": "Tallybook", "battlecard": None}, {"name": "SumIt", "battlecard": None}]}


async def test_sample_data_loads_on_request_and_goes_in_one_action(client: RestClient) -> None:
    ana = await client.register("ana")
    own = b"# Lumen Ledger pricing\n\nLedger Core costs 19 dollars a month per firm.\n"
    r = await client.http.post("/api/knowledge", headers=ana,
                               files={"file": ("ledger-pricing.md", own, "text/markdown")})
    assert r.status_code == 201
    assert (await client.http.get("/api/sample", headers=ana)).json()["loaded"] is False
    loaded = (await client.http.post("/api/sample", headers=ana)).json()
    assert loaded["loaded"] and loaded["profile"] and loaded["documents"] == 8
    assert (await client.http.post("/api/sample", headers=ana)).json()["documents"] == 0  # once
    profile = (await client.http.get("/api/profile", headers=ana)).json()
    assert profile["source"] == "sample" and profile["profile"]["name"] == sample_profile().name
    docs = (await client.http.get("/api/knowledge", headers=ana)).json()["items"]
    assert len(docs) == 9
    removed = (await client.http.delete("/api/sample", headers=ana)).json()
    assert removed == {"loaded": False, "documents": 8, "profile": True}
    docs = (await client.http.get("/api/knowledge", headers=ana)).json()["items"]
    assert [d["filename"] for d in docs] == ["ledger-pricing.md"]  # the user's own stays
    assert (await client.http.get("/api/profile", headers=ana)).json()["profile"] is None

    # a profile the user wrote is never replaced or removed by the sample
    assert (await client.http.put("/api/profile", headers=ana, json=PROFILE)).status_code == 200
    assert (await client.http.post("/api/sample", headers=ana)).json()["profile"] is False
    assert (await client.http.delete("/api/sample", headers=ana)).json()["profile"] is False
    assert (await client.http.get("/api/profile", headers=ana)).json()["profile"]["name"] == "Lumen Ledger"


async def test_profile_rows_round_trip(db_url: str) -> None:
    store = Store(url=db_url)
    await store.migrate()
    try:
        profile = CompanyProfile.model_validate(PROFILE)
        assert await store.get_profile(tenant_id="t1") is None
        await store.put_profile(tenant_id="t1", profile=profile, source="sample")
        await store.put_profile(tenant_id="t1", profile=profile)  # replaced, one row
        record = await store.get_profile(tenant_id="t1")
        assert record is not None and record.profile == profile and record.source == "user"
        assert await store.get_profile(tenant_id="t2") is None
        assert not await store.delete_profile(tenant_id="t1", source="sample")
        assert await store.delete_profile(tenant_id="t1")
        assert await store.get_profile(tenant_id="t1") is None
    finally:
        await store.aclose()
