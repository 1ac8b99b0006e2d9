"""Bounded tables: the in-memory dicts that remember recent ids, stamps and cached values, each
dropping its oldest entries past a limit so a long-running process does not grow without end."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def put(table: OrderedDict[K, V], key: K, value: V, *, limit: int, refresh: bool = False) -> None:
    """Set `table[key]`, then drop the oldest entries beyond `limit`. Entries are ordered by
    first insertion; `refresh` moves `key` to the newest end (least-recently-used order)."""
    table[key] = value
    if refresh:
        table.move_to_end(key)
    while len(table) > limit:
        table.popitem(last=False)
