"""What a failure means for the user: a short code and a phrase, and a message safe to show.

`error_kind()` names the kind of a provider failure (timeout, rate limit, bad key, ...) for
the provider-status message and the metrics; `describe_error()` is the sanitized text that
/api/providers and the UI show (secrets removed, bounded length).
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
from wingman.redaction import redact

# most specific first: the first class the error is an instance of names it
_KINDS: tuple[tuple[type[BaseException], str, str], ...] = (
    (ProviderTimeout, "timeout", "timed out"),
    (ProviderRateLimited, "rate_limited", "is rate limited"),
    (ProviderAuthError, "auth", "rejected the API key"),
    (ProviderConnectionError, "connection", "is unreachable"),
    (ProviderResponseError, "response", "sent an unusable answer"),
    (ProviderError, "provider", "failed"),
)


def error_kind(error: BaseException | str) -> tuple[str, str]:
    """(code, what it means for the user) for a provider failure."""
    for cls, code, reason in _KINDS:
        if isinstance(error, cls):
            return code, reason
    return ("provider", "failed") if isinstance(error, str) else ("internal", "failed")


def describe_error(error: BaseException | str) -> tuple[str, str]:
    """(code, sanitized message) for an error, safe to show in the UI and the API."""
    code, _ = error_kind(error)
    if isinstance(error, str):
        return code, redact(error)[:300]
    text = str(error) or type(error).__name__
    return code, redact(f"{type(error).__name__}: {text}")[:300]
