"""Gemini through the google-genai SDK: JSON answers in the request's schema, thinking off.

Each request asks for `response_mime_type="application/json"` with `response_schema` set to the
request's pydantic model, turns thinking off (`thinking_budget=0`: a live call cannot wait for
it), and carries the request's deadline both as the SDK's HTTP timeout and as an overall
`asyncio.timeout`. The SDK's own retries are off: failing fast lets FallbackLlm answer in time.
Vendor exceptions become wingman.errors; the key never appears in a message or a repr.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
from google.genai import Client, errors, types
from pydantic import SecretStr, ValidationError

from wingman.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.http_errors import status_error
from wingman.llm.base import Llm, LlmRequest, T
from wingman.redaction import protect

log = logging.getLogger(__name__)

# the SDK uses aiohttp when it is installed (a product dependency), else httpx: map both
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx.TransportError, OSError)
try:
    import aiohttp

    _TRANSPORT_ERRORS += (aiohttp.ClientError,)
except ImportError:  # pragma: no cover - aiohttp ships with the product
    pass


class GeminiLlm(Llm):
    """Gemini `generateContent` with structured JSON output."""

    name = "gemini"

    def __init__(
        self,
        *,
        api_key: SecretStr,
        model: str = "gemini-2.5-flash",
        base_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        protect(api_key)
        self.model = model
        self.base_url = base_url
        options = types.HttpOptions(
            base_url=base_url,
            # attempts=1 also stops the SDK's silent 1-10 s sleep-and-retry on connect errors
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_async_client=http_client,
        )
        self._client = Client(api_key=api_key.get_secret_value(), http_options=options)

    def __repr__(self) -> str:
        return f"GeminiLlm(model={self.model!r}, base_url={self.base_url!r})"

    def config(self, request: LlmRequest[Any], *, timeout: float) -> types.GenerateContentConfig:
        """The generation config sent with `request`."""
        config = types.GenerateContentConfig(
            system_instruction=request.system or None,
            response_mime_type="application/json",
            thinking_config=types.ThinkingConfig(thinking_budget=0),
            http_options=types.HttpOptions(timeout=max(1, round(timeout * 1000))),
        )
        schema = request.schema.model_json_schema()
        if "additionalProperties" in json.dumps(schema):
            # dict fields and extra="forbid" models: the Developer API's `response_schema`
            # (OpenAPI subset) cannot say that; its JSON Schema twin can
            config.response_json_schema = schema
        else:
            config.response_schema = request.schema
        return config

    async def complete(self, request: LlmRequest[T], *, timeout: float) -> T:
        try:
            async with asyncio.timeout(timeout):
                response = await self._client.aio.models.generate_content(
                    model=self.model,
                    contents=request.prompt,
                    config=self.config(request, timeout=timeout),
                )
        except errors.APIError as e:
            raise _from_api_error(e) from None
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderTimeout(f"gemini did not answer within {timeout:.2f}s") from None
        except _TRANSPORT_ERRORS as e:
            raise ProviderConnectionError(f"gemini unreachable ({type(e).__name__})") from None
        except (ValueError, TypeError) as e:  # the SDK could not read the answer
            raise ProviderResponseError(f"gemini answer unusable ({type(e).__name__})") from None
        text = _text(response)
        if not text:
            reason = _finish_reason(response)
            raise ProviderResponseError(f"gemini returned no text (finish reason {reason})")
        try:
            return request.schema.model_validate_json(text)
        except ValidationError:
            # not chained: the validation error quotes the answer, which may quote the call
            raise ProviderResponseError(
                f"gemini answer is not valid {request.schema.__name__} JSON"
            ) from None

    async def aclose(self) -> None:
        await self._client.aio.aclose()


def _from_api_error(e: errors.APIError) -> ProviderError:
    code, status = e.code, e.status
    label = f"HTTP {code}" + (f" {status}" if status else "")
    # Google answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID
    bad_key = "API_KEY_INVALID" in repr(e.details)
    return status_error("gemini", code or 0, label=label, auth_rejected=bad_key)


def _text(response: types.GenerateContentResponse) -> str:
    """The answer's text parts (never thoughts), without the SDK's warnings on other parts."""
    for candidate in response.candidates or []:
        content = candidate.content
        if content is None or not content.parts:
            continue
        return "".join(p.text for p in content.parts if p.text and not p.thought)
    return ""


def _finish_reason(response: types.GenerateContentResponse) -> str:
    for candidate in response.candidates or []:
        if candidate.finish_reason is not None:
            return str(candidate.finish_reason.value)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return f"blocked: {feedback.block_reason.value}"
    return "unknown"
