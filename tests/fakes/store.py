"""An in-memory stand-in for wingman.store.repos.Store: the methods the agents and the
knowledge base use, with the same keyword-only names and record types, tenant-scoped.

Used where the agents' tests must not depend on a database; the real Store is exercised by
its own contract suite and by the integration tests that use it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from wingman.events import AgentRun, FeedbackStatus, Insight, utcnow
from wingman.profile import CompanyProfile, ProfileRecord, ProfileSource
from wingman.store.records import ChunkRecord, DocumentRecord, NewChunk


class MemoryStore:
    def __init__(self) -> None:
        self.documents: dict[str, DocumentRecord] = {}
        self.chunks: dict[str, list[ChunkRecord]] = defaultdict(list)
        self.agent_runs: dict[str, AgentRun] = {}
        self.recommendations: dict[str, Insight] = {}
        self.feedback: dict[str, FeedbackStatus] = {}
        self.calls_of_list_chunks = 0
        self.profiles: dict[str, ProfileRecord] = {}

    # -- company profiles
    async def get_profile(self, *, tenant_id: str) -> ProfileRecord | None:
        return self.profiles.get(tenant_id)

    async def put_profile(self, *, tenant_id: str, profile: CompanyProfile,
                          source: ProfileSource = "user") -> ProfileRecord:
        self.profiles[tenant_id] = ProfileRecord(profile=profile, source=source)
        return self.profiles[tenant_id]

    async def delete_profile(self, *, tenant_id: str, source: ProfileSource | None = None) -> bool:
        record = self.profiles.get(tenant_id)
        if record is None or (source is not None and record.source != source):
            return False
        del self.profiles[tenant_id]
        return True

    # -- documents
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
    ) -> DocumentRecord:
        doc = DocumentRecord(
            id=document_id or str(uuid.uuid4()), user_id=user_id, workspace_id=workspace_id,
            filename=filename,
            content_type=content_type, size_bytes=size_bytes, checksum=checksum, source=source,
            created_at=utcnow(), chunk_count=len(chunks),
        )
        self.documents[doc.id] = doc
        self.chunks[doc.id] = [
            ChunkRecord(id=str(uuid.uuid4()), user_id=user_id, workspace_id=workspace_id, document_id=doc.id,
                        filename=filename, position=i, text=c.text, embedding=c.embedding)
            for i, c in enumerate(chunks)
        ]
        return doc

    async def list_documents(self, *, workspace_id: str) -> list[DocumentRecord]:
        return sorted((d for d in self.documents.values() if d.workspace_id == workspace_id),
                      key=lambda d: d.created_at)

    async def delete_document(self, *, workspace_id: str, document_id: str) -> bool:
        doc = self.documents.get(document_id)
        if doc is None or doc.workspace_id != workspace_id:
            return False
        del self.documents[document_id]
        self.chunks.pop(document_id, None)
        return True

    async def list_chunks(self, *, workspace_id: str, document_id: str | None = None) -> list[ChunkRecord]:
        self.calls_of_list_chunks += 1
        return [c for doc_id, cs in self.chunks.items()
                if self.documents[doc_id].workspace_id == workspace_id
                and document_id in (None, doc_id) for c in cs]

    # -- agents
    async def add_agent_run(self, run: AgentRun) -> bool:
        if run.id in self.agent_runs:
            return False
        self.agent_runs[run.id] = run
        return True

    async def list_agent_runs(self, *, user_id: str, call_id: str) -> list[AgentRun]:
        # the real Store takes a Viewer; this stand-in is asked by user only
        return [r for r in self.agent_runs.values()
                if r.user_id == user_id and r.call_id == call_id]

    async def add_recommendation(self, insight: Insight) -> bool:
        if insight.id in self.recommendations:
            return False
        self.recommendations[insight.id] = insight
        return True

    async def set_feedback(self, *, workspace_id: str, user_id: str, recommendation_id: str,
                           status: FeedbackStatus) -> Insight | None:
        insight = self.recommendations.get(recommendation_id)
        if insight is None or insight.user_id != user_id or insight.tenant != workspace_id:
            return None
        self.feedback[recommendation_id] = status
        return insight

    async def feedback_by_kind(self, *, workspace_id: str, user_id: str) -> dict[str, tuple[int, int]]:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for rid, status in self.feedback.items():
            insight = self.recommendations[rid]
            if insight.user_id != user_id or insight.tenant != workspace_id or status == "none":
                continue
            counts[insight.kind][0 if status == "liked" else 1] += 1
        return {k: (v[0], v[1]) for k, v in counts.items()}
