"""An OpenAI-compatible stand-in: `POST /v1/chat/completions` with `Authorization: Bearer`.

Answers are `chat.completion` objects; errors have OpenAI's `{"error": {message, type, code}}`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.http_stub import HttpStub, Recorded, Reply


class FakeOpenAi(HttpStub):
    def __init__(self, *, api_key: str = "sk-test-openai-key-0000000000") -> None:
        super().__init__()
        self.api_key = api_key

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    def check(self, request: Recorded) -> Reply | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return None


def answer(payload: Any, *, model: str = "gpt-4o-mini", finish_reason: str = "stop") -> Reply:
    content = payload if isinstance(payload, str) else json.dumps(payload)
    return Reply(
        200,
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
        },
    )


def error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})
