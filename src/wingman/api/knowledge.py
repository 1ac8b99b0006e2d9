"""REST: the signed-in user's workspace's knowledge base (upload, list, delete documents).

Uploaded Markdown, text and PDF files are chunked and embedded at once, so the agents can use
them from the next transcript block on. Unsupported or empty files get a 400 with a code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, Response, UploadFile, status
from pydantic import BaseModel

from wingman.api.deps import CurrentUser
from wingman.errors import NotFound
from wingman.store.records import DocumentRecord

router = APIRouter(prefix="/api", tags=["knowledge"])

READ_CHUNK = 1024 * 1024


class DocumentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size_bytes: int
    source: str
    chunk_count: int
    created_at: datetime

    @classmethod
    def of(cls, doc: DocumentRecord) -> DocumentOut:
        return cls(
            id=doc.id,
            filename=doc.filename,
            content_type=doc.content_type,
            size_bytes=doc.size_bytes,
            source=doc.source,
            chunk_count=doc.chunk_count,
            created_at=doc.created_at,
        )


class DocumentListOut(BaseModel):
    items: list[DocumentOut]
    total: int


def _container(request: Request) -> Any:
    container = getattr(request.app.state, "container", None)
    if container is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is starting")
    return container


@router.get("/knowledge", response_model=DocumentListOut)
async def list_documents(request: Request, user: CurrentUser) -> DocumentListOut:
    """The user's knowledge-base documents, oldest first."""
    docs = await _container(request).knowledge.list_documents(user.workspace_id)
    return DocumentListOut(items=[DocumentOut.of(d) for d in docs], total=len(docs))


@router.post(
    "/knowledge",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        400: {"description": "unsupported file type or no text"},
        413: {"description": "file too large"},
    },
)
async def upload_document(
    request: Request,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="a .md, .txt or .pdf file")],
) -> DocumentOut:
    """Add a document (Markdown, plain text or PDF) to the user's knowledge base."""
    container = _container(request)
    limit = container.settings.max_document_bytes
    data = bytearray()
    while chunk := await file.read(READ_CHUNK):
        data.extend(chunk)
        if len(data) > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE, f"the file is larger than {limit} bytes"
            )
    # no control characters in a stored name (PostgreSQL refuses NUL; escapes garble terminals)
    filename = "".join(ch for ch in file.filename or "" if ch.isprintable())
    doc = await container.knowledge.add_document(
        user.workspace_id, filename, bytes(data), file.content_type, added_by=user.id
    )
    return DocumentOut.of(doc)


@router.delete(
    "/knowledge/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "no such document for this user"}},
)
async def delete_document(request: Request, user: CurrentUser, document_id: str) -> Response:
    """Remove a document and its passages from the user's knowledge base."""
    try:
        await _container(request).knowledge.delete_document(user.workspace_id, document_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such document") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
