"""The CRM sync under test: a real Store, the real HubSpot and Salesforce clients pointed at
their loopback stand-ins, CrmService and its worker. `connect()` runs the whole OAuth 2
authorization-code flow through the stand-in's consent page and back to our callback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fakes.hubspot_server import FakeHubSpot
from tests.fakes.salesforce_server import FakeSalesforce
from wingman.crm.hubspot import HubSpotCrm
from wingman.crm.salesforce import SalesforceCrm
from wingman.crm.service import CrmService
from wingman.crm.worker import CrmSyncWorker
from wingman.events import TranscriptFragment
from wingman.store.crm import CrmRepo, CrmSyncRecord
from wingman.store.records import KeyMoment
from wingman.store.repos import Store

SECRET = "test-secret-key-for-crm-tokens-0123456789abcdef"
LINK_BASE = "http://wingman.test"
CUSTOMER_EMAIL = "jane.doe@acme.test"
ACTION_ITEMS = ["Send the proposal with volume pricing by Friday", "Book a security review with IT"]


@dataclass
class Crms:
    store: Store
    hubspot: FakeHubSpot
    salesforce: FakeSalesforce
    service: CrmService
    http: httpx.AsyncClient

    def worker(self, clock: Callable[[], object] | None = None) -> CrmSyncWorker:
        kwargs = {"clock": clock} if clock is not None else {}
        return CrmSyncWorker(
            service=self.service, store=self.store, link_base=LINK_BASE, poll_seconds=0.05, **kwargs
        )  # type: ignore[arg-type]

    async def connect(self, provider: str, tenant: str) -> None:
        """Consent in the stand-in, then the callback's code and state to the service."""
        url = self.service.connect_url(tenant_id=tenant, user_id=tenant, provider=provider)
        r = await self.http.get(url, follow_redirects=False)
        assert r.status_code == 302, r.text
        back = urlsplit(r.headers["Location"])
        assert back.path == f"/api/crm/{provider}/callback"
        q = parse_qs(back.query)
        await self.service.complete(provider=provider, code=q["code"][0], state=q["state"][0])

    async def wait(
        self, tenant: str, call_id: str, until: Callable[[list[CrmSyncRecord]], bool], timeout: float = 30.0
    ) -> list[CrmSyncRecord]:
        """The call's jobs once `until` holds (a deadline against hanging, not a timing check)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            jobs = await self.service.repo.syncs(tenant_id=tenant, call_id=call_id)
            if until(jobs):
                return jobs
            assert asyncio.get_running_loop().time() < deadline, [
                (j.provider, j.status, j.last_error) for j in jobs
            ]
            await asyncio.sleep(0.05)


def all_status(*statuses: str, count: int = 2) -> Callable[[list[CrmSyncRecord]], bool]:
    return lambda jobs: len(jobs) == count and all(j.status in statuses for j in jobs)


@contextlib.asynccontextmanager
async def crm_world(url: str) -> AsyncIterator[Crms]:
    store = Store(url=url)
    await store.migrate()
    async with FakeHubSpot() as hs, FakeSalesforce() as sf, httpx.AsyncClient(timeout=10) as http:
        clients = {
            "hubspot": HubSpotCrm(
                client=http,
                client_id=hs.oauth.client_id,
                client_secret=hs.oauth.client_secret,
                auth_url=hs.base_url,
                api_url=hs.base_url,
            ),
            "salesforce": SalesforceCrm(
                client=http,
                client_id=sf.oauth.client_id,
                client_secret=sf.oauth.client_secret,
                login_url=sf.base_url,
            ),
        }
        service = CrmService(repo=CrmRepo(store), clients=clients, secret=SECRET, redirect_base=LINK_BASE)
        try:
            yield Crms(store=store, hubspot=hs, salesforce=sf, service=service, http=http)
        finally:
            await store.aclose()


async def finished_call(
    store: Store,
    *,
    email: str | None = CUSTOMER_EMAIL,
    title: str = "Acme Corp - pricing call",
    name: str = "rep",
) -> tuple[str, str]:
    """A user and a finished call of theirs with summary, key moments and action items."""
    user = await store.create_user(email=f"{name}@wingman.test", name=name.title(), password_hash=None)
    call = await store.create_call(workspace_id=user.workspace_id, user_id=user.id, title=title)
    lines = [("rep", "Thanks for joining. What is the best email to send the proposal to?")]
    lines.append(("customer", f"Send it to {email}, please." if email else "Just send it to me, please."))
    lines.append(("customer", "Honestly that's way too expensive for a team of forty."))
    for i, (speaker, text) in enumerate(lines):
        await store.add_segment(
            workspace_id=user.workspace_id, user_id=user.id,
            call_id=call.id,
            fragment=TranscriptFragment(
                call_id=call.id,
                text=text,
                is_final=True,
                speaker=speaker,
                channel=i % 2,
                start=i * 4.0,
                end=i * 4 + 3.5,
            ),
        )
    await store.finish_call(
        workspace_id=user.workspace_id, user_id=user.id,
        call_id=call.id,
        full_transcript="\n".join(t for _, t in lines),
        summary="Acme needs a contact-center for 40 agents; price is the main objection.",
        key_moments=[KeyMoment(kind="objection", text="that's way too expensive", at=8.0)],
        action_items=ACTION_ITEMS,
    )
    return user.id, call.id


def seed_customer(crms: Crms) -> dict[str, str]:
    """Acme in both CRMs: the contact (with its company and open deal)."""
    hs, sf = crms.hubspot, crms.salesforce
    company = hs.add("companies", {"name": "Acme Corp", "domain": "acme.test"})
    contact = hs.add(
        "contacts",
        {"email": CUSTOMER_EMAIL, "firstname": "Jane", "lastname": "Doe", "associatedcompanyid": company},
    )
    deal = hs.add("deals", {"dealname": "Acme - 40 seats", "dealstage": "presentationscheduled"})
    hs.objects["contacts"][contact]["associations"].append(("deals", deal))
    account = sf.add("Account", Name="Acme Corp")
    sf_contact = sf.add("Contact", Name="Jane Doe", Email=CUSTOMER_EMAIL, AccountId=account)
    opportunity = sf.add("Opportunity", Name="Acme - 40 seats", AccountId=account, IsClosed=False)
    return {
        "hs_company": company,
        "hs_contact": contact,
        "hs_deal": deal,
        "sf_account": account,
        "sf_contact": sf_contact,
        "sf_opportunity": opportunity,
    }


@contextlib.asynccontextmanager
async def running(worker: CrmSyncWorker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
