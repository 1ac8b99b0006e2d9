"""Call history on SQLite and PostgreSQL: listing, paging, full-text search and stats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.store_support import Clock
from wingman.events import Insight, TranscriptFragment
from wingman.store.records import CountItem, UserRecord, Viewer
from wingman.store.repos import Store
from wingman.store.snippets import parts


async def new_user(store: Store, name: str) -> UserRecord:
    return await store.create_user(email=f"{name}@example.com", name=name, password_hash=None)


async def say(store: Store, user: UserRecord, call_id: str, speaker: str, text: str,
              start: float, end: float) -> None:
    frag = TranscriptFragment(call_id=call_id, text=text, is_final=True, speaker=speaker,
                              start=start, end=end)
    assert await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call_id,
            fragment=frag)


async def tip(store: Store, user: UserRecord, call_id: str, kind: str, *,
              entity: str | None = None, category: str = "Objection Handling") -> str:
    rec = Insight(call_id=call_id, user_id=user.id, agent="coach", category=category, kind=kind,
                  content="tip", entity=entity)
    assert await store.add_recommendation(rec)
    return rec.id


async def search(store: Store, user: UserRecord, q: str) -> list[str]:
    page = await store.list_calls(viewer=Viewer.own(user), q=q)
    assert page.total == len(page.items)
    return sorted(c.title for c in page.items)


async def test_list_is_newest_first_paged_and_scoped(store: Store, clock: Clock) -> None:
    ana, bob = await new_user(store, "ana"), await new_user(store, "bob")
    for i in range(5):
        await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title=f"call {i}")
        clock.advance(minutes=1)
    await store.create_call(workspace_id=bob.workspace_id, user_id=bob.id, title="bob's call")
    page = await store.list_calls(viewer=Viewer.own(ana), limit=2, offset=1)
    assert [c.title for c in page.items] == ["call 3", "call 2"] and page.total == 5
    assert (await store.list_calls(viewer=Viewer.own(ana), offset=10)).items == []
    assert [c.title for c in (await store.list_calls(viewer=Viewer.own(bob))).items] == ["bob's call"]


async def test_search_finds_titles_live_transcripts_and_summaries(store: Store) -> None:
    ana, bob = await new_user(store, "ana"), await new_user(store, "bob")
    live = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Dana at Acme")
    await say(store, ana, live.id, "customer", "Honestly, your price seems high.", 10, 13)
    await say(store, ana, live.id, "customer", "We're also talking to Aircall.", 14, 16)
    done = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Renewal with Globex")
    await store.finish_call(workspace_id=ana.workspace_id, user_id=ana.id, call_id=done.id,
                            full_transcript="customer: Is your platform SOC 2 compliant?",
                            summary="They need a Salesforce integration before signing.")
    theirs = await store.create_call(workspace_id=bob.workspace_id, user_id=bob.id,
            title="Bob's Aircall comparison")
    await say(store, bob, theirs.id, "customer", "Your price seems high too.", 0, 2)

    assert await search(store, ana, "acme") == ["Dana at Acme"]  # title
    assert await search(store, ana, "price") == ["Dana at Acme"]  # a call still in progress
    assert await search(store, ana, "pricing") == ["Dana at Acme"]  # stemmed
    assert await search(store, ana, "airc") == ["Dana at Acme"]  # prefix; not bob's call
    assert await search(store, ana, "salesforce") == ["Renewal with Globex"]  # summary
    assert await search(store, ana, "compliant") == ["Renewal with Globex"]  # full transcript
    assert await search(store, ana, "dana price aircall") == ["Dana at Acme"]  # across segments
    assert await search(store, ana, "price salesforce") == []  # every word must match
    assert await search(store, ana, "the price") == ["Dana at Acme"]  # stop words ignored
    assert await search(store, ana, "zebra") == []
    assert await search(store, bob, "price") == ["Bob's Aircall comparison"]


async def test_search_survives_hostile_queries(store: Store) -> None:
    ana = await new_user(store, "ana")
    call = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Price talk")
    await say(store, ana, call.id, "customer", "price is high", 0, 1)
    for q in ['"price', "price AND (", "NEAR(price", "price*:", "'; DROP TABLE users; --",
              "pri:* & !x", "-price", "price OR"]:
        assert await search(store, ana, q) in ([], ["Price talk"]), q
    assert await search(store, ana, "  ") == ["Price talk"]  # no words: everything
    assert await search(store, ana, "%%%") == ["Price talk"]


async def test_stats(store: Store, clock: Clock) -> None:
    ana, bob = await new_user(store, "ana"), await new_user(store, "bob")
    empty = await store.stats(viewer=Viewer.own(ana))
    assert (empty.total_calls, empty.insights_shown, empty.liked_share) == (0, 0, None)
    assert empty.avg_rep_talk_ratio is None and empty.top_objections == []

    clock.advance(days=-7)  # last week: counts in totals only
    old = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="old")
    await store.finish_call(workspace_id=ana.workspace_id, user_id=ana.id, call_id=old.id,
            full_transcript="", summary="",
                            end_time=clock() + timedelta(minutes=60))
    await tip(store, ana, old.id, "objection.price")
    await tip(store, ana, old.id, "competitor.dialpad", entity="Dialpad", category="Competitor")
    clock.advance(days=7)

    one = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="one")
    await store.finish_call(workspace_id=ana.workspace_id, user_id=ana.id, call_id=one.id,
            full_transcript="", summary="",
                            end_time=clock() + timedelta(minutes=30))
    await say(store, ana, one.id, "rep", "hi", 0, 30)
    await say(store, ana, one.id, "customer", "hello", 30, 100)  # rep 30%
    liked = await tip(store, ana, one.id, "objection.price")
    disliked = await tip(store, ana, one.id, "objection.timing")
    await tip(store, ana, one.id, "competitor.aircall", entity="Aircall", category="Competitor")
    await tip(store, ana, one.id, "competitor.aircall2", entity="Aircall", category="Competitor")
    await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=liked,
            status="liked")
    await store.set_feedback(workspace_id=ana.workspace_id, user_id=ana.id, recommendation_id=disliked,
            status="disliked")

    live = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id,
            title="live")  # not finished: no minutes
    await say(store, ana, live.id, "rep", "hi", 0, 50)
    await say(store, ana, live.id, "customer", "yo", 50, 100)  # rep 50%
    await tip(store, ana, live.id, "competitor.aircall", entity="Aircall", category="Competitor")
    await store.create_call(workspace_id=bob.workspace_id, user_id=bob.id,
            title="bob")  # another tenant: never counted

    stats = await store.stats(viewer=Viewer.own(ana))
    assert (stats.calls_this_week, stats.minutes_this_week, stats.total_calls) == (2, 30.0, 3)
    assert (stats.insights_shown, stats.insights_liked, stats.insights_disliked) == (7, 1, 1)
    # over the rated tips (1 liked, 1 disliked), not the 7 shown
    assert (stats.insights_rated, stats.liked_share) == (2, pytest.approx(1 / 2))
    assert stats.top_objections == [CountItem(name="price", count=2),
                                    CountItem(name="timing", count=1)]
    assert stats.top_competitors == [CountItem(name="Aircall", count=2),
                                     CountItem(name="Dialpad", count=1)]
    assert stats.avg_rep_talk_ratio == pytest.approx(0.4)
    bobs = await store.stats(viewer=Viewer.own(bob))
    assert (bobs.total_calls, bobs.insights_shown) == (1, 0)


async def test_search_results_carry_the_matching_words_marked(store: Store) -> None:
    ana = await new_user(store, "ana")
    live = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Discovery with Acme")
    await say(store, ana, live.id, "rep", "thanks for joining today", 0, 2)
    await say(store, ana, live.id, "customer", "we already pay Aircall for the phones", 2, 5)
    done = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Renewal")
    await store.finish_call(workspace_id=ana.workspace_id, user_id=ana.id, call_id=done.id,
            full_transcript="rep: hello",
                            summary="They compared us with Aircall on price.")
    titled = await store.create_call(workspace_id=ana.workspace_id, user_id=ana.id, title="Aircall switch")

    page = await store.list_calls(viewer=Viewer.own(ana), q="aircall")
    assert {c.id for c in page.items} == {live.id, done.id, titled.id}
    # a transcript line for the live call, the summary for the finished one, none for a title
    assert parts(page.snippets[live.id]) == [("we already pay ", False), ("Aircall", True),
                                             (" for the phones", False)]
    summary = parts(page.snippets[done.id])
    assert ("Aircall", True) in summary  # a text this short comes whole
    # (ts_headline drops the final full stop)
    assert "".join(t for t, _ in summary).rstrip(".") == "They compared us with Aircall on price"
    assert titled.id not in page.snippets
    assert (await store.list_calls(viewer=Viewer.own(ana))).snippets == {}  # no search, no snippets


def test_snippet_parts() -> None:
    assert parts("a \x02b\x03 c \x02d\x03") == [("a ", False), ("b", True), (" c ", False), ("d", True)]
    assert parts("no match") == [("no match", False)]
