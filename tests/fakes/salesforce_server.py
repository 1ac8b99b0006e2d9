"""A Salesforce stand-in: the OAuth 2 web-server flow (/services/oauth2/authorize, token with
`instance_url`, revoke) and the REST API under /services/data/v62.0: the `query` resource
running the SOQL the sync sends (SELECT fields FROM object WHERE a = '..' AND b LIKE '..%'
ORDER BY .. LIMIT n, with SOQL's backslash escapes) and `sobjects/<type>` creates (201
{id, success, errors}; unknown fields and dangling WhoId/WhatId refused, as Salesforce does)
and `sobjects/<type>/<id>` PATCHes (204; 404 NOT_FOUND for a deleted record).
Errors in Salesforce's list-of-errors shape: 401 INVALID_SESSION_ID, 400 invalid_grant.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from aiohttp import web

from tests.fakes.crm_stub import CrmStandIn

API = "/services/data/v62.0"
PREFIXES = {"Account": "001", "Contact": "003", "Opportunity": "006", "Task": "00T"}
TASK_FIELDS = {
    "Subject",
    "Description",
    "Status",
    "Priority",
    "ActivityDate",
    "WhoId",
    "WhatId",
    "TaskSubtype",
    "CallObject",
    "OwnerId",
}
_SOQL = re.compile(
    r"^SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
    r"(?: ORDER BY (?P<order>.+?))?(?: LIMIT (?P<limit>\d+))?$",
    re.S,
)
_CLAUSE = re.compile(r"^(?P<field>\w+) (?P<op>=|LIKE) (?P<value>'(?:[^'\\]|\\.)*'|true|false)$")


def _unquote(literal: str) -> str:
    return re.sub(
        r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), literal[1:-1]
    )


def _like(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.compile(f"^{out}$", re.I | re.S)


class FakeSalesforce(CrmStandIn):
    authorize_path = "/services/oauth2/authorize"
    token_path = "/services/oauth2/token"
    revoke_path = "/services/oauth2/revoke"
    expires_in = None  # Salesforce's token response carries no lifetime: clients learn it from a 401

    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in PREFIXES}
        self._ids = itertools.count(1)
        self.queries: list[str] = []

    def add(self, sobject: str, **fields: Any) -> str:
        rid = f"{PREFIXES[sobject]}5g00000{next(self._ids):08d}"
        self.records[sobject][rid] = {"Id": rid, **fields}
        return rid

    def tasks(self) -> list[dict[str, Any]]:
        return list(self.records["Task"].values())

    # -- wire
    def routes(self, app: web.Application) -> None:
        app.router.add_post(self.revoke_path, self._revoke)
        app.router.add_get(f"{API}/query", self._query)
        app.router.add_post(f"{API}/sobjects/{{sobject}}", self._create)
        app.router.add_patch(f"{API}/sobjects/{{sobject}}/{{id}}", self._update)

    def token_extra(self) -> dict[str, Any]:
        return {
            "instance_url": self.base_url,
            "id": f"{self.base_url}/id/00D5g000004Xyz/0055g00000AbCd",
            "issued_at": "1764590400000",
            "signature": "c3RhbmQtaW4=",
            "scope": "api refresh_token",
        }

    def refreshed_extra(self, refresh_token: str) -> dict[str, Any]:
        return {}

    def unauthorized(self) -> web.Response:
        return web.json_response(
            [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status=401
        )

    def fault_body(self, status: int) -> Any:
        code = "REQUEST_LIMIT_EXCEEDED" if status == 429 else "SERVER_UNAVAILABLE"
        return [{"message": "stand-in fault", "errorCode": code}]

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.oauth.refresh.discard(str(form.get("token")))
        self.oauth.access.discard(str(form.get("token")))
        return web.Response(status=200)

    async def _query(self, request: web.Request) -> web.Response:
        soql = request.query.get("q", "").strip()
        self.queries.append(soql)
        m = _SOQL.match(soql)
        if m is None or m["obj"] not in self.records:
            return web.json_response(
                [{"message": "unexpected token", "errorCode": "MALFORMED_QUERY"}], status=400
            )
        fields = [f.strip() for f in m["fields"].split(",")]
        rows = list(self.records[m["obj"]].values())
        for clause in m["where"].split(" AND ") if m["where"] else []:
            c = _CLAUSE.match(clause.strip())
            if c is None:
                return web.json_response([{"message": clause, "errorCode": "MALFORMED_QUERY"}], status=400)
            value = c["value"]
            if value in ("true", "false"):
                rows = [r for r in rows if bool(r.get(c["field"], False)) == (value == "true")]
            elif c["op"] == "=":
                rows = [r for r in rows if str(r.get(c["field"]) or "").lower() == _unquote(value).lower()]
            else:
                pattern = _like(_unquote(value))
                rows = [r for r in rows if pattern.match(str(r.get(c["field"]) or ""))]
        if m["limit"]:
            rows = rows[: int(m["limit"])]
        records = [
            {
                "attributes": {"type": m["obj"], "url": f"{API}/sobjects/{m['obj']}/{r['Id']}"},
                **{f: r.get(f) for f in fields},
            }
            for r in rows
        ]
        return web.json_response({"totalSize": len(records), "done": True, "records": records})

    async def _update(self, request: web.Request) -> web.Response:
        """PATCH a record: 204 with no body; 404 NOT_FOUND for an id that is not there."""
        sobject, rid = request.match_info["sobject"], request.match_info["id"]
        record = self.records.get(sobject, {}).get(rid)
        if record is None:
            return web.json_response(
                [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], status=404
            )
        body = await request.json()
        unknown = set(body) - TASK_FIELDS
        if unknown or "Id" in body:
            field = sorted(unknown or {"Id"})[0]
            return web.json_response(
                [{"message": f"Unable to update '{field}'", "errorCode": "INVALID_FIELD"}], status=400
            )
        record.update(body)
        return web.Response(status=204)

    async def _create(self, request: web.Request) -> web.Response:
        sobject = request.match_info["sobject"]
        body = await request.json()
        if sobject != "Task":
            return web.json_response(
                [{"message": f"sObject type '{sobject}' is not supported", "errorCode": "NOT_FOUND"}],
                status=404,
            )
        unknown = set(body) - TASK_FIELDS
        if unknown:
            return web.json_response(
                [
                    {
                        "message": f"No such column '{sorted(unknown)[0]}' on sobject of type Task",
                        "errorCode": "INVALID_FIELD",
                    }
                ],
                status=400,
            )
        if body.get("WhoId") and body["WhoId"] not in self.records["Contact"]:
            return web.json_response(
                [
                    {
                        "message": "invalid WhoId",
                        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                        "fields": ["WhoId"],
                    }
                ],
                status=400,
            )
        what = body.get("WhatId")
        if what and what not in self.records["Account"] and what not in self.records["Opportunity"]:
            return web.json_response(
                [
                    {
                        "message": "invalid WhatId",
                        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
                        "fields": ["WhatId"],
                    }
                ],
                status=400,
            )
        rid = self.add("Task", **body)
        return web.json_response({"id": rid, "success": True, "errors": []}, status=201)
