"""REST: GET /api/providers — which provider each part uses now, and how it is doing.

Built from the container's settings (what is configured, whether a key is set: never the key)
and its ProviderHealth (what is in use now, degradation, latency percentiles, recent errors,
already sanitized).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from wingman.api.deps import ContainerDep, CurrentUser
from wingman.health import PARTS
from wingman.settings import Settings

router = APIRouter(prefix="/api", tags=["providers"])

LOCAL = "local"


class LatencyOut(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class ProviderStatsOut(BaseModel):
    successes: int
    failures: int
    samples: int
    latency_ms: LatencyOut


class ProviderErrorOut(BaseModel):
    at: str
    provider: str
    code: str
    message: str


class PartOut(BaseModel):
    part: str  # "stt" | "llm" | "search"
    configured: str  # from settings
    active: str  # in use now
    fallback: str | None  # what takes over when `configured` fails
    degraded: bool
    degraded_since: str | None
    key_configured: bool | None  # None: the provider needs no key
    failovers: int
    providers: dict[str, ProviderStatsOut]
    recent_errors: list[ProviderErrorOut]


class ProvidersOut(BaseModel):
    parts: list[PartOut]


def _configured(settings: Settings, part: str) -> tuple[str, bool | None, str | None]:
    """(configured provider, whether its key is set, fallback) from the settings."""
    if part == "stt":
        if settings.stt == "deepgram":
            return "deepgram", settings.deepgram_api_key is not None, LOCAL
        return settings.stt, None, None
    if part == "llm":
        if settings.llm == "gemini":
            return "gemini", settings.gemini_api_key is not None, LOCAL
        if settings.llm == "openai":
            return "openai", settings.openai_api_key is not None, LOCAL
        return settings.llm, None, None
    if settings.search == "tavily":
        return "tavily", settings.tavily_api_key is not None, None
    if settings.search == "google":
        return "google", settings.google_api_key is not None and bool(settings.google_cse_id), None
    return settings.search, None, None


@router.get("/providers", response_model=ProvidersOut)
async def providers(container: ContainerDep, user: CurrentUser) -> ProvidersOut:
    """Speech, reasoning and search providers: configured, in use, health."""
    snapshot: dict[str, dict[str, Any]] = container.health.snapshot()
    parts = []
    for part in PARTS:
        configured, key_set, fallback = _configured(container.settings, part)
        state = snapshot.get(part, {})
        parts.append(
            PartOut(
                part=part,
                configured=configured,
                active=state.get("active", configured),
                fallback=fallback,
                degraded=bool(state.get("degraded", False)),
                degraded_since=state.get("degraded_since"),
                key_configured=key_set,
                failovers=int(state.get("failovers", 0)),
                providers={
                    name: ProviderStatsOut.model_validate(stats)
                    for name, stats in state.get("providers", {}).items()
                },
                # only the caller's tenant's failures: another tenant's are none of its business
                recent_errors=[
                    ProviderErrorOut.model_validate(e)
                    for e in state.get("recent_errors", [])
                    if e.get("tenant") == user.workspace_id  # provider errors are per workspace
                ],
            )
        )
    return ProvidersOut(parts=parts)
