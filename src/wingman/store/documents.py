"""Queries on the knowledge base: documents and their chunks (tenant-scoped)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from wingman.events import new_id, utcnow
from wingman.store.models import Document, DocumentChunk
from wingman.store.records import ChunkRecord, DocumentRecord, NewChunk


async def add_document(
    session: AsyncSession,
    *,
    workspace_id: str,
    user_id: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    chunks: Sequence[NewChunk],
    checksum: str | None,
    source: str,
    document_id: str | None,
) -> DocumentRecord:
    doc = Document(
        id=document_id or new_id(),
        workspace_id=workspace_id,
        user_id=user_id,
        filename=filename,
        content_type=content_type,
        size_bytes=size_bytes,
        checksum=checksum,
        source=source,
        created_at=utcnow(),
    )
    session.add(doc)
    await session.flush()  # the document row before its chunks (foreign key)
    session.add_all(
        DocumentChunk(
            id=new_id(),
            workspace_id=workspace_id,
            user_id=user_id,
            document_id=doc.id,
            position=i,
            text=chunk.text,
            embedding=chunk.embedding,
        )
        for i, chunk in enumerate(chunks)
    )
    await session.flush()
    record = DocumentRecord.model_validate(doc)
    return record.model_copy(update={"chunk_count": len(chunks)})


async def list_documents(session: AsyncSession, *, workspace_id: str) -> list[DocumentRecord]:
    counts = (
        select(DocumentChunk.document_id, func.count().label("n"))
        .where(DocumentChunk.workspace_id == workspace_id)
        .group_by(DocumentChunk.document_id)
        .subquery()
    )
    rows = await session.execute(
        select(Document, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.document_id == Document.id)
        .where(Document.workspace_id == workspace_id)
        .order_by(Document.created_at, Document.filename)
    )
    return [DocumentRecord.model_validate(doc).model_copy(update={"chunk_count": int(n)}) for doc, n in rows]


async def delete_document(session: AsyncSession, *, workspace_id: str, document_id: str) -> bool:
    # chunks first, so this does not depend on the database enforcing ON DELETE CASCADE
    await session.execute(
        delete(DocumentChunk).where(
            DocumentChunk.document_id == document_id, DocumentChunk.workspace_id == workspace_id
        )
    )
    result = await session.execute(
        delete(Document).where(Document.id == document_id, Document.workspace_id == workspace_id)
    )
    return bool(result.rowcount) if isinstance(result, CursorResult) else False


async def list_chunks(
    session: AsyncSession, *, workspace_id: str, document_id: str | None
) -> list[ChunkRecord]:
    query = (
        select(DocumentChunk, Document.filename)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(DocumentChunk.workspace_id == workspace_id)
        .order_by(Document.created_at, DocumentChunk.document_id, DocumentChunk.position)
    )
    if document_id is not None:
        query = query.where(DocumentChunk.document_id == document_id)
    return [
        ChunkRecord(
            id=chunk.id,
            user_id=chunk.user_id,
            workspace_id=chunk.workspace_id,
            document_id=chunk.document_id,
            filename=filename,
            position=chunk.position,
            text=chunk.text,
            embedding=chunk.embedding,
        )
        for chunk, filename in await session.execute(query)
    ]
