"""Privacy: redaction of card numbers, phone numbers and emails (WINGMAN_REDACT=true) before
anything is shown, stored or sent to a cloud provider; retention that deletes old calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, SecretStr
from typer.testing import CliRunner

from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.openai_server import FakeOpenAi
from tests.fakes.scripted_audio import Script, Segment
from tests.fakes.scripted_stt import ScriptedStt
from tests.security.support import (
    connect,
    eventually,
    quiet_settings,
    register,
    script_of,
    scripted,
    serve,
    stream,
)
from wingman.container import Container
from wingman.events import TOPIC_INSIGHTS, AgentRun, Insight, TranscriptFragment, utcnow
from wingman.llm.base import Llm, LlmRequest, T
from wingman.privacy import (
    CARD,
    EMAIL,
    PHONE,
    RedactingLlm,
    RedactingSearch,
    purge_expired_calls,
    redact_insight,
    redact_text,
)
from wingman.search.base import Search, SearchHit
from wingman.store.records import Viewer
from wingman.store.repos import Store
from wingman.stt.base import SpeechToText

PII = ["4242 4242 4242 4242", "4242424242424242", "dana@acme.com", "555-0100", "555 0100"]

# -- the rules -----------------------------------------------------------------------------------

REDACTED = [
    ("my card is 4242 4242 4242 4242 thanks", f"my card is {CARD} thanks"),
    ("card 4111-1111-1111-1111.", f"card {CARD}."),
    ("amex 3782 822463 10005", f"amex {CARD}"),
    ("4000056655665556", CARD),
    ("mail dana@acme.com or Dana.Lee+sales@mail.acme.co.uk", f"mail {EMAIL} or {EMAIL}"),
    ("call (415) 555-0100 today", f"call {PHONE} today"),
    ("my cell is +44 20 7946 0958", f"my cell is {PHONE}"),
    ("it's 415.555.0100", f"it's {PHONE}"),
    ("dial 4155550100", f"dial {PHONE}"),
    ("+1 415 555 0100 ext", f"{PHONE} ext"),
]
KEPT = [
    "Around thirty dollars per seat. Does Relay integrate with Salesforce?",
    "we have 40 agents and 2 offices",
    "the quote was 1,200,000 dollars in 2024",
    "order 4242 4242 4242 4241",  # fails the Luhn check: not a card
    "order number 1234567890123456",
    "SOC 2 Type 2, version 3.14.15, on 2024-05-01",
    "between 9 and 5, 10-20 seats",
    "ticket 12345 67890",
]


@pytest.mark.parametrize(("said", "stored"), REDACTED)
def test_sensitive_numbers_and_emails_are_redacted(said: str, stored: str) -> None:
    assert redact_text(said) == stored


@pytest.mark.parametrize("said", KEPT)
def test_ordinary_numbers_are_left_alone(said: str) -> None:
    assert redact_text(said) == said


def test_insights_are_redacted_and_keep_their_id() -> None:
    insight = Insight(call_id="c", user_id="u", agent="qa", category="Question", kind="qa.contact",
                      content="Send it to dana@acme.com", context_snippet="card 4242 4242 4242 4242")
    clean = redact_insight(insight)
    assert clean.id == insight.id
    assert clean.content == f"Send it to {EMAIL}" and clean.context_snippet == f"card {CARD}"


class Answer(BaseModel):
    text: str


class Recording(Llm):
    name = "cloud"

    def __init__(self) -> None:
        self.seen: list[LlmRequest[Any]] = []

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        self.seen.append(request)
        return request.schema.model_validate({"text": "ok"})


async def test_cloud_llm_requests_are_redacted() -> None:
    inner = Recording()
    llm = RedactingLlm(inner)
    request = LlmRequest(task="qa", system="You help sales reps.", prompt="Customer: mail dana@acme.com",
                         schema=Answer, context={"block": "card 4242 4242 4242 4242",
                                                 "history": ["call (415) 555-0100"], "n": 3})
    await llm.complete(request, timeout=1.0)
    [sent] = inner.seen
    dumped = json.dumps({"p": sent.prompt, "s": sent.system, "c": sent.context})
    assert not any(p in dumped for p in PII)
    assert sent.context["n"] == 3 and sent.schema is Answer and llm.name == "cloud"


async def test_web_search_queries_are_redacted() -> None:
    class Web(Search):
        name = "tavily"
        queries: list[str] = []

        async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
            self.queries.append(query)
            return []

    web = Web()
    await RedactingSearch(web).search("who owns dana@acme.com 4242 4242 4242 4242", user_id="u")
    assert web.queries == [f"who owns {EMAIL} {CARD}"]


# -- end to end ----------------------------------------------------------------------------------

CALL = [
    "my card number is 4242 4242 4242 4242 and it expires soon",
    "you can reach me at dana@acme.com or at (415) 555-0100",
    "our order number is 4242 4242 4242 4241",
    "Honestly your price seems high for us",
]


async def test_redaction_covers_transcript_storage_agents_and_the_cloud_llm(tmp_path: Path) -> None:
    async with FakeOpenAi() as cloud:
        settings = quiet_settings(tmp_path, redact=True, llm="openai", openai_base_url=cloud.url,
                                  openai_api_key=SecretStr(cloud.api_key), agents_in_process=True)
        with serve(settings, container_factory=scripted(script_of(CALL))) as server:
            user = register(server.url, "private")
            client = await connect(server.url, user.token)
            call_id = (await client.call("start-call", {"title": "pii call"}))["call_id"]
            await stream(client, 0.0, 6.3)
            await eventually(lambda: len(client.finals) == 4, timeout=30, what="finals")
            ended = await client.call("end-call", {}, timeout=90)
            await client.disconnect()
            async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
                detail = (await http.get(f"/api/calls/{call_id}")).json()
                runs = (await http.get(f"/api/calls/{call_id}/agent-runs")).json()
    shown = [f["text"] for f in client.finals]
    assert shown[0] == f"my card number is {CARD} and it expires soon"
    assert shown[1] == f"you can reach me at {EMAIL} or at {PHONE}"
    assert shown[2] == CALL[2]  # not a card number: kept
    everything = json.dumps([client.events, detail, runs, ended])
    assert not any(p in everything for p in PII), "unredacted text was shown or stored"
    assert [s["text"] for s in detail["transcript"]] == shown
    assert CARD in (detail["full_transcript"] or "")
    assert runs, "the agents never ran: nothing was checked on their path"
    assert cloud.requests, "nothing was sent to the cloud LLM: nothing was checked"
    sent = b" ".join(r.body for r in cloud.requests).decode()
    assert not any(p in sent for p in PII), "unredacted text went to the cloud LLM"


@pytest.mark.redis
async def test_insights_are_redacted_before_they_are_shown_or_stored(tmp_path: Path, redis_url: str) -> None:
    import redis.asyncio as aioredis

    from wingman.bus.redis_streams import RedisStreamsBus

    settings = quiet_settings(tmp_path, redact=True, bus="redis", redis_url=redis_url)
    with serve(settings, container_factory=scripted(script_of(["hello"]))) as server:
        user = register(server.url, "insightful")
        client = await connect(server.url, user.token)
        call_id = (await client.call("start-call", {"title": "insight pii"}))["call_id"]
        raw = aioredis.Redis.from_url(redis_url)
        bus = RedisStreamsBus(client=raw)
        await bus.publish(TOPIC_INSIGHTS, Insight(
            call_id=call_id, user_id=user.id, agent="qa", category="Question", kind="qa.contact",
            content="They asked to email dana@acme.com", context_snippet="call (415) 555-0100"), key=call_id)
        await bus.close()
        await raw.aclose()
        await eventually(lambda: bool(client.of("insight")), timeout=30, what="the insight")
        await client.call("end-call", {}, timeout=60)
        await client.disconnect()
        async with httpx.AsyncClient(base_url=server.url, headers=user.headers) as http:
            detail = (await http.get(f"/api/calls/{call_id}")).json()
    [shown] = client.of("insight")
    assert shown["content"] == f"They asked to email {EMAIL}" and shown["context_snippet"] == f"call {PHONE}"
    [saved] = detail["recommendations"]
    assert saved["content"] == shown["content"] and saved["context_snippet"] == shown["context_snippet"]


async def test_without_the_setting_nothing_is_redacted(tmp_path: Path) -> None:
    with serve(quiet_settings(tmp_path), container_factory=scripted(script_of(CALL[:1]))) as server:
        user = register(server.url, "plain")
        client = await connect(server.url, user.token)
        await client.call("start-call", {"title": "plain"})
        await stream(client, 0.0, 1.8)
        await eventually(lambda: len(client.finals) == 1, what="final")
        await client.call("end-call", {}, timeout=60)
        await client.disconnect()
    assert client.finals[0]["text"] == CALL[0]


class _DeepgramContainer(Container):
    """The product's container on Deepgram (its loopback stand-in), the scripted engine as the
    fallback instead of Whisper."""

    script: Script = script_of(["hello"])

    def _make_local_stt(self) -> SpeechToText:
        return ScriptedStt(self.script)


@pytest.mark.parametrize("redact", [True, False])
async def test_deepgram_is_asked_to_redact_what_it_transcribes(tmp_path: Path, redact: bool) -> None:
    """Audio reaches Deepgram unredacted; with REDACT=true its transcripts must not hold card
    numbers, phone numbers or emails either (Deepgram's `redact` parameters)."""
    said = "my card is 4242 4242 4242 4242 or mail dana@acme.com"
    script = Script([Segment(0, 0.5, 2.0, said)], duration=2.5)

    class C(_DeepgramContainer):
        pass

    C.script = script
    async with FakeDeepgram(script) as deepgram:
        settings = quiet_settings(
            tmp_path,
            redact=redact,
            stt="deepgram",
            deepgram_url=deepgram.url,
            deepgram_api_key=SecretStr(deepgram.api_key),
        )
        with serve(settings, container_factory=C) as server:
            user = register(server.url, f"dg-{redact}")
            client = await connect(server.url, user.token)
            await client.call("start-call", {"title": "deepgram pii"})
            await stream(client, 0.0, 2.5)
            await eventually(lambda: len(client.finals) == 1, timeout=30, what="the final")
            await client.call("end-call", {}, timeout=60)
            await client.disconnect()
    [conn] = deepgram.connections
    assert conn.transcripts, "Deepgram transcribed nothing: nothing was checked"
    at_deepgram = " ".join(conn.transcripts)
    if not redact:
        assert conn.params("redact") == [] and "4242 4242" in at_deepgram
        return
    assert conn.params("redact") == ["pci", "phone_number", "email_address"]
    assert "4242" not in at_deepgram and "dana@acme.com" not in at_deepgram, at_deepgram
    assert client.finals[0]["text"] == "my card is [CREDIT_CARD_1] or mail [EMAIL_ADDRESS_1]"


# -- retention -----------------------------------------------------------------------------------


async def _seed(url: str) -> dict[str, str]:
    """Two users, each with one call from 40 days ago (with children) and one from today."""
    old_store = Store(url=url, clock=lambda: utcnow() - timedelta(days=40))
    store = Store(url=url)
    await store.migrate()
    ids: dict[str, str] = {}
    try:
        for name in ("ann", "ben"):
            user = await store.create_user(email=f"{name}@example.com", name=name, password_hash=None)
            old = await old_store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                    title=f"{name} old")
            new = await store.create_call(workspace_id=user.workspace_id, user_id=user.id,
                    title=f"{name} new")
            for call in (old, new):
                await store.add_segment(workspace_id=user.workspace_id, user_id=user.id, call_id=call.id,
                        fragment=TranscriptFragment(
                    call_id=call.id, text="hello", is_final=True, start=0.0, end=1.0))
                await store.add_recommendation(Insight(call_id=call.id, user_id=user.id, agent="coach",
                                                       category="Tip", kind="tip", content="tip"))
                await store.add_agent_run(AgentRun(call_id=call.id, user_id=user.id, block_id="b",
                                                   agent="coach", input="i", rule_or_prompt="r",
                                                   output="o", provider="local", latency_ms=1.0))
            await store.finish_call(workspace_id=user.workspace_id, user_id=user.id, call_id=old.id,
                    full_transcript="hello",
                                    summary="old", key_moments=[], action_items=["follow up"])
            ids[f"{name}_user"], ids[f"{name}_old"], ids[f"{name}_new"] = user.id, old.id, new.id
    finally:
        await store.aclose()
        await old_store.aclose()
    return ids


