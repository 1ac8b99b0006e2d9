"""The tenant's knowledge base: company docs, battlecards and FAQs, searched on the live path.

Hybrid retrieval: BM25 (bm25s) over lightly stemmed words, plus MiniLM embeddings; the two
rankings are fused with reciprocal rank fusion. Each tenant's index lives in memory, built from
the stored chunks (whose embeddings are computed once, at upload) and invalidated when that
tenant adds or deletes a document; other processes' changes are noticed by a cheap periodic
check of the document list.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from wingman.errors import BadInput, NotFound, TooLarge
from wingman.search.base import Search, SearchHit
from wingman.search.documents import split_stored
from wingman.search.embeddings import Embedder, Vector, from_bytes, to_bytes
from wingman.search.lexical import (
    KnowledgeEntity,
    entities_of,
    lexical_tokens,
    passage_sentences,
)
from wingman.search.uploads import UploadWorker, check_quota, parse_document
from wingman.settings import DATA_DIR
from wingman.store.records import ChunkRecord, DocumentRecord, NewChunk

log = logging.getLogger(__name__)

SAMPLE_DIR = DATA_DIR / "sample" / "knowledge"
RRF_K = 60
RETRY_EMPTY_SECONDS = 5.0  # a tenant whose documents could not be read is tried again this soon
_CONTENT_TYPES = {".md": "text/markdown", ".txt": "text/plain", ".pdf": "application/pdf"}

class DocumentStore(Protocol):
    """The Store methods the knowledge base uses (wingman.store.repos.Store has them)."""

    async def add_document(
        self,
        *,
        workspace_id: str,
        user_id: str,
        filename: str,
        content_type: str,
        size_bytes: int,
        chunks: Sequence[NewChunk],
        checksum: str | None = None,
        source: str = "upload",
        document_id: str | None = None,
    ) -> DocumentRecord: ...

    async def list_documents(self, *, workspace_id: str) -> list[DocumentRecord]: ...

    async def delete_document(self, *, workspace_id: str, document_id: str) -> bool: ...

    async def list_chunks(
        self, *, workspace_id: str, document_id: str | None = None
    ) -> list[ChunkRecord]: ...


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk with its scores: `dense` is a cosine similarity in [-1, 1],
    `lexical` the BM25 score divided by the best BM25 score of the query (0..1),
    `fused` the reciprocal-rank-fusion score that orders the results, and `coverage` the
    idf-weighted share of the query's words found in the passage (a word the knowledge base
    never uses weighs most, so off-topic questions get a low coverage). `sentence` is the best
    cosine similarity of one of its sentences (with the title) to the query, set by `rerank`."""

    chunk_id: str
    document_id: str
    filename: str
    heading: str
    body: str
    dense: float
    lexical: float
    fused: float
    coverage: float = 0.0
    sentence: float | None = None

    @property
    def title(self) -> str:
        return self.heading or self.filename


@dataclass(frozen=True)
class IndexedTexts:
    """What a tenant's index holds, for what other parts derive from the same documents (the
    vocabulary's names), so they neither read the chunks again nor keep entities of their own."""

    signature: tuple[tuple[str, int], ...]  # (document id, chunks): changes with the documents
    document_ids: Sequence[str]  # by passage
    bodies: Sequence[str]
    entities: Mapping[str, KnowledgeEntity]


@dataclass
class _Index:
    chunk_ids: list[str]
    document_ids: list[str]
    filenames: list[str]
    headings: list[str]
    bodies: list[str]
    vectors: NDArray[np.float32]
    bm25: Any
    entities: dict[str, KnowledgeEntity]
    tokens: list[frozenset[str]]
    document_frequency: dict[str, int]
    signature: tuple[tuple[str, int], ...]
    checked_at: float = field(default_factory=time.monotonic)


