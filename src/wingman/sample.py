"""The sample company (made up): a profile and its documents, loaded into a tenant only on
request (`wingman demo`, POST /api/sample, the web app's "Try with sample data") and removed in
one action (DELETE /api/sample). The tenant's own documents and profile are never touched:
a profile the tenant wrote is kept, and only a profile that came from the sample is removed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from wingman.profile import CompanyProfile, ProfileService
from wingman.settings import DATA_DIR

SAMPLE_PROFILE = DATA_DIR / "sample" / "profile.yaml"


def sample_profile(path: Path = SAMPLE_PROFILE) -> CompanyProfile:
    """The sample company's profile."""
    return CompanyProfile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


class SampleDocuments(Protocol):
    """The KnowledgeBase methods the sample data uses."""

    async def load_sample(self, user_id: str) -> int: ...

    async def remove_sample(self, user_id: str) -> int: ...


@dataclass(frozen=True)
class SampleState:
    documents: int  # sample documents added or removed
    profile: bool  # whether the sample profile was set (or removed)


async def load_sample_data(
    tenant_id: str, *, knowledge: SampleDocuments, profiles: ProfileService
) -> SampleState:
    """Add the sample documents and, unless the tenant has its own profile, the sample profile."""
    added = await knowledge.load_sample(tenant_id)
    existing = await profiles.record(tenant_id)
    set_profile = existing is None or existing.source == "sample"
    if set_profile:
        await profiles.put(tenant_id, sample_profile(), source="sample")
    return SampleState(documents=added, profile=set_profile)


async def remove_sample_data(
    tenant_id: str, *, knowledge: SampleDocuments, profiles: ProfileService
) -> SampleState:
    """Remove the sample documents and the sample profile; the tenant's own stay."""
    removed = await knowledge.remove_sample(tenant_id)
    profile = await profiles.delete(tenant_id, source="sample")
    return SampleState(documents=removed, profile=profile)
