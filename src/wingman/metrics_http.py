"""The small HTTP endpoint of processes without a web server (`wingman agents`).

    GET /metrics      Prometheus text exposition of this process (wingman/metrics.py)
    GET /api/health   {"status": "ok", ...} while the process runs (probes, healthchecks)

HTTP/1.1 on asyncio streams, one request per connection: Prometheus and probes need no more,
and the agent worker stays free of a second web framework and its signal handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from wingman import metrics

log = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 8192
READ_TIMEOUT_SECONDS = 5.0


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class MetricsServer:
    """Serves /metrics and /api/health on `host:port` (port 0: a free one, see `.port`)."""

    def __init__(self, *, host: str, port: int, health: Callable[[], dict[str, Any]]) -> None:
        self.host, self.port = host, port
        self._health = health
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics endpoint listening", extra={"host": self.host, "port": self.port})

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def answer(self, method: str, path: str) -> bytes:
        """The response to one request line (no body is read: GET and HEAD only)."""
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _response("405 Method Not Allowed", "text/plain", b"GET only\n")
        if path == "/metrics" and metrics.enabled():
            body = metrics.exposition()
            content_type = metrics.CONTENT_TYPE
        elif path == "/api/health":
            body, content_type = json.dumps(self._health()).encode(), "application/json"
        else:
            return _response("404 Not Found", "text/plain", b"not found\n")
        return _response("200 OK", content_type, b"" if method == "HEAD" else body)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_REQUEST_BYTES:
                raise ValueError("request too large")
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            if len(parts) != 3:
                raise ValueError("bad request line")
            writer.write(self.answer(parts[0], parts[1]))
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            with contextlib.suppress(ConnectionError):
                writer.write(_response("400 Bad Request", "text/plain", b"bad request\n"))
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
