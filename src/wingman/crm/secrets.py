"""Keys derived from the server's secret key: one encrypts CRM tokens at rest, one signs the
OAuth `state` that ties a CRM's callback to the tenant and admin who asked to connect.

Tokens are sealed with AES-256-GCM (a random 96-bit nonce per value, the tenant and provider
as associated data, so a sealed token copied to another tenant's row does not open). Each key
comes from HKDF-SHA256 over the secret key with its own label: rotating the secret key makes
stored tokens unreadable, and the connections then ask to be reconnected. (Keys and signed
tokens: wingman/signing.py.)
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wingman.errors import BadInput
from wingman.signing import Signer, derive_key

STATE_TTL_SECONDS = 600
_VERSION = b"\x01"


class TokenUnreadable(Exception):
    """A sealed token that does not open with this key (secret key rotated, row tampered)."""


class TokenCipher:
    """Seals and opens CRM tokens (AES-256-GCM, key derived from the secret key)."""

    def __init__(self, secret: str) -> None:
        self._aead = AESGCM(derive_key(secret, b"crm-tokens"))

    def seal(self, value: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), context.encode())
        return base64.urlsafe_b64encode(_VERSION + nonce + sealed).decode()

    def open(self, sealed: str, *, context: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode())
            if raw[:1] != _VERSION:
                raise TokenUnreadable("unknown token format")
            return self._aead.decrypt(raw[1:13], raw[13:], context.encode()).decode()
        except (InvalidTag, ValueError) as e:
            raise TokenUnreadable("the stored token does not open with this server's key") from e


@dataclass(frozen=True)
class OAuthState:
    tenant_id: str
    user_id: str
    provider: str


class StateSigner:
    """The OAuth `state` parameter: a short-lived signed token (CSRF protection, RFC 6749 10.12)."""

    def __init__(self, secret: str) -> None:
        self._signer = Signer(
            secret, label=b"crm-oauth-state", audience="crm-oauth", ttl_seconds=STATE_TTL_SECONDS
        )

    def sign(self, state: OAuthState, *, now: float | None = None) -> str:
        claims = {
            "t": state.tenant_id,
            "u": state.user_id,
            "p": state.provider,
            "n": secrets.token_urlsafe(8),
        }
        return self._signer.sign(claims, now=now)[0]

    def verify(self, token: str, *, provider: str) -> OAuthState:
        claims = self._signer.verify(
            token, refused="the CRM sign-in link expired or is not ours: connect again", code="bad_state"
        )
        if claims.get("p") != provider:
            raise BadInput("this sign-in was for another CRM", code="bad_state")
        return OAuthState(tenant_id=str(claims["t"]), user_id=str(claims["u"]), provider=provider)
