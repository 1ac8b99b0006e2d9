"""The bus helpers every backend shares: retries with backoff and key -> partition."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wingman.bus.base import partition_for, retry_transient
from wingman.errors import ProviderConnectionError


def transient(e: BaseException) -> bool:
    return isinstance(e, ConnectionError)


async def test_transient_failures_are_retried_until_success() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionResetError("peer went away")
        return "ok"

    assert await retry_transient(flaky, what="op", is_transient=transient, base_delay=0.001) == "ok"
    assert calls == 3


async def test_giving_up_raises_a_retryable_provider_error() -> None:
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionRefusedError("refused")

    with pytest.raises(ProviderConnectionError, match="op failed after 3 attempts") as info:
        await retry_transient(down, what="op", is_transient=transient, attempts=3, base_delay=0.001)
    assert calls == 3
    assert info.value.retryable
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        await retry_transient(broken, what="op", is_transient=transient, base_delay=0.001)
    assert calls == 1


def test_partition_for_is_stable_across_processes() -> None:
    keys = [f"call-{i}" for i in range(50)]
    here = [partition_for(k, 8) for k in keys]
    code = f"from wingman.bus.base import partition_for;print([partition_for(k, 8) for k in {keys!r}])"
    # A different PYTHONHASHSEED per process must not move a call to another partition.
    there = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    ).stdout
    assert there.strip() == str(here)
    assert len(set(here)) > 4  # and the calls spread over the partitions
