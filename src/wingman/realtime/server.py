"""Builds the Socket.IO server for a container's settings."""

from __future__ import annotations

import socketio

from wingman.connections import redis_options
from wingman.settings import Settings


def build_sio(settings: Settings) -> socketio.AsyncServer:
    manager = None
    if settings.socketio_redis:
        # any node can emit to any call's room; the manager relays through Redis pub/sub
        # AUTH and TLS as every other Redis client (wingman/connections.py): this channel
        # carries every live transcript and insight between the gateways
        manager = socketio.AsyncRedisManager(
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
