"""REST: the signed-in user's vocabulary, the names speech recognition and the agents must know.

GET returns every term a call uses, most relevant first: the user's own terms, then the ones
found automatically (company, competitors, products, other names in the knowledge base and the
playbook). PUT replaces the user's own terms; the automatic ones follow the knowledge base.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field, StringConstraints

from wingman.api.deps import ContainerDep, CurrentUser
from wingman.errors import NotFound
from wingman.vocabulary import MAX_TERM_CHARS, MAX_USER_TERMS, Source, Vocabulary

router = APIRouter(prefix="/api", tags=["vocabulary"])

TermText = Annotated[str, StringConstraints(max_length=MAX_TERM_CHARS)]


class TermOut(BaseModel):
    text: str
    source: Source = Field(description="user | company | competitor | product | knowledge | playbook")


class VocabularyOut(BaseModel):
    terms: list[TermOut] = Field(description="what calls use, most relevant first (bounded)")
    user_terms: list[str] = Field(description="the terms the user added, in their order")
    max_terms: int
    max_user_terms: int


class VocabularyIn(BaseModel):
    user_terms: list[TermText] = Field(max_length=MAX_USER_TERMS)


def _out(vocabulary: Vocabulary, max_terms: int) -> VocabularyOut:
    return VocabularyOut(
        terms=[TermOut(text=t.text, source=t.source) for t in vocabulary.terms],
        user_terms=list(vocabulary.user_terms),
        max_terms=max_terms,
        max_user_terms=MAX_USER_TERMS,
    )


@router.get("/vocabulary", response_model=VocabularyOut)
async def get_vocabulary(container: ContainerDep, user: CurrentUser) -> VocabularyOut:
    """The user's vocabulary: their own terms and the ones found automatically."""
    service = container.vocabulary
    return _out(await service.get(user.workspace_id), service.max_terms)


@router.put(
    "/vocabulary",
    response_model=VocabularyOut,
    responses={400: {"description": "a term with control characters, or too many terms"}},
)
async def put_vocabulary(container: ContainerDep, user: CurrentUser, body: VocabularyIn) -> VocabularyOut:
    """Replace the user's own terms (blank ones are dropped, repeats kept once); calls that
    start from now on use them."""
    service = container.vocabulary
    try:
        vocabulary = await service.set_user_terms(user.workspace_id, body.user_terms, added_by=user.id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user") from None
    return _out(vocabulary, service.max_terms)
