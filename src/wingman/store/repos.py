"""`Store`: the one facade the rest of Wingman uses for persistence.

Every method is async, takes keyword arguments, is scoped to a tenant (the user id) and returns
frozen records from records.py. Another tenant's call, recommendation or document looks exactly
like a missing one (None / False / empty), never like data. Writes that events can repeat
(segments, recommendations, agent runs, finishing a call) are idempotent on their ids, because
the bus delivers at least once and the store writer retries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, get_args

from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from wingman.errors import BadInput, NotFound
from wingman.events import AgentRun, FeedbackStatus, Insight, TranscriptFragment, new_id, utcnow
from wingman.profile import CompanyProfile, ProfileRecord, ProfileSource
from wingman.store import (
    accounts,
    calls,
    documents,
    insights,
    maintenance,
    placement,
    profiles,
    vocabulary,
    voiceprints,
)
from wingman.store.lag import LagLimits
from wingman.store.maintenance import MIGRATIONS as MIGRATIONS
from wingman.store.maintenance import upgrade
from wingman.store.placement import Placement, Placements, TenantMoving
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
    SegmentRecord,
    Stats,
    UserRecord,
)
from wingman.store.routing import Router, ShardEngines

if TYPE_CHECKING:
    from wingman.settings import Settings, ShardUrls

MAX_PAGE = 200
MAX_TERM_CHARS = 64  # vocabulary_terms.term


class Store:
    """Persistence for users, calls, transcripts, recommendations, agent runs and documents."""

    def __init__(
        self,
        *,
        url: str,
        replica_urls: Sequence[str] = (),
        shards: Mapping[str, str | ShardUrls] | None = None,
        clock: Callable[[], datetime] = utcnow,
        placement_ttl: float = 5.0,
        lag_limits: LagLimits | None = None,
    ) -> None:
        self._router = Router(url=url, replica_urls=replica_urls, shards=shards, lag_limits=lag_limits)
        self.placements = Placements(router=self._router, ttl=placement_ttl)
        self._clock = clock
        self._makers: dict[int, async_sessionmaker[AsyncSession]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The Store the settings describe (directory, replicas, shards, placement cache)."""
        return cls(
            url=settings.effective_database_url,
            replica_urls=tuple(settings.database_replica_urls),
            shards=dict(settings.database_shards),
            placement_ttl=settings.placement_cache_seconds,
            lag_limits=LagLimits(
                check_seconds=settings.replica_check_seconds,
                max_seconds=settings.max_replica_lag_seconds,
                max_bytes=settings.max_replica_lag_bytes,
            ),
        )

    @property
    def router(self) -> Router:
        """The engines of the directory and of every shard (maintenance and shard moves)."""
        return self._router

    async def _engines(self, tenant: str) -> tuple[Placement, ShardEngines]:
        placement = await self.placements.of(tenant)
        return placement, self._router.shard(placement.shard)

    async def _writer(self, tenant: str) -> ShardEngines:
        """The database holding `tenant`'s data; TenantMoving while it is copied elsewhere."""
        placement, engines = await self._engines(tenant)
        if placement.moving_to is not None:
            raise TenantMoving("this account is being moved to another database; retry shortly")
        return engines

    @asynccontextmanager
    async def _write(self, tenant: str) -> AsyncIterator[AsyncSession]:
        """A transaction on `tenant`'s primary, after which its reads see it (read-your-writes)."""
        engines = await self._writer(tenant)
        try:
            async with self._tx(engines.primary) as s:
                yield s
        finally:  # even on an error: the commit may have reached the server
            engines.wrote(tenant)

    async def _fresh(self, tenant: str) -> AsyncEngine:
        """For reads of `tenant`'s data that must see every committed write (never a replica)."""
        return (await self._engines(tenant))[1].fresh()

    async def _reader(self, tenant: str) -> AsyncEngine:
        """For reads that tolerate lag (history, search, stats): a replica of the tenant's shard
        that is close enough behind and has replayed the tenant's writes from this node."""
        return await (await self._engines(tenant))[1].reader(tenant)

    @asynccontextmanager
    async def _tx(self, engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
        maker = self._makers.get(id(engine))
        if maker is None:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            self._makers[id(engine)] = maker
        async with maker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def tenant_tx(self, tenant: str, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A transaction on `tenant`'s database for the query modules beside this facade
        (store/crm.py ...): on its primary when `write`, else a read that sees every write."""
        if write:
            async with self._write(tenant) as s:
                yield s
        else:
            async with self._tx(await self._fresh(tenant)) as s:
                yield s

    async def each_primary(self) -> AsyncIterator[AsyncSession]:
        """One transaction per primary database in turn (maintenance across tenants only)."""
        for engine in self._router.primaries():
            async with self._tx(engine) as s:
                yield s

    # -- lifecycle
    async def migrate(self) -> None:
        """Create or upgrade the schema (Alembic, to head) on every primary database."""
        for engine in self._router.primaries():
            async with engine.begin() as conn:
                await conn.run_sync(upgrade)

    async def aclose(self) -> None:
        """Close every connection pool."""
        await self._router.dispose()

    async def ping(self) -> bool:
        """Whether the directory database answers."""
        try:
            async with self._router.directory().connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (exc.SQLAlchemyError, OSError):
            return False
        return True

    # -- users and tokens
    async def create_user(self, *, email: str, name: str, password_hash: str | None) -> UserRecord:
        """A new user; BadInput(code="email_taken") when the email is registered already."""
        user = UserRecord(
            id=new_id(),
            email=accounts.normalize_email(email),
            name=name.strip(),
            created_at=self._clock(),
            password_hash=password_hash,
        )
        async with self._tx(self._router.directory()) as s:
            inserted = await accounts.insert_user(s, user)
            home = self._router.home(user.id)
            if inserted and home is not None:  # pinned: a shard added later does not move it
                await placement.pin(s, tenant=user.id, shard=home)
        if not inserted:
            raise BadInput("an account with this email exists already", code="email_taken")
        await self._copy_user_to_shard(user)
        return user

    async def _copy_user_to_shard(self, user: UserRecord) -> None:
        # tenant rows reference users(id): the tenant's shard keeps a copy of its user row
        engine = (await self._writer(user.id)).primary
        if engine is not self._router.directory():
            async with self._tx(engine) as s:
                await accounts.insert_user(s, user)

    async def get_user(self, *, user_id: str) -> UserRecord | None:
        """The user with this id, or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_user(s, user_id)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        """The user with this email (case-insensitive), or None."""
        async with self._tx(self._router.directory_fresh()) as s:
            return await accounts.get_user_by_email(s, email)

    async def ensure_local_user(self) -> UserRecord:
        """The built-in user of local mode, created on first use (safe to race)."""
        user = UserRecord(
            id=accounts.LOCAL_USER_ID,
            email=accounts.LOCAL_USER_EMAIL,
            name=accounts.LOCAL_USER_NAME,
            created_at=self._clock(),
        )
        async with self._tx(self._router.directory()) as s:
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

    # -- calls and transcript
    async def create_call(self, *, user_id: str, title: str, call_id: str | None = None) -> CallRecord:
        """Start a call now. With `call_id` of an existing call of this user, returns that call;
        BadInput when the id belongs to someone else, NotFound when the user does not exist."""
        try:
            async with self._write(user_id) as s:
                call = await calls.create_call(
                    s, user_id=user_id, title=title, call_id=call_id, now=self._clock()
                )
        except exc.IntegrityError as e:
            raise NotFound("no such user") from e
        if call is None:
            raise BadInput("this call id is already in use", code="call_id_taken")
        return call

    async def get_call(self, *, user_id: str, call_id: str) -> CallRecord | None:
        """One call of this user, or None."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await calls.get_call(s, user_id=user_id, call_id=call_id)

    async def call_detail(self, *, user_id: str, call_id: str) -> CallDetail | None:
        """A call with its transcript, recommendations, key moments and action items."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await calls.call_detail(s, user_id=user_id, call_id=call_id)

    async def finish_call(
        self,
        *,
        user_id: str,
        call_id: str,
        full_transcript: str,
        summary: str,
        key_moments: Sequence[KeyMomentLike] = (),
        action_items: Sequence[str] = (),
        end_time: datetime | None = None,
    ) -> CallRecord | None:
        """Save the end of a call; repeating it replaces, never duplicates. None if not found."""
        async with self._write(user_id) as s:
            return await calls.finish_call(
                s,
                user_id=user_id,
                call_id=call_id,
                full_transcript=full_transcript,
                summary=summary,
                key_moments=key_moments,
                action_items=action_items,
                end_time=end_time or self._clock(),
            )

    async def list_calls(
        self, *, user_id: str, q: str | None = None, limit: int = 20, offset: int = 0
    ) -> CallPage:
        """The user's calls, newest first, optionally full-text searched, with the total count."""
        limit = min(max(limit, 1), MAX_PAGE)
        async with self._tx(await self._reader(user_id)) as s:
            return await calls.list_calls(s, user_id=user_id, q=q, limit=limit, offset=max(offset, 0))

    async def add_segment(self, *, user_id: str, call_id: str, fragment: TranscriptFragment) -> bool:
        """Save a final fragment; True when new. Interims, repeats and others' calls: False."""
        if fragment.call_id != call_id:
            raise BadInput("fragment belongs to another call")
        if not fragment.is_final:
            return False
        async with self._write(user_id) as s:
            return await calls.add_segment(s, user_id=user_id, call_id=call_id, fragment=fragment)

    async def list_segments(self, *, user_id: str, call_id: str) -> list[SegmentRecord]:
        """The saved transcript of a call in time order (empty for others' calls)."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await calls.list_segments(s, user_id=user_id, call_id=call_id)

    # -- recommendations, feedback, agent runs, stats
    async def add_recommendation(self, insight: Insight) -> bool:
        """Save an insight as a recommendation; True when new (idempotent on insight.id)."""
        async with self._write(insight.user_id) as s:
            return await insights.add_recommendation(s, insight)

    async def set_feedback(
        self, *, user_id: str, recommendation_id: str, status: FeedbackStatus
    ) -> RecommendationRecord | None:
        """Set liked / disliked / none on a recommendation of this user; None if not found."""
        if status not in get_args(FeedbackStatus):
            raise BadInput("status must be liked, disliked or none")
        async with self._write(user_id) as s:
            return await insights.set_feedback(
                s, user_id=user_id, recommendation_id=recommendation_id, status=status
            )

    async def feedback_by_kind(self, *, user_id: str) -> dict[str, tuple[int, int]]:
        """{insight kind: (likes, dislikes)} over all the user's calls."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await insights.feedback_by_kind(s, user_id=user_id)

    async def add_agent_run(self, run: AgentRun) -> bool:
        """Save an agent's reasoning about a block; True when new (idempotent on run.id)."""
        async with self._write(run.user_id) as s:
            return await insights.add_agent_run(s, run)

    async def list_agent_runs(self, *, user_id: str, call_id: str) -> list[AgentRunRecord]:
        """A call's agent runs in time order (empty for others' calls)."""
        async with self._tx(await self._reader(user_id)) as s:
            return await insights.list_agent_runs(s, user_id=user_id, call_id=call_id)

    async def stats(self, *, user_id: str, now: datetime | None = None) -> Stats:
        """Dashboard figures for this user (see records.Stats)."""
        async with self._tx(await self._reader(user_id)) as s:
            return await insights.stats(s, user_id=user_id, now=now or self._clock())

    # -- knowledge base
    async def add_document(
        self,
        *,
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
        async with self._write(user_id) as s:
            return await documents.add_document(
                s,
                user_id=user_id,
                filename=filename,
                content_type=content_type,
                size_bytes=size_bytes,
                chunks=chunks,
                checksum=checksum,
                source=source,
                document_id=document_id,
            )

    async def list_documents(self, *, user_id: str) -> list[DocumentRecord]:
        """The user's documents, oldest first, with their chunk counts."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await documents.list_documents(s, user_id=user_id)

    async def delete_document(self, *, user_id: str, document_id: str) -> bool:
        """Delete a document of this user and its chunks; False if there was none."""
        async with self._write(user_id) as s:
            return await documents.delete_document(s, user_id=user_id, document_id=document_id)

    async def list_chunks(self, *, user_id: str, document_id: str | None = None) -> list[ChunkRecord]:
        """The user's chunks (of one document, or all) in document and position order."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await documents.list_chunks(s, user_id=user_id, document_id=document_id)

    # -- vocabulary
    async def list_vocabulary_terms(self, *, user_id: str) -> list[str]:
        """The terms this user added to their vocabulary, in their order."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await vocabulary.list_terms(s, user_id=user_id)

    async def set_vocabulary_terms(self, *, user_id: str, terms: Sequence[str]) -> list[str]:
        """Replace the user's vocabulary terms; whitespace is collapsed and a repeated term
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
                async with self._write(user_id) as s:
                    return await vocabulary.replace_terms(s, user_id=user_id, terms=pairs, now=self._clock())
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
    async def get_voiceprint(self, *, user_id: str) -> voiceprints.VoiceprintRecord | None:
        """The user's enrolled voice, or None."""
        async with self._tx(await self._fresh(user_id)) as s:
            return await voiceprints.get(s, user_id=user_id)

    async def put_voiceprint(self, record: voiceprints.VoiceprintRecord) -> None:
        """Save (or replace) a user's voiceprint; NotFound for an unknown user."""
        try:
            async with self._write(record.user_id) as s:
                await voiceprints.put(s, record)
        except exc.IntegrityError as e:
            raise NotFound("no such user") from e

    async def delete_voiceprint(self, *, user_id: str) -> bool:
        """Forget the user's voice; True when there was one."""
        async with self._write(user_id) as s:
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

    async def idle_open_calls(self, *, idle_since: datetime) -> list[tuple[str, str]]:
        """(user_id, call_id) of open calls (any tenant) with no activity since `idle_since`."""
        found: list[tuple[str, str]] = []
        for engine in self._router.primaries():
            async with self._tx(engine) as s:
                found.extend(await maintenance.idle_open_calls(s, idle_since=idle_since))
        return found
