"""The container hands the Kafka settings to the bus it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from wingman.bus.kafka import KafkaBus
from wingman.container import Container
from wingman.settings import Settings


async def test_kafka_partitions_and_replication_come_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINGMAN_BUS", "kafka")
    monkeypatch.setenv("WINGMAN_KAFKA_PARTITIONS", "24")
    monkeypatch.setenv("WINGMAN_KAFKA_REPLICATION", "3")
    container = Container(Settings(data_dir=tmp_path, sample_knowledge=False))
    try:
        assert isinstance(container.bus, KafkaBus)
        assert (container.bus.partitions, container.bus.replication_factor) == (24, 3)
    finally:
        await container.aclose()
