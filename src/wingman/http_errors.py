"""HTTP status -> ProviderError: the one rule every HTTP provider (LLM, search, speech) uses.

Whether a failure is retried, and how the UI names it, follows from the error's class, so
every provider must map a status the same way. A provider passes only what its own API says
beyond the status (a quota reason, a bad-key message in a 400, a status of its own).
"""

from __future__ import annotations

from wingman.errors import (
    ProviderAuthError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderTimeout,
)


def status_error(
    provider: str,
    status: int,
    *,
    label: str | None = None,
    refused: str = "the request",
    rate_limited: bool = False,
    auth_rejected: bool = False,
    timeouts: bool = True,
) -> ProviderError:
    """The wingman error for HTTP error `status` from `provider`.

    429 (or `rate_limited`: the provider's own quota answer) is a rate limit; 401/403 (or
    `auth_rejected`: a bad key the provider reports otherwise) a rejected key; 408/504 a timeout
    unless `timeouts` is False (the provider's 504 means its backend is down); other 5xx an
    unavailable provider (retryable); anything else a refusal of `refused` (not retryable).
    `label` replaces "HTTP {status}" in the message.
    """
    label = label or f"HTTP {status}"
    if status == 429 or rate_limited:
        return ProviderRateLimited(f"{provider} rate limited ({label})")
    if status in (401, 403) or auth_rejected:
        return ProviderAuthError(f"{provider} rejected the API key ({label})")
    if timeouts and status in (408, 504):
        return ProviderTimeout(f"{provider} timed out ({label})")
    if status >= 500:
        return ProviderConnectionError(f"{provider} unavailable ({label})")
    return ProviderResponseError(f"{provider} refused {refused} ({label})")
