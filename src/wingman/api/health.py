"""REST: GET /api/health, liveness, database reachability and this node's load."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel

from wingman import __version__
from wingman.api.deps import ContainerDep

router = APIRouter(prefix="/api", tags=["health"])


class LoopLagOut(BaseModel):
    """Seconds this node's event loop ran late (sleep-drift sampler, every 0.1 s)."""

    last: float | None
    sustained: float  # on each of the last 3 samples: what admission control compares
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    samples: int
    window_seconds: float


class NodeOut(BaseModel):
    """This gateway node's load (absent on processes without a gateway)."""

    id: str
    calls: int
    max_calls: int | None
    accepting: bool  # False: start-call is refused with `busy` now
    loop_lag: LoopLagOut


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool
    auth: Literal["local", "required"]
    version: str
    node: NodeOut | None = None


@router.get("/health", responses={503: {"model": HealthOut, "description": "database down"}})
async def health(container: ContainerDep, request: Request, response: Response) -> HealthOut:
    """Liveness, database reachability and this node's load (no sign-in needed)."""
    gateway = getattr(request.app.state, "gateway", None)
    node = None
    if gateway is not None:  # read before the database ping, which may wait
        node = NodeOut(
            id=container.settings.node_id,
            calls=gateway.lifecycle.load,
            max_calls=container.settings.max_calls_per_node,
            accepting=gateway.lifecycle.accepting,
            loop_lag=LoopLagOut(**gateway.lag.snapshot()),
        )
    database = await container.store.ping()
    if not database:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(
        status="ok" if database else "degraded",
        database=database,
        auth=container.settings.auth or "required",
        version=__version__,
        node=node,
    )
