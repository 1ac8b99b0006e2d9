"""The data path between nodes: one place that turns the Redis and Kafka security settings
into client options, so every client (bus, Socket.IO manager, leases, caches; producer,
consumers, admin) authenticates and encrypts the same way.

Redis: AUTH with `redis_username` / `redis_password` (or credentials in the URL), TLS with
`redis_tls` or a rediss:// URL, the server checked against `redis_tls_ca_file` (default: the
system's CAs). Kafka: `kafka_security_protocol` (SSL, SASL_PLAINTEXT, SASL_SSL) with the SASL
mechanism, user and password, and `kafka_tls_ca_file`.
"""

from __future__ import annotations

import ssl
from typing import Any

from wingman.errors import ConfigError
from wingman.settings import Settings


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword options for redis.asyncio (`from_url(url, **options)`) beyond the URL."""
    options: dict[str, Any] = {}
    if settings.redis_username:
        options["username"] = settings.redis_username
    if settings.redis_password is not None:
        options["password"] = settings.redis_password.get_secret_value()
    tls = settings.redis_tls or settings.redis_url.startswith("rediss://")
    if settings.redis_tls and not settings.redis_url.startswith("rediss://"):
        raise ConfigError("WINGMAN_REDIS_TLS needs a rediss:// WINGMAN_REDIS_URL")
    if tls:
        options["ssl_cert_reqs"] = "required"
        if settings.redis_tls_ca_file is not None:
            options["ssl_ca_certs"] = str(settings.redis_tls_ca_file)
    return options


def redis_client(settings: Settings, **pool: Any) -> Any:
    """A redis.asyncio client for `settings.redis_url` with AUTH/TLS applied; `pool` options
    (max_connections, timeout) give it a blocking connection pool."""
    import redis.asyncio as aioredis

    options = redis_options(settings)
    if pool:
        connections = aioredis.BlockingConnectionPool.from_url(settings.redis_url, **pool, **options)
        return aioredis.Redis(connection_pool=connections)
    return aioredis.Redis.from_url(settings.redis_url, **options)


def kafka_options(settings: Settings) -> dict[str, Any]:
    """Keyword options for every aiokafka client (producer, consumer, admin, plain client)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_tls_ca_file) if settings.kafka_tls_ca_file else None
        options["ssl_context"] = ssl.create_default_context(cafile=cafile)
    if protocol.startswith("SASL"):
        if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
            raise ConfigError(
                f"WINGMAN_KAFKA_SECURITY_PROTOCOL={protocol} needs WINGMAN_KAFKA_SASL_USERNAME and _PASSWORD"
            )
        options.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return options
