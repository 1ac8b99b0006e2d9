"""The company profile: what the tenant's own company is and sells, and whom it sells against.

Every prompt, search query, tip and the speech vocabulary read it, so nothing about a
particular company is written in code. It is stored per tenant (the tenant id string the agents
and the store use), edited with GET/PUT /api/profile, and read by the live path through
`ProfileService`, which caches it for a few seconds per tenant.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 64
MAX_TEXT_CHARS = 2000
MAX_PRODUCTS = 30
MAX_COMPETITORS = 30
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

ProfileSource = Literal["user", "sample"]


def _clean_name(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value.strip()


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_clean_name)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_clean_text)]


class Competitor(BaseModel):
    """A competitor the reps meet, with the knowledge-base document that is its battlecard."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    battlecard: str | None = Field(
        None, max_length=300, description="file name of a knowledge-base document about it"
    )


class CompanyProfile(BaseModel):
    """One tenant's company: the facts the agents may use and the names they must know."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="the company's name as reps say it")
    sells: Text = Field("", description="what it sells, in a paragraph")
    products: list[Name] = Field(default_factory=list, max_length=MAX_PRODUCTS)
    competitors: list[Competitor] = Field(default_factory=list, max_length=MAX_COMPETITORS)
    pricing_notes: Text = Field("", description="optional: plans, pilot, discounts reps may offer")

    @model_validator(mode="after")
    def _unique(self) -> CompanyProfile:
        seen: dict[str, str] = {self.name.casefold(): "the company's name"}
        for i, product in enumerate(self.products):
            if product.casefold() in seen:
                raise ValueError(f"products[{i}]: {product!r} is already {seen[product.casefold()]}")
            seen[product.casefold()] = f"products[{i}]"
        for i, competitor in enumerate(self.competitors):
            key = competitor.name.casefold()
            if key in seen:
                raise ValueError(f"competitors[{i}]: {competitor.name!r} is already {seen[key]}")
            seen[key] = f"competitors[{i}]"
        return self

    @property
    def competitor_names(self) -> list[str]:
        return [c.name for c in self.competitors]

    def battlecards(self) -> dict[str, str]:
        """Competitor name -> its battlecard's file name, for those that have one."""
        return {c.name: c.battlecard for c in self.competitors if c.battlecard}

    def describe(self) -> str:
        """One line for prompts: who the rep works for and what they sell."""
        sells = " ".join(self.sells.split())
        return f"The rep sells {self.name}: {sells}" if sells else f"The rep works for {self.name}."


def company_line(profile: CompanyProfile | None) -> str:
    """The prompt line about the rep's company, or a neutral one when there is no profile."""
    if profile is None:
        return "The rep's company has not described itself; rely on the material given."
    return profile.describe()


def company_name(profile: CompanyProfile | None) -> str:
    """How queries and tips name the rep's own company ("our" when there is no profile)."""
    return profile.name if profile is not None else "our"


class ProfileRecord(BaseModel):
    """A stored profile with where it came from (the sample data, or the tenant itself)."""

    profile: CompanyProfile
    source: ProfileSource = "user"


class ProfileStore(Protocol):
    """The Store methods profiles use (wingman.store.repos.Store has them)."""

    async def get_profile(self, *, tenant_id: str) -> ProfileRecord | None: ...

    async def put_profile(
        self, *, tenant_id: str, profile: CompanyProfile, source: ProfileSource = "user"
    ) -> ProfileRecord: ...

    async def delete_profile(self, *, tenant_id: str, source: ProfileSource | None = None) -> bool: ...


class ProfileService:
    """Profiles of every tenant, cached for `ttl` seconds on the live path. A tenant without a
    profile gets `default_competitors` (settings.competitors) as its competitor list."""

    def __init__(
        self, *, store: ProfileStore, default_competitors: Sequence[str] = (), ttl: float = 5.0
    ) -> None:
        self._store = store
        self.default_competitors = tuple(default_competitors)
        self._ttl = ttl
        self._cache: dict[str, tuple[float, ProfileRecord | None]] = {}

    async def record(self, tenant_id: str) -> ProfileRecord | None:
        """The stored profile (fresh: for the REST API)."""
        return await self._store.get_profile(tenant_id=tenant_id)

    async def get(self, tenant_id: str) -> CompanyProfile | None:
        """The tenant's profile, at most `ttl` seconds old; the last known one (or none) when
        the store fails, because a call must go on without it."""
        now = time.monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1].profile if cached[1] else None
        try:
            record = await self._store.get_profile(tenant_id=tenant_id)
        except Exception as e:  # advisory on the live path: keep what we knew
            log.warning("profile load failed", extra={"error": type(e).__name__})
            record = cached[1] if cached else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[tenant_id] = (now, record)
        return record.profile if record else None

    async def put(
        self, tenant_id: str, profile: CompanyProfile, *, source: ProfileSource = "user"
    ) -> ProfileRecord:
        record = await self._store.put_profile(tenant_id=tenant_id, profile=profile, source=source)
        self._cache[tenant_id] = (time.monotonic(), record)
        return record

    async def delete(self, tenant_id: str, *, source: ProfileSource | None = None) -> bool:
        """Remove the tenant's profile (only if it came from `source`, when given)."""
        deleted = await self._store.delete_profile(tenant_id=tenant_id, source=source)
        self._cache.pop(tenant_id, None)
        return deleted

    async def competitors(self, tenant_id: str) -> list[str]:
        """The names the tenant competes with: the profile's, or the configured default."""
        profile = await self.get(tenant_id)
        return profile.competitor_names if profile is not None else list(self.default_competitors)
