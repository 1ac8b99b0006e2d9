"""A Tavily stand-in: `POST /search` with `Authorization: Bearer tvly-...` and a JSON body."""

from __future__ import annotations

from typing import Any

from tests.fakes.http_stub import HttpStub, Recorded, Reply


class FakeTavily(HttpStub):
    def __init__(self, *, api_key: str = "tvly-test-key-000000000000") -> None:
        super().__init__()
        self.api_key = api_key

    def check(self, request: Recorded) -> Reply | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"detail": {"error": "Unauthorized: missing or invalid API key."}})
        if request.method != "POST" or request.path != "/search":
            return Reply(404, {"detail": "Not Found"})
        return None


def answer(query: str, results: list[dict[str, Any]]) -> Reply:
    return Reply(
        200,
        {
            "query": query,
            "follow_up_questions": None,
            "answer": None,
            "images": [],
            "results": [{"raw_content": None, **r} for r in results],
            "response_time": "0.42",
        },
    )
