"""Salesforce: OAuth 2 web-server flow (/services/oauth2/authorize, token, revoke), SOQL
lookups through the REST query resource and Task records through sobjects/Task, on the
`instance_url` the token response names.

A call becomes a completed call Task (TaskSubtype "Call": summary, key moments, action items,
link) and one open Task per action item, on the contact (WhoId) and its open opportunity or
account (WhatId). Each Task's CallObject field (the call-center call id, filterable in SOQL)
holds the write's idempotency marker, so one query finds what an earlier attempt wrote. An
edited summary updates the call Task in place (PATCH).
"""

from __future__ import annotations

import datetime as dt
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

API_VERSION = "v62.0"


def soql_quote(value: str) -> str:
    """A SOQL string literal: backslash, quote and control characters escaped."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def _like(value: str) -> str:
    """The inside of a LIKE pattern: SOQL's wildcards taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SalesforceCrm(CrmClient):
    """Salesforce's OAuth and REST APIs over httpx (login URL configurable for tests/sandboxes)."""

    provider = "salesforce"

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        client_id: str,
        client_secret: str,
        login_url: str = "https://login.salesforce.com",
    ) -> None:
        super().__init__(client=client, client_id=client_id, client_secret=client_secret)
        self._login = login_url.rstrip("/")

    # -- OAuth
    def authorize_url(self, *, state: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": "api refresh_token",
            "state": state,
        }
        return f"{self._login}/services/oauth2/authorize?{urlencode(query)}"

    async def _token(self, form: dict[str, str]) -> TokenSet:
        form |= {"client_id": self._client_id, "client_secret": self._client_secret}
        body = json_of(await self._send("POST", f"{self._login}/services/oauth2/token", data=form))
        tokens = token_set(body)
        if not tokens.instance_url:
            raise CrmError("Salesforce's token response has no instance_url")
        account = tokens.instance_url.removeprefix("https://").removeprefix("http://")
        return TokenSet(
            tokens.access_token, tokens.refresh_token, tokens.expires_in, tokens.instance_url, account
        )

    async def exchange_code(self, *, code: str, redirect_uri: str) -> TokenSet:
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )

    async def refresh(self, *, refresh_token: str, instance_url: str | None) -> TokenSet:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, *, refresh_token: str, instance_url: str | None) -> None:
        await self._send("POST", f"{self._login}/services/oauth2/revoke", data={"token": refresh_token})

    # -- records
    def _base(self, conn: Connection) -> str:
        if not conn.instance_url:
            raise CrmError("this Salesforce connection has no instance_url: reconnect it")
        return f"{conn.instance_url.rstrip('/')}/services/data/{API_VERSION}"

    async def query(self, conn: Connection, soql: str) -> list[dict[str, Any]]:
        """The records of a SOQL query (first page: our queries ask for few)."""
        r = await self._send("GET", f"{self._base(conn)}/query", conn=conn, params={"q": soql})
        records = json_of(r).get("records")
        return [x for x in records if isinstance(x, dict)] if isinstance(records, list) else []

    async def find(self, conn: Connection, *, email: str | None, company: str | None) -> CrmTarget | None:
        if email:
            found = await self.query(
                conn, f"SELECT Id, Name, AccountId FROM Contact WHERE Email = {soql_quote(email)} LIMIT 1"
            )
            if found:
                contact = found[0]
                related: dict[str, str] = {}
                if contact.get("AccountId"):
                    related["company"] = str(contact["AccountId"])
                    deals = await self.query(
                        conn,
                        "SELECT Id, Name FROM Opportunity WHERE AccountId = "
                        f"{soql_quote(str(contact['AccountId']))} AND IsClosed = false "
                        "ORDER BY LastModifiedDate DESC LIMIT 1",
                    )
                    if deals:
                        related["deal"] = str(deals[0]["Id"])
                return CrmTarget(
                    kind="contact",
                    id=str(contact["Id"]),
                    name=str(contact.get("Name") or ""),
                    related=related,
                )
        if company:
            accounts = await self.query(
                conn, f"SELECT Id, Name FROM Account WHERE Name = {soql_quote(company)} LIMIT 1"
            )
            if accounts:
                return CrmTarget(
                    kind="company", id=str(accounts[0]["Id"]), name=str(accounts[0].get("Name") or "")
                )
        return None

    async def search(self, conn: Connection, *, query: str, limit: int = 10) -> list[CrmTarget]:
        pattern = soql_quote(f"%{_like(query)}%")
        out: list[CrmTarget] = []
        sobjects: tuple[tuple[TargetKind, str], ...] = (
            ("contact", "Contact"),
            ("company", "Account"),
            ("deal", "Opportunity"),
        )
        for kind, sobject in sobjects:
            fields = "Id, Name, AccountId" if sobject == "Contact" else "Id, Name"
            for rec in await self.query(
                conn, f"SELECT {fields} FROM {sobject} WHERE Name LIKE {pattern} LIMIT {limit}"
            ):
                related = {"company": str(rec["AccountId"])} if rec.get("AccountId") else {}
                out.append(
                    CrmTarget(kind=kind, id=str(rec["Id"]), name=str(rec.get("Name") or ""), related=related)
                )
        return out[:limit]

    async def written(self, conn: Connection, *, call_id: str) -> dict[str, str]:
        prefix = marker(call_id, "")
        pattern = soql_quote(f"{_like(prefix)}%")
        records = await self.query(conn, f"SELECT Id, CallObject FROM Task WHERE CallObject LIKE {pattern}")
        return {
            str(r["CallObject"])[len(prefix) :]: str(r["Id"])
            for r in records
            if str(r.get("CallObject") or "").startswith(prefix)
        }

    async def write_step(self, conn: Connection, *, target: CrmTarget, write: CallWrite, step: str) -> str:
        when = dt.datetime.fromtimestamp(write.occurred_at_ms / 1000, tz=dt.UTC).date()
        task: dict[str, Any] = {"CallObject": marker(write.call_id, step)}
        if step == "note":
            task |= _note_fields(write) | {
                "TaskSubtype": "Call",
                "Status": "Completed",
                "ActivityDate": when.isoformat(),
            }
        else:
            item = write.action_items[int(step.removeprefix("task-"))]
            task |= {
                "Subject": item[:255],
                "Description": f"{item}\nFrom the call: {write.link}",
                "Status": "Not Started",
                "Priority": "Normal",
                "ActivityDate": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat(),
            }
        # WhoId takes a contact (or lead); WhatId the opportunity, else the account
        if target.kind == "contact":
            task["WhoId"] = target.id
        what = (
            target.id
            if target.kind != "contact"
            else target.related.get("deal") or target.related.get("company")
        )
        if target.kind == "company" and target.related.get("deal"):
            what = target.related["deal"]
        if what:
            task["WhatId"] = what
        r = await self._send("POST", f"{self._base(conn)}/sobjects/Task", conn=conn, json=task)
        created = json_of(r)
        if not isinstance(created, dict) or not created.get("success") or not created.get("id"):
            raise CrmError("Salesforce did not create the Task")
        return str(created["id"])

    async def update_note(self, conn: Connection, *, note_id: str, write: CallWrite) -> None:
        # PATCH answers 204; the Task keeps its CallObject marker, WhoId and WhatId
        await self._send(
            "PATCH", f"{self._base(conn)}/sobjects/Task/{quote(note_id, safe='')}", conn=conn,
            json=_note_fields(write),
        )


def _note_fields(write: CallWrite) -> dict[str, str]:
    """The call Task's subject and description (the note)."""
    return {"Subject": f"Call: {write.title}"[:255], "Description": write.note_text()[:32000]}
