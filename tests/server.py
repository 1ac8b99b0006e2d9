"""Run the real Wingman ASGI app under uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from tests.services import free_port
from wingman.app import create_app
from wingman.settings import Settings


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """Serve `app` on 127.0.0.1:`port` until the block ends (its lifespan runs start and stop)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws="websockets-sansio", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="wingman-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the Wingman server failed to start (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError("the Wingman server did not start within 120 s")
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """Yield the server's base URL; the server (and its container) stops on exit."""
    port = free_port()
    with serving(create_app(settings.model_copy(update={"port": port})), port):
        yield f"http://127.0.0.1:{port}"
