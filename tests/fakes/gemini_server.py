"""A Gemini API stand-in: `POST /v1beta/models/{model}:generateContent` with `x-goog-api-key`.

Answers have the REST shape (`candidates[].content.parts[].text`, `finishReason`,
`usageMetadata`); errors have Google's `{"error": {code, message, status}}` shape, and a wrong
key gets the real 400 `API_KEY_INVALID`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.http_stub import HttpStub, Recorded, Reply


class FakeGemini(HttpStub):
    def __init__(self, *, api_key: str = "AIza-test-gemini-key-000000000000") -> None:
        super().__init__()
        self.api_key = api_key

    def check(self, request: Recorded) -> Reply | None:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return error(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                details=[{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            )
        return None


def answer(payload: Any, *, finish_reason: str = "STOP") -> Reply:
    """A generateContent answer whose text is `payload` (JSON-encoded unless already a str)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return Reply(
        200,
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": finish_reason,
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 42, "candidatesTokenCount": 17, "totalTokenCount": 59},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "fake-response",
        },
    )


def error(status: int, name: str, message: str, *, details: list[Any] | None = None) -> Reply:
    body: dict[str, Any] = {"error": {"code": status, "message": message, "status": name}}
    if details:
        body["error"]["details"] = details
    return Reply(status, body)
