"""Secrets out of text and logs.

Providers `register_secret()` their keys at construction; `redact()` removes them (and anything
shaped like a credential) from any text, and `install_log_redaction()` puts the same filter on
the third-party loggers that could print a URL or header carrying a key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from pydantic import SecretStr

_SECRETS: set[str] = set()
_PATTERNS = (
    # `Authorization: Token abc`, `Bearer abc`, `Token abc`
    re.compile(r"(?i)\b(bearer|token)(\s+)[A-Za-z0-9._~+/=-]{4,}"),
    # key=... in URLs and query strings
    re.compile(r"(?i)([?&;](?:key|api_key|apikey|access_token|token)=)[^&\s\"'#]+"),
    re.compile(r"\b(sk-|tvly-)[A-Za-z0-9_-]{8,}"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{20,}"),
)
MASK = "***"


def register_secret(secret: SecretStr | str | None) -> None:
    """Remember a key so `redact()` and the log filter remove it wherever it shows up."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` without registered secrets or anything shaped like a credential."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_mask_match, text)
    return text


def _mask_match(m: re.Match[str]) -> str:
    if m.lastindex and m.lastindex >= 1 and m.group(1).lower() in ("bearer", "token"):
        return f"{m.group(1)}{m.group(2)}{MASK}"
    if m.lastindex and m.group(1).endswith("="):
        return f"{m.group(1)}{MASK}"
    return MASK


class RedactingFilter(logging.Filter):
    """Rewrites a record's message when it carries a secret; never drops the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()
# Loggers that print request URLs or handshake headers (websockets logs them at DEBUG).
WIRE_LOGGERS = (
    "httpx",
    "httpcore.http11",
    "httpcore.connection",
    "websockets.client",
    "openai._base_client",
    "google_genai._api_client",
    "wingman.stt.deepgram.wire",
)


def install_log_redaction(names: Iterable[str] = WIRE_LOGGERS) -> None:
    """Attach the redacting filter to `names` (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def protect(secret: SecretStr | str | None) -> None:
    """What every provider holding a key does at construction: register the key and make sure
    the wire loggers are filtered."""
    register_secret(secret)
    install_log_redaction()
