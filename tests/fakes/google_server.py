"""A Google Custom Search JSON API stand-in: `GET /customsearch/v1?key=&cx=&q=&num=`."""

from __future__ import annotations

from typing import Any

from tests.fakes.http_stub import HttpStub, Recorded, Reply


class FakeGoogle(HttpStub):
    def __init__(
        self,
        *,
        api_key: str = "AIza-test-google-key-00000000000",
        cse_id: str = "017576662512468239146:omuauf_lfve",
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.cse_id = cse_id

    @property
    def url(self) -> str:
        return f"{self.base_url}/customsearch/v1"

    def check(self, request: Recorded) -> Reply | None:
        if request.param("key") != self.api_key:
            return error(
                400, "API key not valid. Please pass a valid API key.", "badRequest", "INVALID_ARGUMENT"
            )
        if request.method != "GET" or request.path != "/customsearch/v1":
            return Reply(404, {"error": {"code": 404, "message": "Not Found"}})
        return None


def answer(query: str, items: list[dict[str, Any]]) -> Reply:
    body: dict[str, Any] = {
        "kind": "customsearch#search",
        "queries": {"request": [{"searchTerms": query, "count": len(items), "startIndex": 1}]},
        "searchInformation": {"searchTime": 0.21, "totalResults": str(len(items))},
    }
    if items:  # like Google, no "items" key at all when nothing matched
        body["items"] = [{"kind": "customsearch#result", "displayLink": "", **i} for i in items]
    return Reply(200, body)


def error(status: int, message: str, reason: str, name: str) -> Reply:
    return Reply(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": name,
            }
        },
    )
