"""HubSpot: OAuth 2 (app.hubspot.com/oauth/authorize, /oauth/v1/token), CRM v3 objects and
search for contacts, companies and deals, v4 associations, and notes and tasks created with
their associations in one request.

A call becomes one note (summary, key moments, action items, link) and one task per action
item, each associated with the contact and its company and open deal; an edited summary
updates the note in place (PATCH). Each body ends with its
idempotency marker, found again with a CONTAINS_TOKEN search before anything is created.
"""

from __future__ import annotations

import html
import time
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from wingman.crm.base import (
    CallWrite,
    Connection,
    CrmClient,
    CrmError,
    CrmTarget,
    TargetKind,
    TokenSet,
    json_of,
    marker,
    token_set,
)

SCOPES = (
    "oauth crm.objects.contacts.read crm.objects.contacts.write crm.objects.companies.read "
    "crm.objects.deals.read"
)
# HUBSPOT_DEFINED association type ids (note/task -> contact, company, deal)
NOTE_TYPES = {"contact": 202, "company": 190, "deal": 214}
TASK_TYPES = {"contact": 204, "company": 192, "deal": 216}
_OBJECTS: dict[TargetKind, str] = {"contact": "contacts", "company": "companies", "deal": "deals"}
_NAME_PROPS: dict[TargetKind, list[str]] = {
    "contact": ["firstname", "lastname", "email", "associatedcompanyid"],
    "company": ["name", "domain"],
    "deal": ["dealname", "dealstage"],
}
DAY_MS = 86_400_000