async def _remaining(url: str, ids: dict[str, str]) -> dict[str, bool]:
    store = Store(url=url)
    try:
        out = {}
        for name in ("ann", "ben"):
            for age in ("old", "new"):
                call_id, user_id = ids[f"{name}_{age}"], ids[f"{name}_user"]
                detail = await store.call_detail(viewer=Viewer.owner(user_id, user_id), call_id=call_id)
                runs = await store.list_agent_runs(viewer=Viewer.owner(user_id, user_id), call_id=call_id)
                segments = await store.list_segments(viewer=Viewer.owner(user_id, user_id), call_id=call_id)
                out[f"{name}_{age}"] = detail is not None
                if detail is None:  # nothing of it is left behind
                    assert not runs and not segments
        return out
    finally:
        await store.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield request.getfixturevalue("postgres_url")
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'retention.db'}"


async def test_retention_deletes_old_calls_of_every_tenant_and_keeps_new_ones(database_url: str) -> None:
    ids = await _seed(database_url)
    store = Store(url=database_url)
    try:
        assert await purge_expired_calls(store, retention_days=30) == 2
        assert await purge_expired_calls(store, retention_days=30) == 0
    finally:
        await store.aclose()
    assert await _remaining(database_url, ids) == {"ann_old": False, "ann_new": True,
                                                   "ben_old": False, "ben_new": True}


