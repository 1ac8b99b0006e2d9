"""Google Programmable Search (Custom Search JSON API): `GET {base_url}?key=&cx=&q=&num=`.

`num` is at most 10. A search with no match has no `items` at all. Errors come as
`{"error": {code, message, errors: [{reason}], status}}`; quota reasons become rate limits.
The key travels in the query string, as the API requires, so it is registered for redaction:
httpx logs request URLs, and none of our errors quote a URL.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from pydantic import SecretStr

from wingman.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
)
from wingman.http_errors import status_error
from wingman.redaction import protect
from wingman.search.base import Search, SearchHit

log = logging.getLogger(__name__)

MAX_NUM = 10
QUOTA_REASONS = {"rateLimitExceeded", "dailyLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


class GoogleSearch(Search):
    """Custom Search JSON API; the httpx client comes from the container."""

    name = "google"

    def __init__(
        self,
        *,
        api_key: SecretStr,
        cse_id: str,
        base_url: str = "https://www.googleapis.com/customsearch/v1",
        client: httpx.AsyncClient,
        timeout_seconds: float = 1.5,
    ) -> None:
        protect(api_key)
        self._api_key = api_key
        self.cse_id = cse_id
        self.base_url = base_url
        self._client = client
        self.timeout_seconds = timeout_seconds

    def __repr__(self) -> str:
        return f"GoogleSearch(base_url={self.base_url!r}, cse_id={self.cse_id!r})"

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        params = {
            "key": self._api_key.get_secret_value(),
            "cx": self.cse_id,
            "q": query,
            "num": str(max(1, min(limit, MAX_NUM))),
        }
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.get(self.base_url, params=params, timeout=self.timeout_seconds)
                data = response.json()
        except (TimeoutError, httpx.TimeoutException):
            raise ProviderTimeout(f"google did not answer within {self.timeout_seconds}s") from None
        except httpx.HTTPError as e:
            raise ProviderConnectionError(f"google unreachable ({type(e).__name__})") from None
        except ValueError:
            if response.status_code == 200:
                raise ProviderResponseError("google answered with malformed JSON") from None
            data = None
        if response.status_code != 200:
            raise _status_error(response.status_code, data)
        if not isinstance(data, dict):
            raise ProviderResponseError("google answer is not a JSON object")
        items = data.get("items") or []
        hits = []
        for rank, item in enumerate(items[:limit] if isinstance(items, list) else []):
            if not isinstance(item, dict) or not item.get("link"):
                continue
            hits.append(
                SearchHit(
                    title=str(item.get("title") or item["link"]),
                    snippet=str(item.get("snippet") or ""),
                    source=self.name,
                    url=str(item["link"]),
                    score=1.0 / (rank + 1),  # Google ranks but does not score
                )
            )
        return hits


def _status_error(status: int, data: Any) -> ProviderError:
    error = data.get("error") if isinstance(data, dict) else None
    reasons: set[str] = set()
    message = ""
    if isinstance(error, dict):
        message = str(error.get("message") or "")
        for e in error.get("errors") or []:
            if isinstance(e, dict) and isinstance(e.get("reason"), str):
                reasons.add(e["reason"])
    return status_error(
        "google",
        status,
        rate_limited=bool(reasons & QUOTA_REASONS),  # a daily limit comes as 403
        auth_rejected="API key not valid" in message or "keyInvalid" in reasons,
        timeouts=False,  # its 504 is a backend failure, not our deadline
    )