class HubSpotCrm(CrmClient):
    """HubSpot's OAuth and CRM APIs over httpx (base URLs configurable for tests)."""

    provider = "hubspot"

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        client_id: str,
        client_secret: str,
        auth_url: str = "https://app.hubspot.com",
        api_url: str = "https://api.hubapi.com",
    ) -> None:
        super().__init__(client=client, client_id=client_id, client_secret=client_secret)
        self._auth_url = auth_url.rstrip("/")
        self._api = api_url.rstrip("/")

    # -- OAuth
    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = {"client_id": self._client_id, "redirect_uri": redirect_uri, "scope": SCOPES, "state": state}
        return f"{self._auth_url}/oauth/authorize?{urlencode(query)}"

    async def _token(self, form: dict[str, str]) -> TokenSet:
        form |= {"client_id": self._client_id, "client_secret": self._client_secret}
        r = await self._send("POST", f"{self._api}/oauth/v1/token", data=form)
        tokens = token_set(json_of(r))
        # the portal's domain names the connection on the settings page
        info = json_of(await self._send("GET", f"{self._api}/oauth/v1/access-tokens/{tokens.access_token}"))
        account = str(info.get("hub_domain") or info.get("hub_id") or "") if isinstance(info, dict) else ""
        return TokenSet(tokens.access_token, tokens.refresh_token, tokens.expires_in, None, account or None)

    async def exchange_code(self, *, code: str, redirect_uri: str) -> TokenSet:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, *, refresh_token: str, instance_url: str | None) -> TokenSet:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, *, refresh_token: str, instance_url: str | None) -> None:
        await self._send("DELETE", f"{self._api}/oauth/v1/refresh-tokens/{refresh_token}")

    # -- records
    async def _search(self, conn: Connection, kind: TargetKind, body: dict[str, Any]) -> list[dict[str, Any]]:
        body = {"properties": _NAME_PROPS[kind], "limit": 10} | body
        r = await self._send(
            "POST", f"{self._api}/crm/v3/objects/{_OBJECTS[kind]}/search", conn=conn, json=body
        )
        results = json_of(r).get("results")
        return [x for x in results if isinstance(x, dict)] if isinstance(results, list) else []

    async def _by(self, conn: Connection, kind: TargetKind, prop: str, value: str) -> dict[str, Any] | None:
        filters = [{"propertyName": prop, "operator": "EQ", "value": value}]
        found = await self._search(conn, kind, {"filterGroups": [{"filters": filters}], "limit": 1})
        return found[0] if found else None

    async def _open_deal(self, conn: Connection, contact_id: str) -> str | None:
        r = await self._send(
            "GET", f"{self._api}/crm/v4/objects/contacts/{contact_id}/associations/deals", conn=conn
        )
        results = json_of(r).get("results") or []
        ids = [str(x["toObjectId"]) for x in results if isinstance(x, dict) and "toObjectId" in x]
        return ids[0] if ids else None

    async def find(self, conn: Connection, *, email: str | None, company: str | None) -> CrmTarget | None:
        if email:
            contact = await self._by(conn, "contact", "email", email)
            if contact is not None:
                target = _target("contact", contact)
                related = dict(target.related)
                deal = await self._open_deal(conn, target.id)
                if deal:
                    related["deal"] = deal
                return CrmTarget(kind="contact", id=target.id, name=target.name, related=related)
        if company:
            found = await self._by(conn, "company", "name", company)
            if found is not None:
                return _target("company", found)
        return None

    async def search(self, conn: Connection, *, query: str, limit: int = 10) -> list[CrmTarget]:
        out: list[CrmTarget] = []
        for kind in _OBJECTS:
            out += [
                _target(kind, x) for x in await self._search(conn, kind, {"query": query, "limit": limit})
            ]
        return out[:limit]

    async def written(self, conn: Connection, *, call_id: str) -> dict[str, str]:
        token = marker(call_id, "*")
        found: dict[str, str] = {}
        for objects, prop in (("notes", "hs_note_body"), ("tasks", "hs_task_body")):
            body = {
                "filterGroups": [
                    {"filters": [{"propertyName": prop, "operator": "CONTAINS_TOKEN", "value": token}]}
                ],
                "properties": [prop],
                "limit": 100,
            }
            r = await self._send("POST", f"{self._api}/crm/v3/objects/{objects}/search", conn=conn, json=body)
            for result in json_of(r).get("results") or []:
                text = str((result.get("properties") or {}).get(prop) or "")
                prefix = marker(call_id, "")
                for word in text.replace("<", " ").replace(">", " ").split():
                    if word.startswith(prefix):
                        found[word[len(prefix) :]] = str(result.get("id"))
        return found

    async def write_step(self, conn: Connection, *, target: CrmTarget, write: CallWrite, step: str) -> str:
        tag = marker(write.call_id, step)
        if step == "note":
            objects, types = "notes", NOTE_TYPES
            properties = _note_properties(write)
        else:
            item = write.action_items[int(step.removeprefix("task-"))]
            objects, types = "tasks", TASK_TYPES
            properties = {
                "hs_timestamp": str(int(time.time() * 1000) + 2 * DAY_MS),  # due in two days
                "hs_task_subject": item[:250],
                "hs_task_body": (
                    f"{html.escape(item)}<br>From the call: {html.escape(write.link)}<br><p>{tag}</p>"
                ),
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "MEDIUM",
                "hs_task_type": "TODO",
            }
        records = {target.kind: target.id, **target.related}
        associations = [
            {
                "to": {"id": rid},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": types[kind]}],
            }
            for kind, rid in records.items()
            if kind in types
        ]
        r = await self._send(
            "POST",
            f"{self._api}/crm/v3/objects/{objects}",
            conn=conn,
            json={"properties": properties, "associations": associations},
        )
        created = json_of(r)
        if not isinstance(created, dict) or not created.get("id"):
            raise CrmError("HubSpot created no object id")
        return str(created["id"])

    async def update_note(self, conn: Connection, *, note_id: str, write: CallWrite) -> None:
        # PATCH keeps the note's associations; only the properties sent change
        await self._send(
            "PATCH",
            f"{self._api}/crm/v3/objects/notes/{quote(note_id, safe='')}",
            conn=conn,
            json={"properties": _note_properties(write)},
        )


def _note_properties(write: CallWrite) -> dict[str, str]:
    """The note's timestamp and HTML body, ending with its idempotency marker."""
    body = "<br>".join(html.escape(line) for line in write.note_text().split("\n"))
    return {
        "hs_timestamp": str(write.occurred_at_ms),
        "hs_note_body": f"{body}<br><p>{marker(write.call_id, 'note')}</p>",
    }


def _target(kind: TargetKind, result: dict[str, Any]) -> CrmTarget:
    props = result.get("properties") or {}
    if kind == "contact":
        name = (
            " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
            or props.get("email")
            or ""
        )
        company = props.get("associatedcompanyid")
        related = {"company": str(company)} if company else {}
        return CrmTarget(kind="contact", id=str(result.get("id")), name=str(name), related=related)
    name = props.get("name") if kind == "company" else props.get("dealname")
    return CrmTarget(kind=kind, id=str(result.get("id")), name=str(name or ""))
