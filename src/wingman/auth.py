"""Accounts and tokens: argon2 password hashes, HS256 JWTs, logout by revocation.

In `auth == "local"` mode (loopback only, see settings) a request without a token acts as the
built-in local user; a token that is present must still be valid. In `"required"` mode there is
no access without a valid token.

Passwords: argon2id with the RFC 9106 "low memory" profile (ARGON2_PARAMETERS: 64 MiB, 3
passes, 4 lanes, 16-byte salt, 32-byte hash), about 50 ms per hash on a laptop core, run off the
event loop. Login failures are throttled per email and client address (LoginThrottle): after
`login_failures_per_minute` failures the next attempts get 429 with Retry-After, before any
password is checked. Secrets are compared only inside argon2's and PyJWT's constant-time
checks (tests/security/test_auth_hardening.py fails on any `==` between secrets in src/).
Logout stores the token's `jti` as revoked, then tells `on_logout` listeners: the gateway closes
the sockets open with that token (realtime/sessions.py; other nodes find it in the store).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import re
import secrets
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import BaseModel

from wingman.errors import BadInput, ConfigError, Unauthorized, WingmanError
from wingman.events import utcnow
from wingman.settings import Settings
from wingman.store.records import UserRecord
from wingman.store.repos import Store

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "wingman"
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 takes anything; this only stops megabyte "passwords"
MAX_NAME = 200
SECRET_FILE = "secret.key"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# argon2id, RFC 9106 second recommended option ("low memory"): m=64 MiB, t=3, p=4, 16-byte
# salt, 32-byte hash. Raise memory_cost (never lower it) if the servers can afford it.
ARGON2_PARAMETERS = RFC_9106_LOW_MEMORY
LOGIN_WINDOW_SECONDS = 60.0
_MAX_THROTTLE_KEYS = 100_000  # bounded memory under a spray of random emails
# one answer for every refused sign-up with valid input, an existing email included
REGISTRATION_REFUSED = "no account could be made with these details: if you have one, sign in"


class TooManyAttempts(WingmanError):
    """Sign-in refused before checking the password: too many recent failures."""

    code = "rate_limited"

    def __init__(self, retry_after: float, *, what: str = "failed sign-ins") -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many {what}: try again in {self.retry_after} s")


def address_key(address: str) -> str:
    """The unit a client address is counted in: an IPv4 address, or the /64 network of an IPv6
    one (one subscriber gets a whole /64: counting single addresses lets them walk around)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """Sliding-window counts of sign-in attempts per (email, client address), per address and
    per email (addresses are counted by `address_key`: IPv6 by /64).

    `attempt` counts an attempt before its password is checked (40 concurrent guesses for one
    email all pass a check made before any of them failed); `succeeded` takes it back.
    In memory, per process: behind a load balancer each node counts its own share, so the
    effective limit is at most nodes x limit (sticky sessions keep a client on one node).
    """

    def __init__(
        self,
        *,
        per_email_ip: int,
        per_ip: int,
        per_email: int = 0,
        window_seconds: float = LOGIN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_email_ip = per_email_ip
        self.per_ip = per_ip
        self.per_email = per_email
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _keys(self, email: str, ip: str) -> tuple[tuple[tuple[str, str], int], ...]:
        ip = address_key(ip)
        return (((email, ip), self.per_email_ip), (("*", ip), self.per_ip), ((email, "*"), self.per_email))

    def check(self, email: str, ip: str) -> None:
        """Raise TooManyAttempts when this email+address, this address or this email is over
        its limit."""
        now = self._clock()
        for key, limit in self._keys(email, ip):
            times = self._recent(key, now)
            if limit > 0 and len(times) >= limit:
                raise TooManyAttempts(self.window - (now - times[0]))

    def failed(self, email: str, ip: str) -> None:
        """Count one failure (or an attempt still being checked)."""
        now = self._clock()
        if len(self._failures) >= _MAX_THROTTLE_KEYS:
            for key in list(self._failures)[: _MAX_THROTTLE_KEYS // 10]:
                self._recent(key, now)  # drops keys whose failures are all old
        for key, _limit in self._keys(email, ip):
            self._failures.setdefault(key, deque()).append(now)

    def attempt(self, email: str, ip: str) -> None:
        """`check`, then count this attempt at once, before any password is looked at."""
        self.check(email, ip)
        self.failed(email, ip)

    def succeeded(self, email: str, ip: str) -> None:
        """A right password: forget this email's attempts from this address, and take this
        attempt back from the address's and the email's counts."""
        keys = self._keys(email, ip)
        self._failures.pop(keys[0][0], None)
        for key, _limit in keys[1:]:
            times = self._failures.get(key)
            if times:
                times.pop()


class SignupThrottle:
    """Sign-ups per client address (/64 for IPv6) and per node, in a sliding hour, counted
    before the account is made (25 simultaneous sign-ups from one address: most are refused)."""

    def __init__(
        self, *, per_address: int, total: int, window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts = LoginThrottle(
            per_email_ip=0, per_ip=per_address, per_email=total, window_seconds=window_seconds, clock=clock
        )

    def attempt(self, ip: str) -> None:
        """Count a sign-up from `ip`; TooManyAttempts past either limit."""
        try:
            self._counts.attempt("*signup*", ip)
        except TooManyAttempts as e:
            raise TooManyAttempts(e.retry_after, what="sign-ups") from None


LogoutListener = Callable[[str], Awaitable[object]]


class TokenGrant(BaseModel):
    """What register and login return."""

    token: str
    user: UserRecord
    expires_at: datetime


def load_or_create_secret(data_dir: Path) -> str:
    """The token signing key kept in `data_dir/secret.key` (0600), made once on first start."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # a key others can read signs tokens for anyone
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ConfigError(f"{path} holds no usable key; delete it to make a new one") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def validate_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email) or not email.isprintable():
        raise BadInput("enter a valid email address", code="invalid_email")
    return email


def clean_name(name: str) -> str:
    """A display name without control characters (NUL, escapes), trimmed to MAX_NAME."""
    return "".join(ch for ch in name if unicodedata.category(ch) != "Cc").strip()[:MAX_NAME]


class SignupClosed(WingmanError):
    """Registration refused: this install takes new accounts by invitation only."""

    code = "signup_closed"


def validate_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadInput(
            f"the password must have {MIN_PASSWORD} to {MAX_PASSWORD} characters",
            code="invalid_password",
        )


class Auth:
    """Registration, login, logout and "who is this token" for REST and Socket.IO."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._settings = settings
        self._hasher = hasher or PasswordHasher.from_parameters(ARGON2_PARAMETERS)
        self._clock = clock
        self.throttle = LoginThrottle(
            per_email_ip=settings.login_failures_per_minute,
            per_ip=settings.login_failures_per_ip_per_minute,
            per_email=settings.login_failures_per_email_per_minute,
        )
        self.signups = SignupThrottle(
            per_address=settings.signups_per_hour, total=settings.signups_per_hour_total
        )
        key = settings.secret_key
        self._secret = key.get_secret_value() if key else load_or_create_secret(settings.data_dir)
        # verified against when the email is unknown, so both failures take as long
        self._dummy_hash: str | None = None
        self._logout_listeners: list[LogoutListener] = []

    @property
    def mode(self) -> str:
        return self._settings.auth or "required"

    # -- passwords (argon2 is deliberately slow: keep it off the event loop)
    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return await asyncio.to_thread(self._hasher.verify, password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # -- tokens
    def issue_token(self, user: UserRecord) -> tuple[str, datetime]:
        """A signed token for `user` and the time it expires."""
        now = self._clock()
        expires = now + timedelta(seconds=self._settings.token_ttl_seconds)
        claims = {
            "sub": user.id,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def _decode(self, token: str) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "jti", "exp", "iat"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the session has expired: sign in again") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("invalid token") from None
        return claims

    # -- the API
    async def register(
        self,
        *,
        email: str,
        name: str,
        password: str,
        workspace_name: str = "",
        client: str = "unknown",
    ) -> TokenGrant:
        """Create an account and sign it in, as the admin of a new workspace: the first account
        of a fresh install, or anyone when `open_signup` is on; else SignupClosed (others join
        by invitation). A known email gets the generic BadInput(code="registration_refused"),
        after as much work as a new one (the answer and its timing do not tell which emails
        have accounts); TooManyAttempts past the sign-up rate of this address or node."""
        email = validate_email(email)
        validate_password(password)
        self.signups.attempt(client)
        name = clean_name(name) or email.split("@", 1)[0]
        if not self._settings.open_signup and await self._store.has_accounts():
            # says nothing about any email: only that this install takes invitations
            raise SignupClosed("sign-up is by invitation: ask your workspace admin for a link")
        password_hash = await self._hash(password)
        workspace = clean_name(workspace_name) or f"{name}'s workspace"
        try:
            if await self._store.get_user_by_email(email) is not None:
                raise BadInput("taken")
            user = await self._store.create_user(
                email=email, name=name, password_hash=password_hash, new_workspace=workspace
            )
        except BadInput:
            raise BadInput(REGISTRATION_REFUSED, code="registration_refused") from None
        return self._grant(user)

    async def accept_invitation(self, *, token: str, name: str, password: str) -> TokenGrant:
        """Create the invited account (in the inviting workspace, with the invited role) and
        sign it in. InvitationError when the link is invalid, used or expired."""
        validate_password(password)
        user = await self._store.accept_invitation(
            token=token, name=clean_name(name), password_hash=await self._hash(password)
        )
        return self._grant(user)

    async def login(self, *, email: str, password: str, client: str = "unknown") -> TokenGrant:
        """Sign in; Unauthorized with the same message for unknown email and wrong password;
        TooManyAttempts after too many failures for this email from this client address."""
        email = email.strip().lower()
        self.throttle.attempt(email, client)  # counted now: concurrent guesses all count
        # no account has an unprintable email (validate_email), and PostgreSQL cannot even
        # compare one with a NUL in it: such an email is simply unknown
        user = await self._store.get_user_by_email(email) if email.isprintable() else None
        if user is None or user.password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._hash(secrets.token_hex(16))
            # as slow as a real check, so response times do not tell which emails exist
            await self._verify(self._dummy_hash, password)
            raise Unauthorized("wrong email or password")
        if not await self._verify(user.password_hash, password):
            raise Unauthorized("wrong email or password")
        self.throttle.succeeded(email, client)
        if user.removed_at is not None:
            raise Unauthorized("this account was removed from its workspace")
        return self._grant(user)

    def _grant(self, user: UserRecord) -> TokenGrant:
        token, expires = self.issue_token(user)
        return TokenGrant(token=token, user=user, expires_at=expires)

    async def logout(self, token: str) -> None:
        """Revoke a token until its expiry; an already invalid token is simply refused."""
        claims = self._decode(token)
        exp = claims["exp"]
        if not isinstance(exp, int):
            raise Unauthorized("invalid token")
        expires_at = datetime.fromtimestamp(exp, tz=UTC)
        jti = str(claims["jti"])
        await self._store.revoke_token(jti=jti, expires_at=expires_at)
        for listener in list(self._logout_listeners):
            try:
                await listener(jti)
            except Exception:  # the revocation is stored: other nodes' checks still apply it
                log.exception("logout listener failed")

    def on_logout(self, listener: LogoutListener) -> None:
        """Call `listener(jti)` after each logout handled by this process (open sockets)."""
        self._logout_listeners.append(listener)

    async def user_for_token(self, token: str | None) -> UserRecord:
        """The user a request acts as. No token: the local user in local mode, else
        Unauthorized. A bad, expired, revoked or orphaned token: Unauthorized."""
        user, _jti = await self.session_for_token(token)
        return user

    def token_expiry(self, token: str) -> datetime:
        """When a token (already checked by `session_for_token`) stops being valid."""
        exp = self._decode(token)["exp"]
        assert isinstance(exp, int)
        return datetime.fromtimestamp(exp, UTC)

    async def session_for_token(self, token: str | None) -> tuple[UserRecord, str | None]:
        """`user_for_token`, plus the token's id (None for the token-less local user)."""
        if not token:
            if self.mode == "local":
                return await self._store.ensure_local_user(), None
            raise Unauthorized("sign in first")
        claims = self._decode(token)
        jti = str(claims["jti"])
        if await self._store.is_token_revoked(jti=jti):
            raise Unauthorized("this session was signed out")
        user = await self._store.get_user(user_id=str(claims["sub"]))
        if user is None:
            raise Unauthorized("this account no longer exists")
        if user.removed_at is not None:
            raise Unauthorized("this account was removed from its workspace")
        return user, jti
