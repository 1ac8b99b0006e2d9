"""Auth against a real (SQLite) Store: accounts, tokens, logout, local and required modes."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from tests.integration.store_support import Clock, sqlite_url
from wingman.auth import SECRET_FILE, Auth, load_or_create_secret
from wingman.errors import BadInput, ConfigError, Unauthorized
from wingman.events import utcnow
from wingman.settings import Settings
from wingman.store.records import UserRecord
from wingman.store.repos import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(url=sqlite_url(tmp_path))
    await s.migrate()
    yield s
    await s.aclose()


def settings(tmp_path: Path, mode: str = "required", **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", auth=mode, **kw)  # type: ignore[arg-type]


def test_secret_is_made_once_private_and_reused(tmp_path: Path) -> None:
    secret = load_or_create_secret(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) >= 32
    path.chmod(0o644)
    assert load_or_create_secret(tmp_path / "data") == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short")
    with pytest.raises(ConfigError):
        load_or_create_secret(tmp_path / "data")


async def test_register_login_and_tokens(store: Store, tmp_path: Path) -> None:
    auth = Auth(store=store, settings=settings(tmp_path))
    grant = await auth.register(email=" Dana@Example.com", name="", password="correct horse")
    assert grant.user.email == "dana@example.com" and grant.user.name == "dana"
    assert (await auth.user_for_token(grant.token)).id == grant.user.id
    login = await auth.login(email="DANA@example.com", password="correct horse")
    assert login.user.id == grant.user.id and login.token != grant.token
    stored = await store.get_user_by_email("dana@example.com")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$") and "correct" not in stored.password_hash
    # the same answer for a wrong password and an unknown account
    with pytest.raises(Unauthorized) as wrong:
        await auth.login(email="dana@example.com", password="wrong horse")
    with pytest.raises(Unauthorized) as unknown:
        await auth.login(email="nobody@example.com", password="correct horse")
    assert str(wrong.value) == str(unknown.value)


async def test_registration_is_validated(store: Store, tmp_path: Path) -> None:
    auth = Auth(store=store, settings=settings(tmp_path, open_signup=True))
    await auth.register(email="dana@example.com", name="Dana", password="12345678")
    with pytest.raises(BadInput) as taken:
        await auth.register(email="DANA@example.com", name="D", password="12345678")
    assert taken.value.code == "registration_refused"  # the generic answer: no "exists"
    for email in ["dana", "dana@", "@example.com", "da na@example.com", "dana@example"]:
        with pytest.raises(BadInput) as bad:
            await auth.register(email=email, name="x", password="12345678")
        assert bad.value.code == "invalid_email"
    with pytest.raises(BadInput) as short:
        await auth.register(email="new@example.com", name="x", password="1234567")
    assert short.value.code == "invalid_password"


async def test_logout_revokes_only_that_token(store: Store, tmp_path: Path) -> None:
    auth = Auth(store=store, settings=settings(tmp_path))
    first = await auth.register(email="dana@example.com", name="Dana", password="12345678")
    second = await auth.login(email="dana@example.com", password="12345678")
    await auth.logout(first.token)
    with pytest.raises(Unauthorized):
        await auth.user_for_token(first.token)
    assert (await auth.user_for_token(second.token)).id == first.user.id
    with pytest.raises(Unauthorized):
        await auth.logout("not-a-token")


async def test_bad_expired_foreign_and_orphan_tokens_are_refused(
    store: Store, tmp_path: Path
) -> None:
    s = settings(tmp_path)
    auth = Auth(store=store, settings=s)
    grant = await auth.register(email="dana@example.com", name="Dana", password="12345678")
    past = Clock(utcnow() - timedelta(seconds=s.token_ttl_seconds + 60))
    stale, _ = Auth(store=store, settings=s, clock=past).issue_token(grant.user)
    foreign = jwt.encode({"sub": grant.user.id, "jti": "j", "iat": 1, "exp": 2**31,
                          "iss": "wingman"}, "another-secret-another-secret-12", algorithm="HS256")
    ghost, _ = auth.issue_token(UserRecord(id="ghost", email="g@example.com", name="g",
                                           created_at=utcnow()))
    for token, message in [(stale, "expired"), (foreign, "invalid"), ("x.y.z", "invalid"),
                           (ghost, "no longer exists")]:
        with pytest.raises(Unauthorized, match=message):
            await auth.user_for_token(token)


async def test_modes_without_a_token(store: Store, tmp_path: Path) -> None:
    local = Auth(store=store, settings=settings(tmp_path, "local"))
    assert (await local.user_for_token(None)).id == (await store.ensure_local_user()).id
    with pytest.raises(Unauthorized):
        await local.user_for_token("garbage")  # a token that is there must be valid
    required = Auth(store=store, settings=settings(tmp_path, "required"))
    with pytest.raises(Unauthorized):
        await required.user_for_token(None)
    with pytest.raises(Unauthorized):
        await required.login(email="rep@wingman.local", password="anything")  # no password


async def test_configured_secret_is_used_and_nothing_is_written(
    store: Store, tmp_path: Path
) -> None:
    s = settings(tmp_path, secret_key=SecretStr("k" * 40))
    auth = Auth(store=store, settings=s)
    grant = await auth.register(email="dana@example.com", name="Dana", password="12345678")
    assert jwt.decode(grant.token, "k" * 40, algorithms=["HS256"], issuer="wingman")["sub"] == (
        grant.user.id)
    assert not (tmp_path / "data" / SECRET_FILE).exists()
