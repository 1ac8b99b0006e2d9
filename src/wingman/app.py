"""create_app(settings): FastAPI + Socket.IO on one ASGI app; the lifespan owns the container."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import socketio
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse

from wingman.container import Container
from wingman.errors import BadInput, NotFound, Unauthorized, WingmanError
from wingman.realtime.gateway import Gateway
from wingman.realtime.server import build_sio
from wingman.realtime.sink import InsightSink
from wingman.settings import Settings

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), display-capture=(self)",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self' blob:"
    ),
}


def default_web_dist() -> Path:
    return Path(__file__).resolve().parents[2] / "web" / "dist"


def _include_routers(app: FastAPI) -> None:
    from wingman.api.auth import router as auth_router
    from wingman.api.calls import router as calls_router
    from wingman.api.knowledge import router as knowledge_router
    from wingman.api.providers import router as providers_router

    for router in (auth_router, calls_router, knowledge_router, providers_router):
        app.include_router(router)


def _mount_web(app: FastAPI, dist: Path) -> None:
    index = dist / "index.html"

    @app.get("/{path:path}", include_in_schema=False)
    def web(path: str) -> Response:  # sync: file checks run in the threadpool
        if path.startswith(("api/", "socket.io")):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        target = (dist / path).resolve()
        if path and target.is_file() and target.is_relative_to(dist.resolve()):
            return FileResponse(target)
        if index.is_file():
            return FileResponse(index)
        return JSONResponse(
            {"detail": "the web app is not built: run `make run` (it builds web/)"},
            status_code=503,
        )


def create_app(settings: Settings | None = None) -> socketio.ASGIApp:
    """The whole product as one ASGI app (REST under /api, Socket.IO at /socket.io, web at /)."""
    settings = settings or Settings()
    sio = build_sio(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = Container(settings)
        await container.start()
        gateway = Gateway(container=container, sio=sio)
        sink = InsightSink(bus=container.bus, store=container.store, writer=gateway.writer, sio=sio)
        container.spawn(sink.run(), "insight-sink")
        container.spawn(gateway.reap_abandoned(), "reaper")
        app.state.container = container
        app.state.gateway = gateway
        try:
            yield
        finally:
            await gateway.aclose()
            await container.aclose()

    app = FastAPI(title="Wingman", version="0.1.0", lifespan=lifespan)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(WingmanError)
    async def wingman_error(request: Request, exc: WingmanError) -> JSONResponse:
        status = 500
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Unauthorized):
            status = 401
        elif isinstance(exc, BadInput):
            status = 400
        return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=status)

    _include_routers(app)
    _mount_web(app, settings.web_dist or default_web_dist())
    return socketio.ASGIApp(sio, other_asgi_app=app)
