"""Shared fixtures: real services on loopback. Missing services fail, they never skip."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.services import REDIS_PORT, postgres_database, require_port, tansu_broker


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database number of its own, flushed before and after."""
    import redis

    require_port(REDIS_PORT, "Redis")
    # WINGMAN_TEST_REDIS_DB lets two suites share one Redis server without flushing each other
    url = f"redis://127.0.0.1:6379/{os.environ.get('WINGMAN_TEST_REDIS_DB', '9')}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    with tansu_broker() as bootstrap:
        yield bootstrap
