"""Keys derived from the server's secret key, and the short-lived signed tokens made with them.

Each purpose gets its own key (HKDF-SHA256 over the secret key with the purpose's label) and its
own JWT audience, so a token made for one purpose (a recording's playback link, a CRM's OAuth
`state`) is refused by every other. Rotating the secret key voids them all.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wingman.errors import BadInput


def derive_key(secret: str, label: bytes) -> bytes:
    """32 bytes for one purpose (`label`) from the server's secret key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wingman/" + label).derive(
        secret.encode()
    )


class Signer:
    """HS256 tokens for one purpose: `label` picks the key, `audience` marks the tokens, and
    each lives `ttl_seconds`."""

    def __init__(self, secret: str, *, label: bytes, audience: str, ttl_seconds: int) -> None:
        self._key = derive_key(secret, label)
        self._audience = audience
        self.ttl_seconds = ttl_seconds

    def sign(self, claims: Mapping[str, Any], *, now: float | None = None) -> tuple[str, int]:
        """A token carrying `claims`, and when it expires (Unix seconds)."""
        issued = int(now if now is not None else time.time())
        expires = issued + self.ttl_seconds
        payload = {**claims, "iat": issued, "exp": expires, "aud": self._audience}
        return jwt.encode(payload, self._key, algorithm="HS256"), expires

    def verify(self, token: str, *, refused: str, code: str) -> dict[str, Any]:
        """The claims of a valid, unexpired token of this purpose; BadInput(`refused`, `code`)
        for anything else."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token, self._key, algorithms=["HS256"], audience=self._audience
            )
        except jwt.PyJWTError as e:
            raise BadInput(refused, code=code) from e
        return claims