class KnowledgeBase(Search):
    """Per-tenant hybrid search over uploaded documents (implements `Search`)."""

    name = "knowledge"

    def __init__(
        self,
        *,
        store: DocumentStore,
        embedder: Embedder,
        max_document_bytes: int = 10 * 1024 * 1024,
        revalidate_seconds: float = 30.0,
        sample_dir: Path = SAMPLE_DIR,
        uploads: UploadWorker | None = None,
        max_indexes: int = 64,
        max_documents: int | None = None,
        max_tenant_bytes: int | None = None,
    ) -> None:
        self._store = store
        self.embedder = embedder
        self._max_bytes = max_document_bytes
        self._revalidate = revalidate_seconds
        self._sample_dir = sample_dir
        self.uploads = uploads or UploadWorker(embedder=embedder)
        # per-tenant quotas (None: no limit), checked before an upload is read
        self._max_documents = max_documents
        self._max_tenant_bytes = max_tenant_bytes
        # the most recently used tenants' indexes: a node serving thousands of tenants keeps
        # only the ones with live calls in memory (an evicted one is rebuilt from the store)
        self._max_indexes = max(1, max_indexes)
        self._indexes: OrderedDict[str, _Index] = OrderedDict()
        self._generation: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, tenant: str) -> asyncio.Lock:
        return self._locks.setdefault(tenant, asyncio.Lock())

    def _keep(self, tenant: str, index: _Index) -> None:
        self._indexes[tenant] = index
        self._indexes.move_to_end(tenant)
        while len(self._indexes) > self._max_indexes:
            evicted, _ = self._indexes.popitem(last=False)
            lock = self._locks.get(evicted)
            if lock is not None and not lock.locked():
                del self._locks[evicted]
            self._generation.pop(evicted, None)

    @property
    def cached_tenants(self) -> int:
        """How many tenants' indexes this process holds (bounded by `max_indexes`)."""
        return len(self._indexes)

    # -- documents
    async def add_document(
        self,
        tenant: str,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        added_by: str | None = None,
        source: str = "upload",
    ) -> DocumentRecord:
        """Extract, chunk, embed and store a document in workspace `tenant`'s knowledge base,
        recorded as added by user `added_by` (default: the tenant id, which is the founder's
        user id in the local workspace and in those migration 0004 made); BadInput for
        unusable files."""
        filename = Path(filename or "").name.strip()
        if not filename:
            raise BadInput("the file needs a name", code="bad_filename")
        if len(data) > self._max_bytes:
            raise TooLarge(f"the file is larger than {self._max_bytes} bytes", code="too_large")
        checksum = hashlib.sha256(data).hexdigest()
        documents = await self._store.list_documents(workspace_id=tenant)
        for existing in documents:
            if existing.checksum == checksum and existing.filename == filename:
                return existing  # the same upload twice: keep one copy
        check_quota(documents, len(data), max_documents=self._max_documents, max_bytes=self._max_tenant_bytes)
        # the shipped sample files are ours and small: read in-process; uploads in a child
        parsed = (
            parse_document(filename, data, content_type, self.uploads.limits)
            if source == "sample"
            else await self.uploads.parse(filename, data, content_type)
        )
        kind, chunks = parsed.kind, parsed.chunks
        vectors = await self.uploads.embed([c.embedding_text for c in chunks])
        record = await self._store.add_document(
            workspace_id=tenant,
            user_id=added_by or tenant,
            filename=filename,
            content_type=_CONTENT_TYPES[kind],
            size_bytes=len(data),
            checksum=checksum,
            source=source,
            chunks=[
                NewChunk(text=c.text, embedding=to_bytes(v)) for c, v in zip(chunks, vectors, strict=True)
            ],
        )
        self.invalidate(tenant)
        log.info("document added", extra={"tenant": tenant, "chunks": len(chunks)})
        return record

    async def list_documents(self, tenant: str) -> list[DocumentRecord]:
        return await self._store.list_documents(workspace_id=tenant)

    async def delete_document(self, tenant: str, document_id: str) -> None:
        if not await self._store.delete_document(workspace_id=tenant, document_id=document_id):
            raise NotFound("no such document")
        self.invalidate(tenant)

    async def load_sample(self, tenant: str, *, added_by: str | None = None) -> int:
        """Load the demo company's knowledge base into workspace `tenant` once; returns
        documents added."""
        async with self._lock(f"sample:{tenant}"):
            docs = await self._store.list_documents(workspace_id=tenant)
            if any(d.source == "sample" for d in docs):
                return 0
            added = 0
            for path in sorted(self._sample_dir.glob("*.md")):
                await self.add_document(
                    tenant, path.name, path.read_bytes(), "text/markdown", added_by=added_by, source="sample"
                )
                added += 1
            return added

    async def remove_sample(self, tenant: str) -> int:
        """Delete the sample documents of workspace `tenant` (its own stay); returns how many."""
        async with self._lock(f"sample:{tenant}"):
            docs = [d for d in await self._store.list_documents(workspace_id=tenant) if d.source == "sample"]
            for doc in docs:
                await self._store.delete_document(workspace_id=tenant, document_id=doc.id)
            if docs:
                self.invalidate(tenant)
            return len(docs)

    def invalidate(self, tenant: str) -> None:
        self._generation[tenant] = self._generation.get(tenant, 0) + 1
        self._indexes.pop(tenant, None)

    # -- index
    @staticmethod
    def _signature(docs: Sequence[DocumentRecord]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((d.id, d.chunk_count) for d in docs))

    async def _index(self, tenant: str) -> _Index:
        index = self._indexes.get(tenant)
        if index is not None and time.monotonic() - index.checked_at < self._revalidate:
            self._indexes.move_to_end(tenant)
            return index
        async with self._lock(tenant):
            index = self._indexes.get(tenant)
            if index is not None and time.monotonic() - index.checked_at >= self._revalidate:
                try:
                    async with asyncio.timeout(0.5):
                        docs = await self._store.list_documents(workspace_id=tenant)
                except Exception as e:  # the database is slow or away: keep serving what we have
                    log.warning("knowledge revalidation failed", extra={"error": type(e).__name__})
                    index.checked_at = time.monotonic()
                    return index
                if self._signature(docs) == index.signature:
                    index.checked_at = time.monotonic()
                    return index
                index = None
            if index is None:
                try:
                    index = await self._build(tenant)
                except Exception as e:  # the tenant's shard is away: the agents go on without
                    log.warning("knowledge index not built", extra={"error": type(e).__name__})
                    index = self._empty(retry_in=RETRY_EMPTY_SECONDS)
                    self._keep(tenant, index)
            return index

    def _empty(self, *, retry_in: float) -> _Index:
        """An index of nothing, revalidated (so rebuilt, once the store answers) in `retry_in` s."""
        return _Index(
            chunk_ids=[], document_ids=[], filenames=[], headings=[], bodies=[],
            vectors=np.zeros((0, self.embedder.dim), dtype=np.float32), bm25=None, entities={},
            tokens=[], document_frequency={}, signature=(("", -1),),
            checked_at=time.monotonic() - self._revalidate + retry_in,
        )

    async def _build(self, tenant: str) -> _Index:
        import bm25s

        generation = self._generation.get(tenant, 0)
        docs = await self._store.list_documents(workspace_id=tenant)
        records = await self._store.list_chunks(workspace_id=tenant)
        rows: list[tuple[str, str, str, str]] = []
        vectors: list[Vector | None] = []
        for r in records:
            chunk = split_stored(r.text)
            rows.append((r.document_id, r.filename, chunk.heading, chunk.body))
            vectors.append(from_bytes(r.embedding) if r.embedding else None)
        missing = [i for i, v in enumerate(vectors) if v is None or v.shape != (self.embedder.dim,)]
        if missing:  # chunks stored without (or with another model's) embeddings
            texts = [f"{rows[i][2]}: {rows[i][3]}" if rows[i][2] else rows[i][3] for i in missing]
            for i, v in zip(missing, await self.embedder.embed_many(texts), strict=True):
                vectors[i] = v
        matrix = (
            np.stack([v for v in vectors if v is not None]).astype(np.float32)
            if rows
            else np.zeros((0, self.embedder.dim), dtype=np.float32)
        )
        bm25 = None
        tokenized = [lexical_tokens(f"{h} {b}") for _, _, h, b in rows]
        frequency: dict[str, int] = {}
        for tokens in tokenized:
            for token in set(tokens):
                frequency[token] = frequency.get(token, 0) + 1
        if rows:
            bm25 = bm25s.BM25()
            bm25.index([t or ["_"] for t in tokenized], show_progress=False)
        index = _Index(
            chunk_ids=[r.id for r in records],
            document_ids=[row[0] for row in rows],
            filenames=[row[1] for row in rows],
            headings=[row[2] for row in rows],
            bodies=[row[3] for row in rows],
            vectors=matrix,
            bm25=bm25,
            entities=entities_of(rows),
            tokens=[frozenset(t) for t in tokenized],
            document_frequency=frequency,
            signature=self._signature(docs),
        )
        if self._generation.get(tenant, 0) == generation:  # not invalidated meanwhile
            self._keep(tenant, index)
        log.info("knowledge index built", extra={"tenant": tenant, "chunks": len(rows)})
        return index

    async def warm(self, tenant: str) -> None:
        """Build the tenant's index ahead of the first live question."""
        await self._index(tenant)

    async def entities(self, tenant: str) -> Mapping[str, KnowledgeEntity]:
        """Competitors and products named in this tenant's documents, by lower-case name."""
        return (await self._index(tenant)).entities

    async def texts(self, tenant: str) -> IndexedTexts:
        """The passages and entities of this tenant's index (built if needed, as for a search)."""
        index = await self._index(tenant)
        return IndexedTexts(index.signature, index.document_ids, index.bodies, index.entities)

    # -- search
    async def retrieve(
        self, tenant: str, query: str, *, limit: int = 5, vector: Vector | None = None
    ) -> list[Passage]:
        """The best passages for `query`, fused from BM25 and embedding rankings."""
        index = await self._index(tenant)
        n = len(index.bodies)
        if n == 0 or not query.strip():
            return []
        if vector is None:
            vector = await self.embedder.embed_query(query)
        dense = index.vectors @ vector
        tokens = lexical_tokens(query)
        lexical = (
            np.asarray(index.bm25.get_scores(tokens), dtype=np.float32)
            if tokens
            else np.zeros(n, dtype=np.float32)
        )
        dense_rank = np.empty(n, dtype=np.int64)
        dense_rank[np.argsort(-dense, kind="stable")] = np.arange(n)
        lexical_rank = np.empty(n, dtype=np.int64)
        lexical_rank[np.argsort(-lexical, kind="stable")] = np.arange(n)
        fused = 1.0 / (RRF_K + 1 + dense_rank)
        # a passage without a single query term gets no lexical vote
        fused = fused + np.where(lexical > 0, 1.0 / (RRF_K + 1 + lexical_rank), 0.0)
        best_lexical = float(lexical.max()) if n else 0.0
        order = np.argsort(-fused, kind="stable")[:limit]
        idf = {
            t: math.log(
                1
                + (n - index.document_frequency.get(t, 0) + 0.5) / (index.document_frequency.get(t, 0) + 0.5)
            )
            for t in set(tokens)
        }
        total_idf = sum(idf.values())

        def coverage(i: int) -> float:
            if total_idf <= 0:
                return 0.0
            return sum(w for t, w in idf.items() if t in index.tokens[i]) / total_idf

        return [
            Passage(
                chunk_id=index.chunk_ids[i],
                document_id=index.document_ids[i],
                filename=index.filenames[i],
                heading=index.headings[i],
                body=index.bodies[i],
                dense=float(dense[i]),
                lexical=float(lexical[i] / best_lexical) if best_lexical > 0 else 0.0,
                fused=float(fused[i]),
                coverage=round(coverage(int(i)), 4),
            )
            for i in order
        ]

    async def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        """`passages` with their best sentence's similarity to `query` (the sentence embeddings
        are cached by `warm_sentences`), best first by the mean of passage and sentence
        similarity: a passage whose one sentence answers the question outranks one that is
        about the topic as a whole."""
        if not passages:
            return []
        qv = await self.embedder.embed_query(query)
        scored: list[tuple[float, Passage]] = []
        for passage in passages:
            texts = [f"{passage.title}: {t}" for t in passage_sentences(passage.body)]
            best = float((await self.embedder.embed_many(texts) @ qv).max()) if texts else passage.dense
            scored.append((passage.dense + best, replace(passage, sentence=best)))
        return [p for _, p in sorted(scored, key=lambda item: -item[0])]

    async def rank_sentences(self, query: str, passages: Sequence[Passage]) -> list[dict[str, Any]]:
        """The sentences of `passages` scored against `query` (cosine similarity and word
        overlap, a small penalty per passage rank): the material for extractive answers."""
        items: list[dict[str, Any]] = []
        for rank, passage in enumerate(passages):
            for position, text in enumerate(passage_sentences(passage.body)):
                items.append(
                    {
                        "text": text,
                        "source": passage.filename,
                        "title": passage.title,
                        "passage": rank,
                        "position": position,
                    }
                )
        if not items:
            return []
        qv = await self.embedder.embed_query(query)
        vectors = await self.embedder.embed_many([f"{i['title']}: {i['text']}" for i in items])
        query_tokens = set(lexical_tokens(query))
        for item, sim in zip(items, vectors @ qv, strict=True):
            overlap = (
                len(query_tokens & set(lexical_tokens(item["text"]))) / len(query_tokens)
                if query_tokens
                else 0.0
            )
            # a section's first sentence usually states its point
            lead = 0.03 if item["position"] == 0 else 0.0
            item["score"] = round(0.75 * float(sim) + 0.25 * overlap + lead - 0.05 * int(item["passage"]), 4)
        return items

    async def warm_sentences(self, tenant: str) -> None:
        """Embed every sentence of the tenant's passages ahead of time (into the embedder's
        cache), so the first answer of a call does not pay for it."""
        index = await self._index(tenant)
        texts = [
            f"{h or f}: {t}"
            for f, h, b in zip(index.filenames, index.headings, index.bodies, strict=True)
            for t in passage_sentences(b)
        ]
        # small batches, so live queries get the model between them
        for start in range(0, len(texts), 8):
            await self.embedder.embed_many(texts[start : start + 8])

    async def search(self, query: str, *, limit: int = 5, user_id: str | None = None) -> list[SearchHit]:
        """`Search` interface: hits scored by cosine similarity, ordered by fused rank."""
        if user_id is None:  # the Search interface's tenant
            return []  # the knowledge base is always a tenant's
        return [
            SearchHit(
                title=p.title,
                snippet=p.body,
                source="knowledge",
                path=p.filename,
                document_id=p.document_id,
                score=round(max(p.dense, 0.0), 4),
            )
            for p in await self.retrieve(user_id, query, limit=limit)
        ]
