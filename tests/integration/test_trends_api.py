"""GET /api/trends on SQLite and PostgreSQL: every bucket of the range present (zeros too),
calls and minutes per bucket, talk ratio per call, objections and competitors counted once per
call, tips shown and liked; another user's calls never counted; the range validated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from tests.integration.api_support import bearer
from tests.integration.store_support import Clock
from wingman.api import analysis as analysis_api
from wingman.api import auth as auth_api
from wingman.auth import Auth
from wingman.events import Insight, TranscriptFragment
from wingman.settings import Settings
from wingman.store.repos import Store
from wingman.store.trends import trends


async def _call(
    store: Store,
    user: str,
    clock: Clock,
    *,
    minutes: float,
    rep: float,
    customer: float,
    kinds: list[tuple[str, str | None]],
    liked: int = 0,
) -> str:
    call = await store.create_call(workspace_id=user, user_id=user, title=f"call at {clock()}")
    for i, (speaker, seconds) in enumerate((("rep", rep), ("customer", customer))):
        await store.add_segment(
            workspace_id=user, user_id=user,
            call_id=call.id,
            fragment=TranscriptFragment(
                call_id=call.id, text="words", is_final=True, speaker=speaker, channel=i, start=0, end=seconds
            ),
        )
    ids = []
    for kind, entity in kinds:
        insight = Insight(
            call_id=call.id,
            user_id=user,
            agent="coach",
            category="Competitor" if entity else "Tips",
            kind=kind,
            content="tip",
            entity=entity,
        )
        await store.add_recommendation(insight)
        ids.append(insight.id)
    for rid in ids[:liked]:
        await store.set_feedback(workspace_id=user, user_id=user, recommendation_id=rid, status="liked")
    await store.finish_call(
        workspace_id=user, user_id=user,
        call_id=call.id,
        full_transcript="",
        summary="",
        end_time=clock() + timedelta(minutes=minutes),
    )
    return call.id


async def test_trends_per_week_and_per_call(store: Store) -> None:
    clock: Clock = store._clock  # type: ignore[assignment]
    a = (await store.create_user(email="a@x.test", name="A", password_hash=None)).id
    b = (await store.create_user(email="b@x.test", name="B", password_hash=None)).id
    now = clock()  # Wednesday 2025-11-26 15:00 UTC
    clock.now = now - timedelta(days=14)
    first = await _call(
        store,
        a,
        clock,
        minutes=30,
        rep=60,
        customer=40,
        kinds=[("objection.price", None), ("objection.price", None), ("competitor.aircall", "Aircall")],
        liked=2,
    )
    clock.now = now - timedelta(hours=2)
    await _call(store, a, clock, minutes=12, rep=10, customer=30, kinds=[("objection.timing", None)])
    await _call(store, b, clock, minutes=50, rep=1, customer=1, kinds=[("objection.price", None)])
    clock.now = now

    month = await trends(store, user_id=a, range_="month", now=now)
    assert month.bucket == "week" and len(month.buckets) == 5 and month.buckets[0].start.weekday() == 0
    by_week = {bk.start.date().isoformat(): bk for bk in month.buckets}
    two_weeks_ago, this_week = by_week["2025-11-10"], by_week["2025-11-24"]
    assert (two_weeks_ago.calls, two_weeks_ago.minutes, this_week.calls, this_week.minutes) == (
        1,
        30.0,
        1,
        12.0,
    )
    assert two_weeks_ago.objections == {"price": 1} and two_weeks_ago.competitors == {"Aircall": 1}
    assert (two_weeks_ago.tips_shown, two_weeks_ago.tips_liked) == (3, 2)
    assert this_week.objections == {"timing": 1} and by_week["2025-11-17"].calls == 0
    assert [(c.id == first, c.rep_talk_ratio) for c in month.calls] == [(True, 0.6), (False, 0.25)]

    week = await trends(store, user_id=a, range_="week", now=now)
    assert week.bucket == "day" and len(week.buckets) == 7 and sum(bk.calls for bk in week.buckets) == 1
    empty = await trends(
        store,
        user_id=(await store.create_user(email="c@x.test", name="C", password_hash=None)).id,
        range_="quarter",
        now=now,
    )
    assert len(empty.buckets) == 14 and empty.calls == [] and all(bk.calls == 0 for bk in empty.buckets)


async def test_trends_route_validates_the_range(store: Store, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", auth="required")
    app = FastAPI()
    app.include_router(auth_api.router)
    app.include_router(analysis_api.router)
    app.state.container = type(
        "C", (), {"settings": settings, "store": store, "auth": Auth(store=store, settings=settings)}
    )()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.post(
            "/api/auth/register", json={"email": "r@x.test", "name": "R", "password": "correct horse"}
        )
        auth = bearer(r.json()["token"])
        ok = await http.get("/api/trends", params={"range": "week"}, headers=auth)
        assert ok.status_code == 200 and ok.json()["bucket"] == "day" and len(ok.json()["buckets"]) == 7
        assert (await http.get("/api/trends", params={"range": "year"}, headers=auth)).status_code == 422
        assert (await http.get("/api/trends")).status_code == 401


async def _member(store: Store, admin_id: str, workspace_id: str, email: str, role: str,
                  manager: str | None = None) -> str:
    _invitation, token = await store.create_invitation(
        workspace_id=workspace_id, email=email, role=role, invited_by=admin_id, ttl_seconds=3600,
        manager_id=manager,
    )
    name = email.split("@")[0].title()
    return (await store.accept_invitation(token=token, name=name, password_hash="x")).id


async def test_trends_per_rep_follow_roles(store: Store, tmp_path: Path) -> None:
    """Acme: Ada (admin), Max (manager of Ria), Ria and Rob (reps); Olga has a workspace of her
    own. A rep sees only their own trends; a manager their reps' (team: one row per rep) and
    no one else's; an admin every member's; nothing crosses workspaces (404 like a missing rep)."""
    clock: Clock = store._clock  # type: ignore[assignment]
    ada = await store.create_user(email="ada@acme.test", name="Ada", password_hash="x", new_workspace="Acme")
    ws = ada.workspace_id
    max_ = await _member(store, ada.id, ws, "max@acme.test", "manager")
    ria = await _member(store, ada.id, ws, "ria@acme.test", "rep", max_)
    rob = await _member(store, ada.id, ws, "rob@acme.test", "rep")
    olga = await store.create_user(email="olga@other.test", name="Olga", password_hash="x")
    now = clock()
    clock.now = now - timedelta(days=3)
    for who, count in ((ria, 2), (rob, 1), (ada.id, 1)):
        for _ in range(count):
            call = await store.create_call(workspace_id=ws, user_id=who, title=f"{who} call")
            await store.add_recommendation(Insight(
                call_id=call.id, user_id=who, workspace_id=ws, agent="coach", category="Tips",
                kind="objection.price", content="tip",
            ))
            await store.finish_call(workspace_id=ws, user_id=who, call_id=call.id, full_transcript="",
                                    summary="", end_time=clock() + timedelta(minutes=10))
    await store.create_call(workspace_id=olga.workspace_id, user_id=olga.id, title="olga call")
    clock.now = now

    settings = Settings(data_dir=tmp_path / "data", auth="required")
    auth = Auth(store=store, settings=settings)
    app = FastAPI()
    app.include_router(analysis_api.router)
    app.state.container = type("C", (), {"settings": settings, "store": store, "auth": auth})()
    users = {u.id: u for u in await store.list_members(workspace_id=ws)}
    users[olga.id] = olga
    headers = {uid: bearer(auth.issue_token(u)[0]) for uid, u in users.items()}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        async def get(who: str, rep: str | None = None) -> httpx.Response:
            params = {"range": "week", **({"rep": rep} if rep else {})}
            return await http.get("/api/trends", params=params, headers=headers[who])

        def calls(r: httpx.Response) -> int:
            assert r.status_code == 200, r.text
            return sum(b["calls"] for b in r.json()["buckets"])

        # a rep: their own trends, asked for plainly or by their id; no one else's, no team
        assert calls(await get(ria)) == 2 and calls(await get(ria, ria)) == 2
        assert (await get(ria)).json()["reps"] == []
        for other in (rob, "team"):
            r = await get(ria, other)
            assert r.status_code == 403 and r.json()["detail"] == "a rep sees their own trends only"
        # a manager: their reps, one row each, and no rep of anyone else
        team = await get(max_, "team")
        assert calls(team) == 2 and team.json()["scope"] == "team"
        assert [(r["name"], r["calls"], r["objections"], r["minutes"]) for r in team.json()["reps"]] == [
            ("Ria", 2, 2, 20.0)
        ]
        assert sum(team.json()["reps"][0]["calls_per_bucket"]) == 2
        assert calls(await get(max_, ria)) == 2 and calls(await get(max_)) == 0
        for hidden in (rob, ada.id, olga.id, "no-such-user"):
            r = await get(max_, hidden)
            assert r.status_code == 404 and r.json()["detail"] == "no such rep in your team"
        # an admin: everyone of the workspace, and still nothing of another workspace
        everyone = await get(ada.id, "team")
        rows = {r["name"]: r["calls"] for r in everyone.json()["reps"]}
        assert calls(everyone) == 4 and rows == {"Ada": 1, "Max": 0, "Ria": 2, "Rob": 1}
        assert calls(await get(ada.id, rob)) == 1
        assert (await get(ada.id, olga.id)).status_code == 404
        olgas = await get(olga.id, "team")  # her own workspace: her one call, none of Acme's
        assert calls(olgas) == 1 and [r["name"] for r in olgas.json()["reps"]] == ["Olga"]
