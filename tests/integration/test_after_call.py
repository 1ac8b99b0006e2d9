"""After the call, through the real app (scripted speech on two channels, the CRM stand-ins):
the customer's sentiment is scored live per final segment, saved and shown; a sharp drop
after the price becomes a coaching insight; end-call queues the CRM sync, which reaches
HubSpot and Salesforce in the background; the follow-up draft carries the action items."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.salesforce_server import FakeSalesforce
from tests.fakes.scripted_audio import SR, Script, Segment, encode
from tests.security.support import Client, connect, eventually, quiet_settings, register, scripted, serve

LINES = [  # (channel, start, end, text): 0 = rep, 1 = customer
    (1, 0.5, 2.0, "Thanks, this looks great so far."),
    (0, 2.5, 4.0, "Our price is forty dollars per seat per month."),
    (1, 4.5, 6.0, "I really like the reporting, it's exactly what we need."),
    (0, 6.5, 8.0, "And the annual plan comes with onboarding."),
    (1, 8.5, 10.0, "Honestly, that's way too expensive for us. Send it to dana@globex.test."),
]


def _script() -> Script:
    spoken = [Segment(ch, start, end, text) for ch, start, end, text in LINES]
    return Script(spoken, duration=11.0, channels=2)


async def _stream_stereo(client: Client, duration: float) -> None:
    step = round(0.1 * SR)
    for f in range(0, round(duration * SR), step):
        chunk = encode(f, min(f + step, round(duration * SR)), channels=2)
        await client.emit("audio-chunk", np.ascontiguousarray(chunk, dtype="<f4").tobytes())


async def test_live_sentiment_coaching_crm_sync_and_follow_up(tmp_path: Path) -> None:
    async with FakeHubSpot() as hs, FakeSalesforce() as sf:
        company = hs.add("companies", {"name": "Globex"})
        account = sf.add("Account", Name="Globex")
        settings = quiet_settings(
            tmp_path,
            hubspot_client_id=hs.oauth.client_id,
            hubspot_client_secret=hs.oauth.client_secret,
            hubspot_auth_url=hs.base_url,
            hubspot_api_url=hs.base_url,
            salesforce_client_id=sf.oauth.client_id,
            salesforce_client_secret=sf.oauth.client_secret,
            salesforce_login_url=sf.base_url,
            crm_poll_seconds=0.2,
        )
        with serve(settings, container_factory=scripted(_script())) as server:
            user = register(server.url, "dana-rep")
            async with httpx.AsyncClient(base_url=server.url, headers=user.headers, timeout=20) as http:
                for provider in ("hubspot", "salesforce"):  # the admin connects both CRMs
                    url = (await http.post(f"/api/crm/{provider}/connect")).json()["authorize_url"]
                    back = (await http.get(url, follow_redirects=False)).headers["Location"]
                    done = await http.get(f"{urlsplit(back).path}?{urlsplit(back).query}")
                    assert done.status_code == 303 and "result=connected" in done.headers["location"]
                client = await connect(server.url, user.token)
                try:
                    started = await client.call("start-call", {"title": "Globex - pricing", "channels": 2})
                    call_id = started["call_id"]
                    await _stream_stereo(client, 11.0)
                    await eventually(lambda: len(client.of("sentiment")) == 3, what="three customer scores")
                    await eventually(
                        lambda: any(i["kind"] == "sentiment.drop" for i in client.of("insight")),
                        what="the coaching moment",
                    )
                    ended = await client.call("end-call", {}, timeout=60)
                    assert ended["call_id"] == call_id
                finally:
                    await client.disconnect()
                labels = [s["label"] for s in client.of("sentiment")]
                assert labels == ["positive", "positive", "negative"]
                moment = next(i for i in client.of("insight") if i["kind"] == "sentiment.drop")
                assert moment["content"].startswith("The customer just went cold after the price")
                points = (await http.get(f"/api/calls/{call_id}/sentiment")).json()
                assert [(p["label"], p["saved"]) for p in points] == [(x, True) for x in labels]
                # the CRM sync was queued by end-call and runs in the background
                for _ in range(200):
                    syncs = (await http.get(f"/api/calls/{call_id}/crm")).json()
                    if len(syncs) == 2 and all(s["status"] == "done" for s in syncs):
                        break
                    await asyncio.sleep(0.1)
                assert [(s["provider"], s["status"]) for s in syncs] == [
                    ("hubspot", "done"),
                    ("salesforce", "done"),
                ]
                draft = (await http.get(f"/api/calls/{call_id}/follow-up")).json()
        assert [n["associations"] for n in hs.created("notes")] == [[("companies", company)]]
        assert [t["WhatId"] for t in sf.tasks() if t.get("TaskSubtype") == "Call"] == [account]
        assert draft["to"] == "dana@globex.test" and draft["subject"] == "Follow-up: Globex"
        assert "Dana-Rep" in draft["body"] or "dana-rep" in draft["body"]
