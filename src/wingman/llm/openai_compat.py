"""Any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server) via the openai
SDK's AsyncOpenAI: Chat Completions with `response_format={"type": "json_schema", ...}` built from
the request's pydantic schema, the request's deadline as the timeout, and no SDK retries
(FallbackLlm answers instead). Vendor exceptions become wingman.errors.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, SecretStr, ValidationError

from wingman.errors import (
    ProviderConnectionError,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.http_errors import status_error
from wingman.llm.base import Llm, LlmRequest, T
from wingman.redaction import protect

log = logging.getLogger(__name__)

# local servers (Ollama, vLLM, llama.cpp) take no key, but the SDK insists on one
NO_KEY = "no-key"


def response_format(schema: type[BaseModel]) -> ResponseFormatJSONSchema:
    """The `response_format` asking for JSON in `schema` (a pydantic model class)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64]
    return {
        "type": "json_schema",
        "json_schema": {
            "name": name,
            "schema": schema.model_json_schema(),
            # strict mode needs every field required and no extras: not every schema is that
            "strict": False,
        },
    }


class OpenAiCompatLlm(Llm):
    """Chat Completions with structured JSON output."""

    name = "openai"

    def __init__(self, *, api_key: SecretStr | None, base_url: str, model: str) -> None:
        protect(api_key)
        self.base_url = base_url
        self.model = model
        key = api_key.get_secret_value() if api_key is not None else NO_KEY
        self._client = AsyncOpenAI(api_key=key, base_url=base_url, max_retries=0)

    def __repr__(self) -> str:
        return f"OpenAiCompatLlm(base_url={self.base_url!r}, model={self.model!r})"

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        messages: list[Any] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.prompt})
        try:
            async with asyncio.timeout(timeout):  # the SDK's timeout is per phase, not overall
                completion = await self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    response_format=response_format(request.schema),
                    timeout=timeout,
                )
        except openai.APITimeoutError:
            raise ProviderTimeout(f"{self.name} did not answer within {timeout:.2f}s") from None
        except TimeoutError:
            raise ProviderTimeout(f"{self.name} did not answer within {timeout:.2f}s") from None
        except openai.APIConnectionError as e:
            raise ProviderConnectionError(f"{self.name} unreachable ({type(e).__name__})") from None
        except openai.APIStatusError as e:
            raise status_error(self.name, e.status_code) from None
        except (openai.OpenAIError, ValueError) as e:  # undecodable body, validation, ...
            raise ProviderResponseError(f"{self.name} answer unusable ({type(e).__name__})") from None
        if not completion.choices:
            raise ProviderResponseError(f"{self.name} returned no choices")
        choice = completion.choices[0]
        text = choice.message.content
        if not text:
            raise ProviderResponseError(
                f"{self.name} returned no content (finish reason {choice.finish_reason})"
            )
        try:
            return request.schema.model_validate_json(text)
        except ValidationError:
            # not chained: the validation error quotes the answer, which may quote the call
            raise ProviderResponseError(
                f"{self.name} answer is not valid {request.schema.__name__} JSON"
            ) from None

    async def aclose(self) -> None:
        await self._client.close()


