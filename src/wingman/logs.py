"""Logging for every process: plain text (default) or JSON lines (WINGMAN_LOG_FORMAT=json).

A JSON line holds the time, level, logger, message, the process's node id and role, every
`extra={...}` field of the call site, and the call and block being handled (`bind`, kept in
context variables, so a log line deep inside a call's task carries its ids without passing them
along). Logs carry ids, counts and timings, never transcript text: call sites pass none, and as a
second line of defence fields whose names mean text (`text`, `content`, `prompt`, ...) are
replaced by their length. Exceptions are logged as their type and a stack of file:line frames,
never their message (a provider error may echo the prompt it was sent).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

_call_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("wingman_call_id", default=None)
_block_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("wingman_block_id", default=None)

# attributes every LogRecord has: anything else on a record came from `extra=`
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
TEXT_FIELDS = frozenset(
    {"text", "content", "prompt", "transcript", "snippet", "context_snippet", "input", "output", "query"}
)


def bind(*, call_id: str | None = None, block_id: str | None = None) -> None:
    """The call (and block) this task works on, for every log line it writes from now on.
    Tasks created afterwards inherit it; the caller's own context is not changed."""
    if call_id is not None:
        _call_id.set(call_id)
    if block_id is not None:
        _block_id.set(block_id)


def _safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, *, node_id: str = "", role: str = "") -> None:
        super().__init__()
        self.node_id, self.role = node_id, role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.node_id:
            line["node"] = self.node_id
        if self.role:
            line["role"] = self.role
        call_id, block_id = _call_id.get(), _block_id.get()
        if call_id is not None:
            line["call_id"] = call_id
        if block_id is not None:
            line["block_id"] = block_id
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in TEXT_FIELDS:
                line[f"{key}_chars"] = len(value) if isinstance(value, str) else None
                continue
            line[key] = _safe(value)
        if record.exc_info and record.exc_info[0] is not None:
            frames = traceback.extract_tb(record.exc_info[2])
            line["error"] = record.exc_info[0].__name__
            line["stack"] = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[-8:]]
        return json.dumps(line, ensure_ascii=False, default=repr)


def setup(
    *, level: str = "INFO", fmt: Literal["text", "json"] = "text", node_id: str = "", role: str = ""
) -> None:
    """Configure the root logger of this process (and uvicorn's, which has its own handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(node_id=node_id, role=role))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


class AccessLogWithoutQuery(logging.Filter):
    """Drops the query string from uvicorn's access lines: `?q=` holds what a rep searched
    their calls for (customer names, deal terms), which does not belong in logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


_ACCESS_FILTER = AccessLogWithoutQuery()


def hide_query_strings() -> None:
    """Attach AccessLogWithoutQuery to uvicorn's access logger (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if _ACCESS_FILTER not in access.filters:
        access.addFilter(_ACCESS_FILTER)
