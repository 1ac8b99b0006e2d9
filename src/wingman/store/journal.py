"""The writer's journal on disk: every queued store write is appended before it is attempted
and marked done once applied, so neither a shutdown with the database away nor a kill -9
loses a finalized segment or an insight. The next start replays what was never marked done.

One JSON object per line, appended with a single unbuffered write (the kernel keeps it when
the process dies; an fsync per segment would cost more than the write itself, so a power
loss can still take the last moments):
    {"seq": 7, "kind": "segment", "user_id": "...", "call_id": "...", "event": {...}}
    {"done": 7}
A torn last line (the process died mid-write) is skipped. The file is rewritten with only the
pending entries at start-up, and emptied whenever nothing is pending.

Each process holds a lock (flock) on its own file, so processes sharing a data dir never
write into one file; at start-up a process adopts the files nobody holds (a node that died).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PATTERN = "writes-*.jsonl"
COMPACT_BYTES = 1024 * 1024  # an idle journal larger than this is emptied


@dataclass(frozen=True)
class Entry:
    """One journaled write: its kind (segment, sentiment, insight, agent_run), tenant, call and
    event (JSON)."""

    seq: int
    kind: str
    user_id: str
    call_id: str
    event: dict[str, Any]


def unfinished(path: Path) -> list[Entry]:
    """The entries of a journal file never marked done, in order."""
    entries: dict[int, Entry] = {}
    for item in _read(path):
        if "done" in item:
            entries.pop(int(item["done"]), None)
        elif "seq" in item:
            try:
                entry = Entry(int(item["seq"]), str(item["kind"]), str(item["user_id"]),
                              str(item["call_id"]), dict(item["event"]))
            except (KeyError, TypeError, ValueError):
                continue
            entries[entry.seq] = entry
    return [entries[k] for k in sorted(entries)]


def _read(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    for line in raw.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a torn write from a process that died mid-line
        if isinstance(item, dict):
            yield item


class Journal:
    """Append-only file of pending writes in `directory` (0700, the file 0600)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.directory = directory
        self._fd: int | None = None
        self._seq = 0
        self.pending = 0  # entries written and not yet marked done
        self.path = directory / f"writes-{uuid.uuid4().hex[:12]}.jsonl"
        for existing in sorted(directory.glob(PATTERN)):
            fd = _locked(existing)
            if fd is not None:  # a file no live process holds: ours from now on
                self.path, self._fd = existing, fd
                break
        if self._fd is None:
            self._fd = _locked(self.path, create=True)

    def unfinished(self) -> list[Entry]:
        """The entries in our file never marked done, in order."""
        entries = unfinished(self.path)
        self._seq = max([self._seq, *(e.seq for e in entries)])
        return entries

    def recover(self) -> list[Entry]:
        """The entries never marked done (in order), ours and those of files no live process
        holds (adopted, then deleted); our file is rewritten to hold only them."""
        pending = self.unfinished()
        adopted: list[Path] = []
        for other in sorted(self.directory.glob(PATTERN)):
            fd = _locked(other) if other != self.path else None
            if fd is None:
                continue
            try:
                for e in unfinished(other):
                    self._seq += 1
                    pending.append(Entry(self._seq, e.kind, e.user_id, e.call_id, e.event))
                adopted.append(other)
            finally:
                os.close(fd)
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, b"".join(_line(_record(e)) for e in pending))
        os.fsync(self._fd)
        for other in adopted:
            with contextlib.suppress(FileNotFoundError):
                other.unlink()
        self.pending = len(pending)
        return pending

    def append(self, kind: str, user_id: str, call_id: str, event: dict[str, Any]) -> Entry:
        """Journal a write before it is attempted; its `seq` marks it done later."""
        assert self._fd is not None, "the journal is closed"
        self._seq += 1
        entry = Entry(self._seq, kind, user_id, call_id, event)
        os.write(self._fd, _line(_record(entry)))
        self.pending += 1
        return entry

    def done(self, seq: int) -> None:
        """Mark an entry applied (or given up); empty the file once nothing is pending."""
        if self._fd is None:
            return  # closed at shutdown: the entry is replayed (idempotently) at the next start
        os.write(self._fd, _line({"done": seq}))
        self.pending = max(0, self.pending - 1)
        if self.pending == 0 and os.fstat(self._fd).st_size > COMPACT_BYTES:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Release the file (its lock too): pending entries wait there for the next start."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _locked(path: Path, *, create: bool = False) -> int | None:
    """An append descriptor on `path` holding its exclusive lock, or None if another process
    holds it (or it vanished)."""
    flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _record(entry: Entry) -> dict[str, Any]:
    return {"seq": entry.seq, "kind": entry.kind, "user_id": entry.user_id, "call_id": entry.call_id,
            "event": entry.event}


def _line(item: dict[str, Any]) -> bytes:
    return json.dumps(item, separators=(",", ":")).encode() + b"\n"
