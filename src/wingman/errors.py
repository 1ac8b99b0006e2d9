"""The error hierarchy. Vendor exceptions never leak past a provider: they become these."""

from __future__ import annotations


class WingmanError(Exception):
    """Base of every error Wingman raises on purpose."""

    code = "internal"


class ConfigError(WingmanError):
    """Settings that cannot work together (caught at start-up, never mid-call)."""

    code = "config"


class BadInput(WingmanError):
    """Input from a client that we refuse; the message is safe to show to that client."""

    code = "bad_input"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


# REST status of a BadInput by its code (400 otherwise): a collision with existing data is a
# conflict, a used-up or expired invitation is gone, a step the caller's role may not take
# is forbidden (their own role is no secret to them)
BAD_INPUT_STATUS = {
    "email_taken": 409,
    "conflict": 409,
    "last_admin": 409,
    "invitation_used": 410,
    "invitation_expired": 410,
    "forbidden": 403,
}


class NotFound(WingmanError):
    """No such object for this caller (also used for other tenants' objects: never 403)."""

    code = "not_found"


class Unauthorized(WingmanError):
    code = "unauthorized"


class Busy(WingmanError):
    """This node is at capacity and refuses new work; another node (or this one, after
    `retry_after` seconds) can take it."""

    code = "busy"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderError(WingmanError):
    """A provider (speech, LLM, search, bus, store) failed. `retryable` says whether to try again."""

    code = "provider"
    retryable = False


class ProviderConnectionError(ProviderError):
    """The connection to a provider was lost or refused; worth a retry with backoff."""

    retryable = True


class ProviderTimeout(ProviderError):
    retryable = True


class ProviderRateLimited(ProviderError):
    retryable = True


class ProviderAuthError(ProviderError):
    """Bad or missing key: retrying will not help."""


class ProviderResponseError(ProviderError):
    """The provider answered with something we cannot use (malformed JSON, wrong schema)."""


# -- trust: refusals with their own HTTP answers (app.py maps them)
class TooLarge(BadInput):
    """The input is over a size limit (bytes, pages, characters, passages): 413."""

    code = "too_large"


class Unprocessable(BadInput):
    """The input is well-formed but could not be processed within its limits (a PDF that
    takes too long to read): 422."""

    code = "unprocessable"


class QuotaExceeded(WingmanError):
    """A per-user or per-tenant quota is used up (calls, sockets, documents, bytes, minutes,
    sign-ups): 429, with `retry_after` when waiting helps."""

    code = "quota_exceeded"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class SpeechFailed(WingmanError):
    """A call's speech stream broke for good (every engine failed): the rep is told, the
    socket stays open."""

    code = "stt_failed"