async def test_the_server_applies_retention_periodically(tmp_path: Path) -> None:
    settings = quiet_settings(tmp_path, retention_days=30, retention_interval_seconds=0.5)
    ids = await _seed(settings.effective_database_url)
    with serve(settings, container_factory=scripted(script_of(["hi"]))):
        async def purged() -> bool:
            return not (await _remaining(settings.effective_database_url, ids))["ann_old"]

        for _ in range(100):
            if await purged():
                break
            await asyncio.sleep(0.1)
        # a call that ages past the limit while the server runs goes at the next pass
        late = await _seed_one_old(settings.effective_database_url, ids["ann_user"])
        for _ in range(100):
            store = Store(url=settings.effective_database_url)
            gone = await store.get_call(viewer=Viewer.owner(ids["ann_user"], ids["ann_user"]),
                    call_id=late) is None
            await store.aclose()
            if gone:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the periodic retention pass never ran again")
    assert await _remaining(settings.effective_database_url, ids) == {
        "ann_old": False, "ann_new": True, "ben_old": False, "ben_new": True}


async def _seed_one_old(url: str, user_id: str) -> str:
    store = Store(url=url, clock=lambda: utcnow() - timedelta(days=31))
    try:
        return (await store.create_call(workspace_id=user_id, user_id=user_id, title="aged")).id
    finally:
        await store.aclose()


def test_wingman_retention_command(tmp_path: Path) -> None:
    from wingman.cli import app

    url = f"sqlite+aiosqlite:///{tmp_path / 'wingman.db'}"
    ids = asyncio.run(_seed(url))
    env = {"WINGMAN_DATA_DIR": str(tmp_path), "WINGMAN_DATABASE_URL": url}
    runner = CliRunner()
    unset = runner.invoke(app, ["retention"], env=env)
    assert unset.exit_code == 2 and "WINGMAN_RETENTION_DAYS" in unset.output
    done = runner.invoke(app, ["retention"], env={**env, "WINGMAN_RETENTION_DAYS": "30"})
    assert done.exit_code == 0, done.output
    assert "2 call(s)" in done.output
    assert asyncio.run(_remaining(url, ids)) == {"ann_old": False, "ann_new": True,
                                                 "ben_old": False, "ben_new": True}
