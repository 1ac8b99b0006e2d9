"""Accounts and tokens: argon2 password hashes, HS256 JWTs, logout by revocation.

In `auth == "local"` mode (loopback only, see settings) a request without a token acts as the
built-in local user; a token that is present must still be valid. In `"required"` mode there is
no access without a valid token.

Passwords: argon2id with the RFC 9106 "low memory" profile (ARGON2_PARAMETERS: 64 MiB, 3
passes, 4 lanes, 16-byte salt, 32-byte hash), about 50 ms per hash on a laptop core, run on
its own bounded, low-priority threads (passwords.py), never the event loop nor the default
pool the live calls use. Login failures are throttled per email and client address (LoginThrottle): after
`login_failures_per_minute` failures the next attempts get 429 with Retry-After, before any
password is checked. Secrets are compared only inside argon2's and PyJWT's constant-time
checks (tests/security/test_auth_hardening.py fails on any `==` between secrets in src/).
Logout stores the token's `jti` as revoked, then tells `on_logout` listeners: the gateway closes
the sockets open with that token (realtime/sessions.py; other nodes find it in the store).

Every token issued is recorded (store `auth_sessions`), so a user can end all their sessions:
"sign out everywhere", a password change (current password re-entered; a new token for this
session) and deleting the account (password re-entered; store/account_store.py says what
happens to the data) each revoke every token of the user, open sockets included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from pydantic import BaseModel

from wingman.errors import BadInput, ConfigError, Unauthorized, WingmanError
from wingman.events import utcnow
from wingman.passwords import ARGON2_PARAMETERS as ARGON2_PARAMETERS
from wingman.passwords import PasswordHashing
from wingman.settings import Settings
from wingman.store.account_store import DeletedAccount
from wingman.store.accounts import LOCAL_USER_ID, FirstAccountTaken
from wingman.store.records import UserRecord
from wingman.store.repos import Store
from wingman.throttle import LoginThrottle as LoginThrottle
from wingman.throttle import SignupThrottle as SignupThrottle
from wingman.throttle import TooManyAttempts as TooManyAttempts
from wingman.throttle import address_key as address_key

log = logging.getLogger(__name__)

ALGORITHM = "HS256"
ISSUER = "wingman"
MIN_PASSWORD = 8
MAX_PASSWORD = 256  # argon2 takes anything; this only stops megabyte "passwords"
MAX_NAME = 200
SECRET_FILE = "secret.key"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
# one answer for every refused sign-up with valid input, an existing email included
REGISTRATION_REFUSED = "no account could be made with these details: if you have one, sign in"


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
    """Registration, login, logout, sessions and "who is this token" for REST and Socket.IO."""

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
        self.passwords = PasswordHashing(hasher)
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
        # first sign-ups of this process wait for each other: the losers are refused before
        # hashing (the store's lock keeps other processes to one first account too)
        self._first_signup = asyncio.Lock()
        self._local_made = False

    @property
    def mode(self) -> str:
        return self._settings.auth or "required"

    def close(self) -> None:
        """Stop the hashing threads."""
        self.passwords.close()

    # -- passwords (argon2 is deliberately slow: its own low-priority threads, see passwords.py)
    async def _hash(self, password: str) -> str:
        return await self.passwords.hash(password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        return await self.passwords.verify(password_hash, password)

    # -- tokens
    def _claims(self, user: UserRecord) -> tuple[dict[str, object], datetime]:
        now = self._clock()
        expires = now + timedelta(seconds=self._settings.token_ttl_seconds)
        claims: dict[str, object] = {
            "sub": user.id,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "iss": ISSUER,
        }
        return claims, expires

    def issue_token(self, user: UserRecord) -> tuple[str, datetime]:
        """A signed token for `user` and the time it expires (not recorded as a session:
        sign-in paths use `_grant`)."""
        claims, expires = self._claims(user)
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
        have accounts); TooManyAttempts past the sign-up rate of this address or node.
        Simultaneous first sign-ups make one account (the others get SignupClosed)."""
        email = validate_email(email)
        validate_password(password)
        self.signups.attempt(client)
        name = clean_name(name) or email.split("@", 1)[0]
        first = not self._settings.open_signup
        closed = "sign-up is by invitation: ask your workspace admin for a link"
        # says nothing about any email: only that this install takes invitations. Checked
        # before any hashing, and again once a concurrent first sign-up is done.
        if first and await self._store.has_accounts():
            raise SignupClosed(closed)
        async with self._first_signup if first else contextlib.nullcontext():
            if first and await self._store.has_accounts():
                raise SignupClosed(closed)
            password_hash = await self._hash(password)
            workspace = clean_name(workspace_name) or f"{name}'s workspace"
            try:
                if await self._store.get_user_by_email(email) is not None:
                    raise BadInput("taken")
                user = await self._store.create_user(
                    email=email, name=name, password_hash=password_hash, new_workspace=workspace,
                    first_account=first,
                )
            except FirstAccountTaken:
                raise SignupClosed(closed) from None
            except BadInput:
                raise BadInput(REGISTRATION_REFUSED, code="registration_refused") from None
        return await self._grant(user)

    async def accept_invitation(self, *, token: str, name: str, password: str) -> TokenGrant:
        """Create the invited account (in the inviting workspace, with the invited role) and
        sign it in. InvitationError when the link is invalid, used or expired."""
        validate_password(password)
        user = await self._store.accept_invitation(
            token=token, name=clean_name(name), password_hash=await self._hash(password)
        )
        return await self._grant(user)

    async def _check_password(self, email: str, password: str, client: str) -> UserRecord:
        """The account behind `email` if `password` is its password, counted by the login
        throttle before the check; Unauthorized (one message) otherwise."""
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
        return user

    async def login(self, *, email: str, password: str, client: str = "unknown") -> TokenGrant:
        """Sign in; Unauthorized with the same message for unknown email and wrong password;
        TooManyAttempts after too many failures for this email from this client address."""
        user = await self._check_password(email, password, client)
        if user.removed_at is not None:
            raise Unauthorized("this account was removed from its workspace")
        return await self._grant(user)

    async def _grant(self, user: UserRecord) -> TokenGrant:
        claims, expires = self._claims(user)
        await self._store.record_session(
            user_id=user.id, jti=str(claims["jti"]), now=self._clock(), expires_at=expires
        )
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
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
        await self._tell_listeners([jti])

    async def _tell_listeners(self, jtis: list[str]) -> None:
        for jti in jtis:
            for listener in list(self._logout_listeners):
                try:
                    await listener(jti)
                except Exception:  # the revocation is stored: other nodes' checks still apply it
                    log.exception("logout listener failed")

    def on_logout(self, listener: LogoutListener) -> None:
        """Call `listener(jti)` after each token revoked by this process (open sockets)."""
        self._logout_listeners.append(listener)

    # -- the user's own account
    async def _reauthenticate(self, user: UserRecord, password: str, client: str) -> None:
        """The current password again, counted by the login throttle like a sign-in."""
        if user.password_hash is None:
            raise BadInput("this account has no password (local mode)", code="no_password")
        checked = await self._check_password(user.email, password, client)
        if checked.id != user.id:  # cannot happen: emails are unique
            raise Unauthorized("wrong email or password")

    async def sign_out_everywhere(self, user: UserRecord) -> int:
        """End every session of `user` (this one included; open sockets are closed);
        returns how many tokens were revoked."""
        jtis = await self._store.end_sessions(user_id=user.id, now=self._clock())
        await self._tell_listeners(jtis)
        return len(jtis)

    async def change_password(
        self, user: UserRecord, *, current: str, new: str, client: str = "unknown"
    ) -> TokenGrant:
        """Check the current password, set the new one, end every session (this one too) and
        sign this one in again: the returned token replaces the caller's."""
        validate_password(new)
        await self._reauthenticate(user, current, client)
        password_hash = await self._hash(new)
        jtis = await self._store.set_password(user_id=user.id, password_hash=password_hash, now=self._clock())
        await self._tell_listeners(jtis)
        fresh = await self._store.get_user(user_id=user.id)
        return await self._grant(fresh or user)

    async def delete_account(
        self, user: UserRecord, *, password: str, client: str = "unknown"
    ) -> DeletedAccount:
        """Check the password, then delete the account and its data (store.delete_account);
        every session ends. BadInput(code="last_admin") for a workspace's only admin while
        others remain."""
        await self._reauthenticate(user, password, client)
        deleted = await self._store.delete_account(user_id=user.id, now=self._clock())
        await self._tell_listeners(deleted.jtis)
        return deleted

    async def _local_user(self) -> UserRecord:
        # made once (a write), then read: a write transaction per token-less request held
        # SQLite's write lock against the live calls' transcript writes under a request flood
        if self._local_made:
            found = await self._store.get_user(user_id=LOCAL_USER_ID)
            if found is not None:
                return found
        user = await self._store.ensure_local_user()
        self._local_made = True
        return user

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
                return await self._local_user(), None
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
        issued = claims["iat"]
        ended = user.sessions_revoked_at
        if ended is not None and isinstance(issued, int | float) and issued < int(ended.timestamp()):
            raise Unauthorized("this session was signed out")  # a token from before sessions were recorded
        return user, jti
