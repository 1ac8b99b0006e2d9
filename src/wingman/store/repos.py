"""`Store`: the one facade the rest of Wingman uses for persistence.

Every method is async, takes keyword arguments, is scoped to a tenant (the workspace id; reads
of calls to what a `Viewer` may see, writes to the caller's own calls) and returns frozen
records from records.py. Another tenant's call, recommendation or document looks exactly
like a missing one (None / False / empty), never like data. Writes that events can repeat
(segments, recommendations, agent runs, finishing a call) are idempotent on their ids, because
the bus delivers at least once and the store writer retries.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import get_args

from sqlalchemy import exc

from wingman.errors import BadInput, NotFound
from wingman.events import AgentRun, FeedbackStatus, Insight, TranscriptFragment, new_id
from wingman.profile import CompanyProfile, ProfileRecord, ProfileSource
from wingman.store import (
    accounts,
    calls,
    documents,
    insights,
    maintenance,
    placement,
    profiles,
    usage,
    vocabulary,
    voiceprints,
)
from wingman.store.account_store import AccountStore
from wingman.store.calls import CallFilters
from wingman.store.common import owned, visible
from wingman.store.core import StoreCore
from wingman.store.maintenance import MIGRATIONS as MIGRATIONS
from wingman.store.playbooks import PlaybookStore
from wingman.store.records import (
    AgentRunRecord,
    CallDetail,
    CallPage,
    CallRecord,
    ChunkRecord,
    DocumentRecord,
    KeyMomentLike,
    NewChunk,
    RecommendationRecord,
    Role,
    SegmentRecord,
    Stats,
    UserRecord,
    Viewer,
    WorkspaceRecord,
)
from wingman.store.team import TeamStore

MAX_PAGE = 200
MAX_TERM_CHARS = 64  # vocabulary_terms.term


class Store(AccountStore, TeamStore, PlaybookStore, StoreCore):
    """Persistence for workspaces, users, calls, transcripts, recommendations, agent runs,
    documents, vocabulary, invitations, playbooks and comments."""

    # -- users, workspaces and tokens
    async def create_user(
        self,
        *,
        email: str,
        name: str,
        password_hash: str | None,
        workspace_id: str | None = None,
        role: Role = "rep",
        manager_id: str | None = None,
        new_workspace: str | None = None,
        first_account: bool = False,
    ) -> UserRecord:
        """A new user in workspace `workspace_id`, or the admin of a new workspace named
        `new_workspace` (without either: named after the user), both rows in one transaction.
        BadInput(code="email_taken") when the email is registered already, NotFound when the
        workspace does not exist. `first_account`: only if no account has a password yet
        (accounts.FirstAccountTaken otherwise; simultaneous calls make one account)."""
        if workspace_id is None and new_workspace is None:
            new_workspace = f"{name.strip()}'s workspace"
        user_id = new_id()
        workspace = None
        if new_workspace is not None:
            # a new workspace takes its founder's id, as migration 0004 gave every existing
            # user's: one tenant key whether it is read from the user or from the workspace
            workspace = WorkspaceRecord(id=user_id, name=new_workspace.strip()[:200], created_at=self._clock(
                    ))
            workspace_id, role, manager_id = workspace.id, "admin", None
        user = UserRecord(
            id=user_id,
            email=accounts.normalize_email(email),
            name=name.strip(),
            created_at=self._clock(),
            password_hash=password_hash,
            workspace_id=workspace_id,
            role=role,
            manager_id=manager_id,
        )
        try:
            async with self._tx(self._router.directory()) as s:
                if first_account:
                    await accounts.claim_first_account(s)
                if workspace is not None:
                    await accounts.insert_workspace(s, workspace)
                inserted = await accounts.insert_user(s, user)
                home = self._router.home(user.workspace_id)
                if inserted and workspace is not None and home is not None:
                    # pinned: a shard added later does not move the new workspace
                    await placement.pin(s, tenant=workspace.id, shard=home)
        except exc.IntegrityError as e:
            raise NotFound("no such workspace") from e
        if not inserted:
            raise BadInput("an account with this email exists already", code="email_taken")
        await self._copy_user_to_shard(user)
        return user

    async def get_user(self, *, user_id: str) -> UserRecord | None:
        """The user with this id, or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_user(s, user_id)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        """The user with this email (case-insensitive), or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_user_by_email(s, email)

    async def get_workspace(self, *, workspace_id: str) -> WorkspaceRecord | None:
        """The workspace with this id, or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_workspace(s, workspace_id)

    async def ensure_local_user(self) -> UserRecord:
        """The built-in user of local mode, admin of the local workspace, created on first
        use (safe to race)."""
        now = self._clock()
        workspace = WorkspaceRecord(
            id=accounts.LOCAL_WORKSPACE_ID, name=accounts.LOCAL_WORKSPACE_NAME, created_at=now
        )
        user = UserRecord(
            id=accounts.LOCAL_USER_ID,
            email=accounts.LOCAL_USER_EMAIL,
            name=accounts.LOCAL_USER_NAME,
            created_at=now,
            workspace_id=workspace.id,
            role="admin",
        )
        async with self._tx(self._router.directory()) as s:
            await accounts.insert_workspace(s, workspace)
            await accounts.insert_user(s, user)
            found = await accounts.get_user(s, accounts.LOCAL_USER_ID)
        if found is None:
            raise NotFound(f"the local user cannot be created: {accounts.LOCAL_USER_EMAIL} is taken")
        await self._copy_user_to_shard(found)
        return found

    async def revoke_token(self, *, jti: str, expires_at: datetime) -> None:
        """Remember a logged-out token id until it expires."""
        async with self._tx(self._router.directory()) as s:
            await accounts.revoke_token(s, jti=jti, expires_at=expires_at, now=self._clock())

    async def is_token_revoked(self, *, jti: str) -> bool:
        """Whether this token id was logged out."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.is_token_revoked(s, jti)

    async def revoked_among(self, *, jtis: Collection[str]) -> set[str]:
        """Which of these token ids were logged out (one query per 500 ids)."""
        ids = sorted(set(jtis))
        found: set[str] = set()
        async with self._tx(self._router.directory_fresh()) as s:
            for i in range(0, len(ids), 500):
                found |= await accounts.revoked_among(s, ids[i : i + 500])
        return found

    # -- calls and transcript (writes: the caller's own calls; reads: what a Viewer sees)
    async def create_call(
        self,
        *,
        workspace_id: str,
        user_id: str,
        title: str,
        call_id: str | None = None,
        admit: Callable[[tuple[int, int]], None] | None = None,
    ) -> CallRecord:
        """Start a call now. With `call_id` of an existing call of this user, returns that call;
        BadInput when the id belongs to someone else, NotFound when the user does not exist.
        `admit` gets (the user's, the workspace's) open calls, counted in the transaction that
        inserts the call and serialized per workspace (store/usage.py), and raises to refuse."""
        try:
            async with self._write(workspace_id) as s:
                if admit is not None:
                    await usage.lock_open_calls(s, workspace_id)
                    admit(await usage.count_open_calls(s, workspace_id=workspace_id, user_id=user_id))
                call = await calls.create_call(
                    s, workspace_id=workspace_id, user_id=user_id, title=title, call_id=call_id,
                    now=self._clock(),
                )
        except exc.IntegrityError as e:
            raise NotFound("no such user") from e
        if call is None:
            raise BadInput("this call id is already in use", code="call_id_taken")
        return call

    async def get_call(self, *, viewer: Viewer, call_id: str) -> CallRecord | None:
        """One call `viewer` may see, or None."""
        async with self._tx(await self._fresh(viewer.workspace_id)) as s:
            return await calls.get_call(s, scope=visible(viewer), call_id=call_id)

    async def call_detail(self, *, viewer: Viewer, call_id: str) -> CallDetail | None:
        """A call with its transcript, recommendations, key moments and action items."""
        async with self._tx(await self._fresh(viewer.workspace_id)) as s:
            return await calls.call_detail(s, scope=visible(viewer), call_id=call_id)

    async def finish_call(
        self,
        *,
        workspace_id: str,
        user_id: str,
        call_id: str,
        full_transcript: str,
        summary: str,
        key_moments: Sequence[KeyMomentLike] = (),
        action_items: Sequence[str] = (),
        end_time: datetime | None = None,
    ) -> CallRecord | None:
        """Save the end of a call; repeating it replaces, never duplicates. None if not found."""
        async with self._write(workspace_id) as s:
            return await calls.finish_call(
                s,
                scope=owned(workspace_id, user_id),
                call_id=call_id,
                full_transcript=full_transcript,
                summary=summary,
                key_moments=key_moments,
                action_items=action_items,
                end_time=end_time or self._clock(),
            )

    async def list_calls(
        self,
        *,
        viewer: Viewer,
        q: str | None = None,
        limit: int = 20,
        offset: int = 0,
        filters: CallFilters | None = None,
    ) -> CallPage:
        """The calls `viewer` sees, newest first, optionally full-text searched and filtered,
        with the total count."""
        limit = min(max(limit, 1), MAX_PAGE)
        async with self._tx(await self._reader(viewer.workspace_id)) as s:
            return await calls.list_calls(
                s, scope=visible(viewer), q=q, limit=limit, offset=max(offset, 0), filters=filters
            )

    async def add_segment(
        self, *, workspace_id: str, user_id: str, call_id: str, fragment: TranscriptFragment
    ) -> bool:
        """Save a final fragment; True when new. Interims, repeats and others' calls: False."""
        if fragment.call_id != call_id:
            raise BadInput("fragment belongs to another call")
        if not fragment.is_final:
            return False
        async with self._write(workspace_id) as s:
            return await calls.add_segment(
                s, workspace_id=workspace_id, user_id=user_id, call_id=call_id, fragment=fragment
            )

    async def list_segments(self, *, viewer: Viewer, call_id: str) -> list[SegmentRecord]:
        """The saved transcript of a call in time order (empty for calls `viewer` cannot see)."""
        async with self._tx(await self._fresh(viewer.workspace_id)) as s:
            return await calls.list_segments(s, scope=visible(viewer), call_id=call_id)

    # -- recommendations, feedback, agent runs, stats
    async def add_recommendation(self, insight: Insight) -> bool:
        """Save an insight as a recommendation; True when new (idempotent on insight.id)."""
        async with self._write(insight.tenant) as s:
            return await insights.add_recommendation(s, insight)

    async def set_feedback(
        self, *, workspace_id: str, user_id: str, recommendation_id: str, status: FeedbackStatus
    ) -> RecommendationRecord | None:
        """Set liked / disliked / none on a recommendation of one of the user's own calls
        (feedback is the rep's); None if not found."""
        if status not in get_args(FeedbackStatus):
            raise BadInput("status must be liked, disliked or none")
        async with self._write(workspace_id) as s:
            return await insights.set_feedback(
                s, scope=owned(workspace_id, user_id), recommendation_id=recommendation_id, status=status
            )

    async def feedback_by_kind(self, *, workspace_id: str, user_id: str) -> dict[str, tuple[int, int]]:
        """{insight kind: (likes, dislikes)} over all the user's calls."""
        async with self._tx(await self._fresh(workspace_id)) as s:
            return await insights.feedback_by_kind(s, workspace_id=workspace_id, user_id=user_id)

    async def add_agent_run(self, run: AgentRun) -> bool:
        """Save an agent's reasoning about a block; True when new (idempotent on run.id)."""
        async with self._write(run.tenant) as s:
            return await insights.add_agent_run(s, run)

    async def list_agent_runs(self, *, viewer: Viewer, call_id: str) -> list[AgentRunRecord]:
        """A call's agent runs in time order (empty for calls `viewer` cannot see)."""
        async with self._tx(await self._reader(viewer.workspace_id)) as s:
            return await insights.list_agent_runs(s, scope=visible(viewer), call_id=call_id)

    async def stats(
        self,
        *,
        viewer: Viewer,
        rep: str | None = None,
        since: datetime | None = None,
        now: datetime | None = None,
    ) -> Stats:
        """Dashboard figures over the calls `viewer` sees (one rep's among them, those started
        since a time)."""
        scope = [*visible(viewer), *CallFilters(rep=rep, since=since).conditions()]
        async with self._tx(await self._reader(viewer.workspace_id)) as s:
            return await insights.stats(s, scope=scope, now=now or self._clock())

    # -- knowledge base (per workspace; `user_id` records who added a document)
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
        """Save a document and its chunks in one transaction."""
        async with self._write(workspace_id) as s:
            return await documents.add_document(
                s,
                workspace_id=workspace_id,
                user_id=user_id,
                filename=filename,
                content_type=content_type,
                size_bytes=size_bytes,
                chunks=chunks,
                checksum=checksum,
                source=source,
                document_id=document_id,
            )

    async def list_documents(self, *, workspace_id: str) -> list[DocumentRecord]:
        """The workspace's documents, oldest first, with their chunk counts."""
        async with self._tx(await self._fresh(workspace_id)) as s:
            return await documents.list_documents(s, workspace_id=workspace_id)

    async def delete_document(self, *, workspace_id: str, document_id: str) -> bool:
        """Delete a document of this workspace and its chunks; False if there was none."""
        async with self._write(workspace_id) as s:
            return await documents.delete_document(s, workspace_id=workspace_id, document_id=document_id)

    async def list_chunks(self, *, workspace_id: str, document_id: str | None = None) -> list[ChunkRecord]:
        """The workspace's chunks (of one document, or all) in document and position order."""
        async with self._tx(await self._fresh(workspace_id)) as s:
            return await documents.list_chunks(s, workspace_id=workspace_id, document_id=document_id)

    # -- vocabulary (per workspace)
    async def list_vocabulary_terms(self, *, workspace_id: str) -> list[str]:
        """The terms added to this workspace's vocabulary, in their order."""
        async with self._tx(await self._fresh(workspace_id)) as s:
            return await vocabulary.list_terms(s, workspace_id=workspace_id)

    async def set_vocabulary_terms(
        self, *, workspace_id: str, user_id: str, terms: Sequence[str]
    ) -> list[str]:
        """Replace the workspace's vocabulary terms; whitespace is collapsed and a repeated term
        (ignoring case) keeps its first spelling. BadInput for an empty or too long term."""
        cleaned: dict[str, str] = {}
        for raw in terms:
            term = " ".join(raw.split())
            key = term.casefold()
            if not term or max(len(term), len(key)) > MAX_TERM_CHARS:
                raise BadInput(f"a term must have 1 to {MAX_TERM_CHARS} characters", code="bad_term")
            cleaned.setdefault(key, term)
        pairs = [(term, key) for key, term in cleaned.items()]
        for attempt in range(2):
            try:
                async with self._write(workspace_id) as s:
                    return await vocabulary.replace_terms(
                        s, workspace_id=workspace_id, user_id=user_id, terms=pairs, now=self._clock()
                    )
            except exc.IntegrityError as e:
                # no such user (foreign key), or a concurrent replace of the same terms: the
                # second writer retries once over the first one's rows
                if await self.get_user(user_id=user_id) is None:
                    raise NotFound("no such user") from e
                if attempt:
                    raise BadInput("the vocabulary changed meanwhile; try again", code="conflict") from e
        raise AssertionError("unreachable")

    # -- company profile (one per tenant)
    async def get_profile(self, *, tenant_id: str) -> ProfileRecord | None:
        """The tenant's company profile, or None."""
        async with self._tx(await self._fresh(tenant_id)) as s:
            return await profiles.get_profile(s, tenant_id=tenant_id)

    async def put_profile(
        self, *, tenant_id: str, profile: CompanyProfile, source: ProfileSource = "user"
    ) -> ProfileRecord:
        """Create or replace the tenant's profile (a concurrent first write retries once)."""
        for attempt in range(2):
            try:
                async with self._write(tenant_id) as s:
                    return await profiles.put_profile(
                        s, tenant_id=tenant_id, profile=profile, source=source, now=self._clock()
                    )
            except exc.IntegrityError:
                if attempt:
                    raise BadInput("the profile changed meanwhile; try again", code="conflict") from None
        raise AssertionError("unreachable")

    async def delete_profile(self, *, tenant_id: str, source: ProfileSource | None = None) -> bool:
        """Delete the tenant's profile (only one from `source`, when given)."""
        async with self._write(tenant_id) as s:
            return await profiles.delete_profile(s, tenant_id=tenant_id, source=source)
    # -- voiceprints (speakers/voiceprint.py)
    # a voiceprint is a row of its user, on the shard of the user's workspace (the tenant): routed
    # by the workspace id, which for an invited member is not their own id
    async def get_voiceprint(self, *, workspace_id: str, user_id: str) -> voiceprints.VoiceprintRecord | None:
        """The user's enrolled voice, or None."""
        async with self._tx(await self._fresh(workspace_id)) as s:
            return await voiceprints.get(s, user_id=user_id)

    async def put_voiceprint(self, record: voiceprints.VoiceprintRecord, *, workspace_id: str) -> None:
        """Save (or replace) a user's voiceprint; NotFound for a user not in that workspace."""
        try:
            async with self._write(workspace_id) as s:
                await voiceprints.put(s, record)
        except exc.IntegrityError as e:
            raise NotFound("no such user") from e

    async def delete_voiceprint(self, *, workspace_id: str, user_id: str) -> bool:
        """Forget the user's voice; True when there was one."""
        async with self._write(workspace_id) as s:
            return await voiceprints.remove(s, user_id=user_id)

    # -- maintenance (all tenants: background tasks and the CLI only, never a request)
    async def purge_calls_before(self, *, cutoff: datetime) -> int:
        """Retention: delete every call (any tenant) that started before `cutoff`, with its
        transcript, recommendations, agent runs, key moments and action items."""
        deleted = 0
        for engine in self._router.primaries():
            async with self._tx(engine) as s:
                deleted += await maintenance.purge_calls_before(s, cutoff=cutoff)
        return deleted

    async def idle_open_calls(self, *, idle_since: datetime) -> list[tuple[str, str, str]]:
        """(workspace_id, user_id, call_id) of open calls (any tenant) with no activity since
        `idle_since`."""
        found: list[tuple[str, str, str]] = []
        for engine in self._router.primaries():
            async with self._tx(engine) as s:
                found.extend(await maintenance.idle_open_calls(s, idle_since=idle_since))
        return found
