"""Builds the Socket.IO server for a container's settings."""

from __future__ import annotations

import time
from typing import Any

import socketio

from wingman import metrics
from wingman.connections import redis_options
from wingman.settings import Settings

STAMP = "wingman_sent"  # wall-clock time an emit was published, for wingman_socketio_fanout_seconds


class TimedRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """python-socketio's Redis manager, timing the relay: an emit published by one gateway
    carries its publish time, the gateways that receive it observe how long it took."""

    async def _publish(self, data: Any) -> Any:
        if isinstance(data, dict) and data.get("method") == "emit":
            data = {**data, STAMP: time.time()}
        return await super()._publish(data)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        await super()._handle_emit(message)
        sent = message.get(STAMP)
        if isinstance(sent, float):  # relayed from another gateway (local emits carry none)
            metrics.fanned_out(sent)


def build_sio(settings: Settings) -> socketio.AsyncServer:
    manager = None
    if settings.socketio_redis:
        # any node can emit to any call's room; the manager relays through Redis pub/sub
        # AUTH and TLS as every other Redis client (wingman/connections.py): this channel
        # carries every live transcript and insight between the gateways
        manager = TimedRedisManager(
            settings.redis_url, channel="wingman-socketio", redis_options=redis_options(settings)
        )
    # None: only pages from this server's own origin (Origin == Host) may open a socket; an
    # empty list would switch the Origin check off and let any web site drive the local user
    origins: list[str] | None = settings.cors_origins or None
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=origins,
        # generous transport limit, so an oversize chunk reaches the handler and gets a clear
        # `audio_too_large` error instead of the transport dropping the connection
        max_http_buffer_size=max(8 * 1024 * 1024, 4 * settings.max_chunk_bytes),
        ping_interval=10,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )
