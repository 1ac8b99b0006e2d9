"""REST: the tenant's company profile, and the sample data a new user can try Wingman with.

GET/PUT /api/profile read and replace the profile (name, what it sells, products, competitors
with their battlecard documents, pricing notes) that every prompt, search query, tip and the
speech vocabulary read. A bad profile gets 422 naming the field. /api/sample loads or removes
the made-up sample company (profile and documents) in one action.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from wingman.api.deps import ContainerDep, CurrentUser
from wingman.profile import CompanyProfile, ProfileSource
from wingman.sample import SampleState, load_sample_data, remove_sample_data

router = APIRouter(prefix="/api", tags=["profile"])


class ProfileOut(BaseModel):
    profile: CompanyProfile | None = Field(description="null until the company is described")
    source: ProfileSource | None = Field(None, description="user, or sample (the sample company)")
    default_competitors: list[str] = Field(description="competitors used while there is no profile")


class SampleOut(BaseModel):
    loaded: bool = Field(description="whether sample documents or the sample profile are present")
    documents: int = Field(description="sample documents added/removed by this request (or present)")
    profile: bool = Field(description="whether the sample profile was set/removed (or is present)")


@router.get("/profile", response_model=ProfileOut)
async def get_profile(container: ContainerDep, user: CurrentUser) -> ProfileOut:
    """The company profile of the signed-in user's tenant."""
    record = await container.profiles.record(user.id)
    return ProfileOut(
        profile=record.profile if record else None,
        source=record.source if record else None,
        default_competitors=list(container.profiles.default_competitors),
    )


@router.put(
    "/profile",
    response_model=ProfileOut,
    responses={422: {"description": "a missing name, a blank or repeated name, text too long"}},
)
async def put_profile(container: ContainerDep, user: CurrentUser, body: CompanyProfile) -> ProfileOut:
    """Replace the company profile; the next transcript block of a live call uses it."""
    known = {d.filename for d in await container.knowledge.list_documents(user.id)}
    for i, competitor in enumerate(body.competitors):
        if competitor.battlecard and competitor.battlecard not in known:
            raise HTTPException(
                422,
                f"competitors[{i}].battlecard: no knowledge-base document is named that",
            )
    record = await container.profiles.put(user.id, body)
    return ProfileOut(
        profile=record.profile,
        source=record.source,
        default_competitors=list(container.profiles.default_competitors),
    )


def _sample_out(state: SampleState, *, loaded: bool) -> SampleOut:
    return SampleOut(loaded=loaded, documents=state.documents, profile=state.profile)


@router.get("/sample", response_model=SampleOut)
async def get_sample(container: ContainerDep, user: CurrentUser) -> SampleOut:
    """Whether the sample company is loaded for this tenant."""
    docs = [d for d in await container.knowledge.list_documents(user.id) if d.source == "sample"]
    record = await container.profiles.record(user.id)
    profile = record is not None and record.source == "sample"
    return SampleOut(loaded=bool(docs) or profile, documents=len(docs), profile=profile)


@router.post("/sample", response_model=SampleOut)
async def load_sample(container: ContainerDep, user: CurrentUser) -> SampleOut:
    """Load the sample company (its documents, and its profile unless you wrote your own).
    Safe to repeat."""
    state = await load_sample_data(user.id, knowledge=container.knowledge, profiles=container.profiles)
    return _sample_out(state, loaded=True)


@router.delete("/sample", response_model=SampleOut)
async def remove_sample(container: ContainerDep, user: CurrentUser) -> SampleOut:
    """Remove every sample document and the sample profile in one action; yours stay."""
    state = await remove_sample_data(user.id, knowledge=container.knowledge, profiles=container.profiles)
    return _sample_out(state, loaded=False)
