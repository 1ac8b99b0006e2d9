"""create_app(settings): FastAPI + Socket.IO on one ASGI app; the lifespan owns the container."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import socketio
from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi_offline import FastAPIOffline

from wingman import logs, metrics, tracing
from wingman.api.guards import BodyLimit, host_checker
from wingman.api.peers import local_peer_ok, origin_checker, parse_networks, refuse, resolve_client
from wingman.auth import TooManyAttempts
from wingman.container import Container
from wingman.errors import (
    BAD_INPUT_STATUS,
    BadInput,
    NotFound,
    ProviderError,
    QuotaExceeded,
    TooLarge,
    Unauthorized,
    Unprocessable,
    WingmanError,
)
from wingman.privacy import redact_insight, retention_loop
from wingman.realtime.gateway import Gateway
from wingman.realtime.server import build_sio
from wingman.realtime.sink import InsightSink
from wingman.realtime.stalls import LoopStallTracer
from wingman.settings import Settings

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), display-capture=(self)",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    ),
}
# /docs and /redoc load Swagger UI / ReDoc from this server (fastapi-offline ships the bundles, so
# they work with no internet) and start them with an inline bootstrap script; they show the API
# schema only, never user data.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
DOCS_STATIC = "/api-docs-static"


class WingmanApp(socketio.ASGIApp):  # type: ignore[misc]
    """Socket.IO + FastAPI behind the gates that cover /socket.io too: the real client behind
    trusted proxies, local mode's Host and peer checks, and the Origin check of every
    state-changing request and Socket.IO handshake (api/peers.py)."""

    def __init__(
        self,
        sio: socketio.AsyncServer,
        app: Any,
        *,
        host_ok: Callable[[dict[str, Any]], bool] | None,
        local_mode: bool = False,
        origin_ok: Callable[[dict[str, Any]], bool] | None = None,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        super().__init__(sio, other_asgi_app=app)
        self.host_ok = host_ok
        self.local_mode = local_mode
        self.origin_ok = origin_ok
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().__call__(scope, receive, send)
            return
        client = resolve_client(scope, self.trusted)
        if client is not None:
            scope = dict(scope, client=(client, (scope.get("client") or (None, 0))[1]))
        if self.host_ok is not None and not self.host_ok(scope):
            await refuse(scope, send, 421, "this server only answers to its own host name", "bad_host")
            return
        if self.local_mode and not local_peer_ok(scope):
            # the token-less local user is this machine's only: not a proxy's other clients
            detail = "local mode answers only this machine: use WINGMAN_AUTH=required"
            await refuse(scope, send, 403, detail, "not_local")
            return
        if self.origin_ok is not None and not self.origin_ok(scope):
            await refuse(scope, send, 403, "cross-origin request refused", "cross_origin")
            return
        await super().__call__(scope, receive, send)


def default_web_dist() -> Path:
    return Path(__file__).resolve().parents[2] / "web" / "dist"


def _include_routers(app: FastAPI) -> None:
    from wingman.api.analysis import router as analysis_router
    from wingman.api.auth import router as auth_router
    from wingman.api.calls import router as calls_router
    from wingman.api.crm import router as crm_router
    from wingman.api.health import router as health_router
    from wingman.api.knowledge import router as knowledge_router
    from wingman.api.profile import router as profile_router
    from wingman.api.providers import router as providers_router
    from wingman.api.recordings import router as recordings_router
    from wingman.api.speakers import router as speakers_router
    from wingman.api.summary import router as summary_router
    from wingman.api.vocabulary import router as vocabulary_router
    from wingman.api.workspace import routers as workspace_routers

    routers = (
        health_router, auth_router, calls_router, crm_router, knowledge_router, providers_router,
        vocabulary_router, profile_router, speakers_router, recordings_router, summary_router,
    )
    for router in (analysis_router, *routers):
        app.include_router(router)
    for router in workspace_routers:  # workspace, members, invitations, team, playbook
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


def create_app(
    settings: Settings | None = None,
    *,
    container_factory: Callable[[Settings], Container] = Container,
) -> socketio.ASGIApp:
    """The whole product as one ASGI app (REST under /api, Socket.IO at /socket.io, web at /).
    `container_factory` lets tests hand in a Container subclass with scripted providers."""
    settings = settings or Settings()
    sio = build_sio(settings)
    metrics.configure(enabled=settings.metrics)
    logs.hide_query_strings()  # search terms (?q=) never reach the access log
    if settings.tracing:
        tracing.configure(enabled=True, endpoint=settings.otlp_endpoint, service="wingman-gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = container_factory(settings)
        await container.start()
        gateway = Gateway(container=container, sio=sio)
        sink = InsightSink(
            bus=container.bus,
            store=container.store,
            writer=container.writer,
            outbox=gateway.outbox,
            redact=redact_insight if settings.redact else None,
        )
        container.spawn(sink.run(), "insight-sink")
        container.spawn(gateway.lifecycle.upkeep.reap_abandoned(), "reaper")
        container.spawn(gateway.lag.run(), "loop-lag")  # /api/health and admission control read it
        if settings.loop_stall_trace_seconds is not None:  # where the loop blocks, in the log
            stalls = LoopStallTracer(threshold=settings.loop_stall_trace_seconds)
            container.spawn(stalls.run(), "loop-stalls")
        # sockets whose token was logged out on another node are closed too
        container.spawn(gateway.sessions.watch(settings.revocation_check_seconds), "revocations")
        # calls a crashed node (or a vanished client) left open are finalized
        container.spawn(
            gateway.lifecycle.upkeep.sweep_orphans(every=settings.orphan_sweep_seconds), "orphan-sweep"
        )
        # writes a previous run (killed, or stopped with the database away) never applied
        await container.writer.replay()
        container.spawn(container.run_crm_sync(), "crm-sync")  # finished calls -> CRMs
        container.spawn(container.recordings.run(), "recordings")  # finish, sync, retention
        if settings.retention_days is not None:
            container.spawn(
                retention_loop(
                    container.store,
                    retention_days=settings.retention_days,
                    interval_seconds=settings.retention_interval_seconds,
                ),
                "retention",
            )
        app.state.container = container
        app.state.gateway = gateway
        unwatch = metrics.watch_gateway(
            load=lambda: gateway.lifecycle.load, writer_pending=lambda: container.writer.pending
        )
        try:
            yield
        finally:
            unwatch()
            # within settings.shutdown_seconds: the live calls flushed, then the writes applied
            # (what the store has not taken by then stays in the writer's journal)
            stopping = time.monotonic()
            await gateway.aclose()
            left = settings.shutdown_seconds - (time.monotonic() - stopping)
            await container.aclose(write_seconds=max(0.5, left))

    app = FastAPIOffline(title="Wingman", version="0.1.0", lifespan=lifespan, static_url=DOCS_STATIC)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )

    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes or settings.max_document_bytes)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path in DOCS_PATHS:
            response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if path.startswith("/api/"):
            # call data must not linger in browser or proxy caches
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes each offending input back (a 100 kB "password" included) and
        # fails with a 500 on bodies that are not UTF-8; say where and what, never the value
        errors = [
            {key: value for key, value in error.items() if key in ("type", "loc", "msg", "ctx")}
            for error in exc.errors()
        ]
        safe = jsonable_encoder(
            errors, custom_encoder={bytes: lambda b: b.decode("utf-8", "replace"), Exception: str}
        )
        return JSONResponse({"detail": safe, "code": "bad_request"}, status_code=422)

    @app.exception_handler(WingmanError)
    async def wingman_error(request: Request, exc: WingmanError) -> JSONResponse:
        status = 500
        headers: dict[str, str] = {}
        if isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Unauthorized):
            status = 401
        elif isinstance(exc, TooLarge):
            status = 413
        elif isinstance(exc, Unprocessable):
            status = 422
        elif isinstance(exc, BadInput):
            status = BAD_INPUT_STATUS.get(exc.code, 400)
        elif isinstance(exc, QuotaExceeded):
            status = 429
            if exc.retry_after is not None:
                headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        elif isinstance(exc, TooManyAttempts):
            status = 429
            headers["Retry-After"] = str(exc.retry_after)
        elif isinstance(exc, ProviderError):
            status = 503
        return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=status, headers=headers)

    app.add_api_route("/metrics", metrics.http_endpoint, include_in_schema=False)  # Prometheus
    _include_routers(app)
    _mount_web(app, settings.web_dist or default_web_dist())
    host_ok = host_checker(local_mode=settings.auth == "local", allowed_hosts=settings.allowed_hosts)
    return WingmanApp(
        sio,
        app,
        host_ok=host_ok,
        local_mode=settings.auth == "local",
        origin_ok=origin_checker(settings.cors_origins),
        trusted_proxies=tuple(settings.trusted_proxies),
    )
