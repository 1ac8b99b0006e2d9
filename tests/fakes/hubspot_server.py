"""A HubSpot stand-in: OAuth (/oauth/authorize, /oauth/v1/token, access-token info, refresh
token revocation) and the CRM v3 objects the sync uses, with HubSpot's shapes: search
(`filterGroups` of `filters` with EQ / CONTAINS_TOKEN, or `query`), create with
`associations` (HUBSPOT_DEFINED type ids checked), PATCH of properties (404 OBJECT_NOT_FOUND
for a deleted object), and v4 association reads. Errors as
HubSpot sends them: 401 EXPIRED_AUTHENTICATION, 400 BAD_REFRESH_TOKEN, 429 RATE_LIMIT.
"""

from __future__ import annotations

import fnmatch
import itertools
from typing import Any

from aiohttp import web

from tests.fakes.crm_stub import CrmStandIn

# (from object, to object) -> HUBSPOT_DEFINED association type id
ASSOCIATION_TYPES = {
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
    ("notes", "deals"): 214,
    ("tasks", "contacts"): 204,
    ("tasks", "companies"): 192,
    ("tasks", "deals"): 216,
    ("contacts", "deals"): 4,
    ("contacts", "companies"): 279,
}
OBJECTS = ("contacts", "companies", "deals", "notes", "tasks")


class FakeHubSpot(CrmStandIn):
    token_path = "/oauth/v1/token"
    revoke_path = "/oauth/v1/refresh-tokens/"

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {o: {} for o in OBJECTS}
        self._ids = itertools.count(10_001)

    # -- data
    def add(
        self, object_type: str, properties: dict[str, str], associations: list[tuple[str, str]] = ()
    ) -> str:
        oid = str(next(self._ids))
        self.objects[object_type][oid] = {
            "id": oid,
            "properties": dict(properties),
            "associations": list(associations),
        }
        return oid

    def created(self, object_type: str) -> list[dict[str, Any]]:
        return list(self.objects[object_type].values())

    # -- wire
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth/v1/access-tokens/{token}", self._token_info)
        app.router.add_delete("/oauth/v1/refresh-tokens/{token}", self._revoke)
        app.router.add_post("/crm/v3/objects/{type}/search", self._search)
        app.router.add_post("/crm/v3/objects/{type}", self._create)
        app.router.add_patch("/crm/v3/objects/{type}/{id}", self._update)
        app.router.add_get("/crm/v4/objects/{type}/{id}/associations/{to}", self._associations)

    def public(self, request: web.Request) -> bool:
        return request.path.startswith("/oauth/v1/access-tokens/")

    def unauthorized(self) -> web.Response:
        return web.json_response(
            {
                "status": "error",
                "message": "The OAuth token used to make this call expired.",
                "category": "EXPIRED_AUTHENTICATION",
            },
            status=401,
        )

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "SECONDLY",
            }
        return {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"}

    def bad_grant(self, why: str) -> web.Response:
        return web.json_response({"status": "BAD_REFRESH_TOKEN", "message": why}, status=400)

    def refreshed_extra(self, refresh_token: str) -> dict[str, Any]:
        return {"refresh_token": refresh_token}  # HubSpot answers with the same refresh token

    async def _token_info(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.oauth.access:
            return web.json_response({"status": "error", "message": "not found"}, status=404)
        return web.json_response(
            {
                "token": request.match_info["token"],
                "user": "admin@acme-sales.test",
                "hub_domain": "acme-sales.hubspot.test",
                "hub_id": 4242,
                "expires_in": 1700,
                "scopes": ["oauth", "crm.objects.contacts.write"],
            }
        )

    async def _revoke(self, request: web.Request) -> web.Response:
        self.oauth.refresh.discard(request.match_info["token"])
        return web.Response(status=204)

    async def _search(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        if kind not in self.objects:
            return web.json_response(
                {"status": "error", "message": f"Unknown object type {kind}"}, status=400
            )
        body = await request.json()
        groups = body.get("filterGroups") or []
        query = str(body.get("query") or "").lower()
        wanted = body.get("properties") or []
        found = []
        for obj in self.objects[kind].values():
            props = obj["properties"]
            if groups and not any(all(_matches(props, f) for f in g.get("filters", [])) for g in groups):
                continue
            if query and not any(query in str(v).lower() for v in props.values()):
                continue
            found.append(
                {
                    "id": obj["id"],
                    "properties": {p: props.get(p) for p in wanted} | {"hs_object_id": obj["id"]},
                    "createdAt": "2026-11-30T10:00:00Z",
                    "updatedAt": "2026-11-30T10:00:00Z",
                    "archived": False,
                }
            )
        limit = int(body.get("limit") or 10)
        return web.json_response({"total": len(found), "results": found[:limit]})

    async def _create(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        if kind not in self.objects:
            return web.json_response(
                {"status": "error", "message": f"Unknown object type {kind}"}, status=400
            )
        body = await request.json()
        links: list[tuple[str, str]] = []
        for assoc in body.get("associations") or []:
            to_id = str(assoc["to"]["id"])
            type_id = assoc["types"][0]["associationTypeId"]
            to_kind = next((k for (f, k), t in ASSOCIATION_TYPES.items() if f == kind and t == type_id), None)
            if to_kind is None or to_id not in self.objects[to_kind]:
                return web.json_response(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"invalid association {type_id} to {to_id}",
                    },
                    status=400,
                )
            links.append((to_kind, to_id))
        oid = self.add(kind, {str(k): str(v) for k, v in (body.get("properties") or {}).items()}, links)
        return web.json_response(
            {
                "id": oid,
                "properties": self.objects[kind][oid]["properties"],
                "createdAt": "2026-12-01T12:00:00Z",
                "archived": False,
            },
            status=201,
        )

    async def _update(self, request: web.Request) -> web.Response:
        """PATCH: the properties sent replace those of the object; associations stay."""
        kind, oid = request.match_info["type"], request.match_info["id"]
        obj = self.objects.get(kind, {}).get(oid)
        if obj is None:
            return web.json_response(
                {"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"{kind} {oid} not found"},
                status=404,
            )
        body = await request.json()
        obj["properties"].update({str(k): str(v) for k, v in (body.get("properties") or {}).items()})
        return web.json_response(
            {
                "id": oid,
                "properties": obj["properties"],
                "updatedAt": "2026-12-02T12:00:00Z",
                "archived": False,
            }
        )

    async def _associations(self, request: web.Request) -> web.Response:
        kind, oid, to = request.match_info["type"], request.match_info["id"], request.match_info["to"]
        obj = self.objects.get(kind, {}).get(oid)
        if obj is None:
            return web.json_response({"status": "error", "message": "not found"}, status=404)
        results = [
            {
                "toObjectId": int(i),
                "associationTypes": [
                    {
                        "category": "HUBSPOT_DEFINED",
                        "typeId": ASSOCIATION_TYPES.get((kind, to), 0),
                        "label": None,
                    }
                ],
            }
            for k, i in obj["associations"]
            if k == to
        ]
        return web.json_response({"results": results})


def _matches(props: dict[str, str], f: dict[str, Any]) -> bool:
    value = str(props.get(f["propertyName"]) or "")
    wanted = str(f.get("value") or "")
    if f["operator"] == "EQ":
        return value.lower() == wanted.lower()
    if f["operator"] == "CONTAINS_TOKEN":  # a word of the value, `*` as a wildcard
        words = value.replace("<", " ").replace(">", " ").split()
        return any(fnmatch.fnmatchcase(w, wanted) for w in words)
    raise ValueError(f"operator {f['operator']} not supported by the stand-in")
