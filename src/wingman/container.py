"""The one place that turns Settings into concrete providers, bus and store.

Everything else receives its collaborators from here, so swapping SQLite for PostgreSQL, the
in-process bus for Kafka or the local speech engine for Deepgram is a settings change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from functools import cached_property
from typing import Any

import httpx

from wingman.agents.playbook import PlaybookSource
from wingman.audio.pool import AudioWorkerPool
from wingman.auth import Auth
from wingman.bus.base import EventBus
from wingman.connections import kafka_options, redis_client
from wingman.crm.service import CrmService
from wingman.errors import ConfigError
from wingman.feedback import FeedbackService
from wingman.health import ProviderHealth
from wingman.llm.base import Llm
from wingman.playbooks import WorkspacePlaybooks
from wingman.profile import ProfileService
from wingman.realtime.batches import MemoryReportBatches, ReportBatches
from wingman.realtime.lease import CallLeases, MemoryCallLeases
from wingman.recordings.service import RecordingService
from wingman.search.base import Search
from wingman.search.knowledge import KnowledgeBase
from wingman.sentiment.model import SentimentModel
from wingman.settings import Settings
from wingman.speakers.voiceprint import VoiceprintService
from wingman.store.repos import Store
from wingman.store.writer import StoreWriter
from wingman.stt.base import SpeechToText
from wingman.vocabulary import VocabularyService

log = logging.getLogger(__name__)

SPILL_DIR = "spill"  # the writer's journal, under the data dir


def _secret(value: Any, name: str) -> Any:
    if value is None:
        raise ConfigError(f"WINGMAN_{name} is required for this provider")
    return value


class Container:
    """Owns every long-lived object of one process and the background tasks between them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # the data dir holds the key and the database
            settings.data_dir.chmod(0o700)
        self.health = ProviderHealth()
        self.http = httpx.AsyncClient(timeout=settings.search_timeout_seconds)
        self.pool = AudioWorkerPool(max_workers=2)
        self.store = Store.from_settings(settings)
        self.auth = Auth(store=self.store, settings=settings)
        self.bus = self._make_bus()
        self.leases = self._make_leases()
        self.report_batches = self._make_report_batches()  # latency-report dedupe
        self.feedback = FeedbackService(store=self.store, bus=self.bus)  # likes and dislikes
        self.stt = self._make_stt()
        self.llm = self._make_llm()
        self.knowledge = self._make_knowledge()
        self.profiles = ProfileService(store=self.store, default_competitors=settings.competitors)
        # each workspace's playbook (the shipped file is the template): the coach and the editor
        self.playbooks = WorkspacePlaybooks(
            store=self.store,
            template=PlaybookSource(settings.effective_playbook_path),
            check_seconds=settings.playbook_check_seconds,
        )
        self.vocabulary = VocabularyService(
            store=self.store,
            knowledge=self.knowledge,
            playbooks=self.playbooks,
            competitors=settings.competitors,
            profiles=self.profiles,
        )
        self.web_search = self._make_web_search()
        self.crm = self._make_crm()
        self.voiceprints = VoiceprintService(store=self.store, pool=self.pool)
        self.sentiment = SentimentModel()  # customer sentiment per segment (sentiment/)
        self.recordings = self._make_recordings()  # call audio, if the workspace opted in
        self._tasks: list[asyncio.Task[None]] = []

    @cached_property
    def writer(self) -> StoreWriter:
        """This process's store writer: what a call writes as it goes (segments, sentiment,
        recommendations, agent runs) is journaled in the data dir and applied per tenant with
        retries, so a kill -9 or a shutdown with the database away loses nothing
        (notes/PERSISTENCE.md). Made on first use: commands that write nothing open no journal."""
        return StoreWriter(store=self.store, spill_dir=self.settings.data_dir / SPILL_DIR)

    # -- factories
    def _make_bus(self) -> EventBus:
        s = self.settings
        if s.bus == "redis":
            from wingman.bus.redis_streams import RedisStreamsBus

            # a blocking pool waits for a free connection instead of failing past its size
            return RedisStreamsBus(client=redis_client(s, max_connections=200, timeout=5))
        if s.bus == "kafka":
            from wingman.bus.kafka import KafkaBus

            return KafkaBus(
                bootstrap=s.kafka_bootstrap,
                client_id=s.node_id,
                partitions=s.kafka_partitions,
                replication_factor=s.kafka_replication,
                security=kafka_options(s),
            )
        from wingman.bus.memory import MemoryBus

        return MemoryBus()

    def _make_leases(self) -> CallLeases:
        """Call-owner leases: in Redis when several gateways may share calls, else in memory."""
        s = self.settings
        if s.bus == "redis" or s.socketio_redis:
            from wingman.realtime.lease import RedisCallLeases

            return RedisCallLeases(client=redis_client(s), node_id=s.node_id)
        return MemoryCallLeases(node_id=s.node_id)

    def _make_report_batches(self) -> ReportBatches:
        """Latency-report batch ids: in Redis where gateways share it (a batch resent through
        another node is counted once), else in memory."""
        s = self.settings
        if s.bus == "redis" or s.socketio_redis:
            from wingman.realtime.batches import RedisReportBatches

            return RedisReportBatches(client=redis_client(s))
        return MemoryReportBatches()

    def _make_local_stt(self) -> SpeechToText:
        from wingman.stt.local import LocalWhisperStt

        return LocalWhisperStt(model=self.settings.stt_model, pool=self.pool, data_dir=self.settings.data_dir)

    def _make_stt(self) -> SpeechToText:
        s = self.settings
        self.health.set_provider("stt", s.stt)
        if s.stt == "deepgram":
            from wingman.privacy import DEEPGRAM_REDACT
            from wingman.stt.deepgram import DeepgramStt
            from wingman.stt.failover import FailoverStt

            primary = DeepgramStt(
                api_key=_secret(s.deepgram_api_key, "DEEPGRAM_API_KEY"),
                url=s.deepgram_url,
                model=s.deepgram_model,
                redact=DEEPGRAM_REDACT if s.redact else (),
            )
            return FailoverStt(primary=primary, fallback=self._make_local_stt(), health=self.health)
        return self._make_local_stt()

    def _make_llm(self) -> Llm:
        from wingman.llm.local import LocalLlm

        s = self.settings
        local = LocalLlm()
        self.health.set_provider("llm", s.llm)
        if s.llm == "local":
            return local
        from wingman.llm.fallback import FallbackLlm

        primary: Llm
        if s.llm == "gemini":
            from wingman.llm.gemini import GeminiLlm

            primary = GeminiLlm(
                api_key=_secret(s.gemini_api_key, "GEMINI_API_KEY"),
                model=s.gemini_model,
                base_url=s.gemini_base_url,
            )
        else:
            from wingman.llm.openai_compat import OpenAiCompatLlm

            primary = OpenAiCompatLlm(
                api_key=s.openai_api_key,
                base_url=_secret(s.openai_base_url, "OPENAI_BASE_URL"),
                model=s.openai_model,
            )
        if s.redact:
            from wingman.privacy import RedactingLlm

            primary = RedactingLlm(primary)  # nothing unredacted leaves for the cloud
        return FallbackLlm(primary=primary, fallback=local, health=self.health)

    def _make_knowledge(self) -> KnowledgeBase:
        from wingman.search.documents import ParseLimits
        from wingman.search.embeddings import Embedder
        from wingman.search.uploads import UploadWorker

        s = self.settings
        embedder = Embedder()
        limits = ParseLimits(
            max_pages=s.upload_max_pages,
            max_characters=s.upload_max_characters,
            max_chunks=s.upload_max_chunks,
        )
        uploads = UploadWorker(
            embedder=embedder,
            limits=limits,
            parse_seconds=s.upload_parse_seconds,
            embed_seconds=s.upload_embed_seconds,
        )
        return KnowledgeBase(
            store=self.store,
            embedder=embedder,
            max_document_bytes=s.max_document_bytes,
            uploads=uploads,
            max_indexes=s.knowledge_index_cache,
            max_documents=s.max_documents_per_tenant,
            max_tenant_bytes=s.max_document_bytes_per_tenant,
        )

    def _make_web_search(self) -> Search | None:
        s = self.settings
        self.health.set_provider("search", s.search)
        if s.search == "local":
            return None
        from wingman.search.cache import CachedSearch

        inner: Search
        if s.search == "tavily":
            from wingman.search.tavily import TavilySearch

            inner = TavilySearch(
                api_key=_secret(s.tavily_api_key, "TAVILY_API_KEY"),
                base_url=s.tavily_base_url,
                client=self.http,
                timeout_seconds=s.search_timeout_seconds,
            )
        else:
            from wingman.search.google import GoogleSearch

            inner = GoogleSearch(
                api_key=_secret(s.google_api_key, "GOOGLE_API_KEY"),
                cse_id=_secret(s.google_cse_id, "GOOGLE_CSE_ID"),
                base_url=s.google_base_url,
                client=self.http,
                timeout_seconds=s.search_timeout_seconds,
            )
        if s.redact:
            from wingman.privacy import RedactingSearch

            inner = RedactingSearch(inner)  # queries are redacted before they leave
        cache = redis_client(s) if s.bus == "redis" or s.socketio_redis else None
        return CachedSearch(inner=inner, redis=cache, health=self.health)

    def _make_crm(self) -> CrmService:
        """CRM clients for each CRM whose OAuth app is configured (crm/)."""
        from wingman.auth import load_or_create_secret
        from wingman.crm.base import CrmClient
        from wingman.crm.hubspot import HubSpotCrm
        from wingman.crm.salesforce import SalesforceCrm
        from wingman.store.crm import CrmRepo

        s = self.settings
        clients: dict[str, CrmClient] = {}
        # CRM calls get their own client: longer timeouts than live search needs
        self.crm_http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=5.0))
        if s.hubspot_client_id:
            clients["hubspot"] = HubSpotCrm(
                client=self.crm_http, client_id=s.hubspot_client_id,
                client_secret=_secret(s.hubspot_client_secret, "HUBSPOT_CLIENT_SECRET").get_secret_value(),
                auth_url=s.hubspot_auth_url, api_url=s.hubspot_api_url,
            )
        if s.salesforce_client_id:
            clients["salesforce"] = SalesforceCrm(
                client=self.crm_http, client_id=s.salesforce_client_id,
                client_secret=_secret(
                    s.salesforce_client_secret, "SALESFORCE_CLIENT_SECRET"
                ).get_secret_value(),
                login_url=s.salesforce_login_url,
            )
        key = s.secret_key.get_secret_value() if s.secret_key else load_or_create_secret(s.data_dir)
        return CrmService(repo=CrmRepo(self.store), clients=clients, secret=key,
                          redirect_base=s.effective_public_url)

    def _make_recordings(self) -> RecordingService:
        from wingman.auth import load_or_create_secret

        s = self.settings
        key = s.secret_key.get_secret_value() if s.secret_key else load_or_create_secret(s.data_dir)
        return RecordingService(store=self.store, root=s.data_dir / "recordings", secret=key,
                                codec=s.recording_codec)

    async def run_crm_sync(self) -> None:
        """The CRM sync worker of this node (every node runs one; jobs are leased)."""
        from wingman.crm.worker import CrmSyncWorker

        s = self.settings
        await CrmSyncWorker(service=self.crm, store=self.store, link_base=s.effective_public_url,
                            poll_seconds=s.crm_poll_seconds, max_attempts=s.crm_max_attempts).run()

    # -- lifecycle
    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background loop owned by the container; its failure is logged, never silent."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", extra={"task": task.get_name()}, exc_info=task.exception())

    async def start(self) -> None:
        await self.store.migrate()
        await self.bus.start()
        self.spawn(self.stt.warm_up(), "stt-warm-up")
        if self.settings.auth == "local":
            user = await self.store.ensure_local_user()
            if self.settings.sample_knowledge:
                from wingman.sample import load_sample_data

                await load_sample_data(user.workspace_id, knowledge=self.knowledge, profiles=self.profiles)
        if self.settings.agents_in_process:
            self.spawn(self.run_agents(), "agents")

    async def run_agents(self) -> None:
        from wingman.agents.runner import AgentWorker

        worker = AgentWorker(
            bus=self.bus,
            store=self.store,
            writer=self.writer,
            llm=self.llm,
            knowledge=self.knowledge,
            web_search=self.web_search,
            settings=self.settings,
            profiles=self.profiles,
            playbooks=self.playbooks,
        )
        await worker.run()

    async def aclose(self, *, write_seconds: float = 10.0) -> None:
        """Stop the background loops, then give the writer `write_seconds` to apply what it
        holds (the rest stays in its journal for the next start), then close the clients."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if "writer" in self.__dict__:  # made (cached_property): it may hold writes
            await self.writer.aclose(timeout=write_seconds)
        await self.bus.close()
        await self.leases.aclose()
        await self.report_batches.aclose()
        await self.stt.aclose()
        await self.llm.aclose()
        if self.web_search is not None:
            await self.web_search.aclose()
        await self.http.aclose()
        await self.crm_http.aclose()
        await self.store.aclose()
        self.knowledge.uploads.close()
        self.auth.close()
        self.pool.shutdown()
