"""The data path between nodes: every Redis client (bus, Socket.IO manager, leases, search
cache) authenticates with the configured password against a Redis that requires one, and
every Kafka client (producer, consumers, admin) gets the TLS/SASL options.

Kafka: the stand-in broker (tansu) is run without SASL here, so what is tested is that the
options reach every aiokafka client object the bus creates, and that SASL without
credentials is refused at start-up; a SASL handshake against a broker is not tested."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from tests.security.outage import private_redis
from wingman.bus.kafka import KafkaBus, _Consumer
from wingman.connections import kafka_options, redis_client, redis_options
from wingman.container import Container
from wingman.errors import ConfigError
from wingman.events import CallStarted
from wingman.realtime.server import build_sio
from wingman.settings import Settings


async def test_every_redis_client_authenticates(tmp_path: Path) -> None:
    password = uuid.uuid4().hex
    with private_redis(tmp_path / "redis", password=password) as server:
        anonymous = aioredis.Redis.from_url(server.url)
        with pytest.raises(aioredis.AuthenticationError):
            await anonymous.ping()  # the cluster's Redis refuses clients without the password
        await anonymous.aclose()
        settings = Settings(data_dir=tmp_path / "data", bus="redis", socketio_redis=True,
                            redis_url=server.url, redis_password=SecretStr(password),
                            sample_knowledge=False, agents_in_process=False)
        assert await redis_client(settings).ping()
        container = Container(settings)
        await container.bus.start()
        try:
            await container.bus.publish("calls", CallStarted(call_id="c1", user_id="u1", title="t"),
                                        key="c1")
            assert await container.leases.claim("c1")  # the leases' client
        finally:
            await container.bus.close()
            await container.leases.aclose()
        sio = build_sio(settings)  # the Socket.IO manager relays transcripts through Redis
        manager = sio.manager
        assert manager.redis_options["password"] == password


def test_redis_tls_options() -> None:
    settings = Settings(redis_url="rediss://cache.internal:6380/0", redis_tls=True,
                        redis_tls_ca_file=Path("/etc/wingman/ca.pem"))
    assert redis_options(settings) == {"ssl_cert_reqs": "required", "ssl_ca_certs": "/etc/wingman/ca.pem"}
    with pytest.raises(ConfigError, match="rediss://"):
        redis_options(Settings(redis_tls=True))


async def test_every_kafka_client_gets_the_security_options() -> None:
    settings = Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                        kafka_sasl_username="wingman", kafka_sasl_password=SecretStr("s3cret"))
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL" and options["ssl_context"] is not None
    bus = KafkaBus(bootstrap="127.0.0.1:1", security=options, request_timeout_ms=500)
    consumer = _Consumer(bus, "transcript.blocks", "agents", "n1").consumer
    client = consumer._client
    assert client._security_protocol == "SASL_SSL" and client._sasl_mechanism == "SCRAM-SHA-512"
    assert client._sasl_plain_username == "wingman" and client._sasl_plain_password == "s3cret"
    with pytest.raises(ConfigError, match="SASL_USERNAME"):
        kafka_options(Settings(kafka_security_protocol="SASL_PLAINTEXT"))
