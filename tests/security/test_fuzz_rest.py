"""Schemathesis over the OpenAPI spec (/openapi.json): generated valid and invalid requests to
every REST operation never get a 5xx, on SQLite and on PostgreSQL (which, unlike SQLite,
refuses NUL characters in text). Bounded examples keep it to well under a minute per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.security.support import Server, User, quiet_settings, register, script_of, scripted, serve

pytestmark = pytest.mark.timeout(300)
EXAMPLES = 20  # per operation and generation mode: ~500 requests per backend


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, User]]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    overrides: dict[str, Any] = {"max_document_bytes": 20_000}
    if request.param == "postgres":
        from tests.services import postgres_database

        with postgres_database() as url:
            with serve(quiet_settings(tmp, database_url=url, **overrides),
                       container_factory=scripted(script_of(["hi"]))) as server:
                yield server, register(server.url, "schema")
        return
    with serve(quiet_settings(tmp, **overrides), container_factory=scripted(script_of(["hi"]))) as server:
        yield server, register(server.url, "schema")


def _check(server: Server, user: User, case: Any) -> None:
    headers = {**user.headers, **(case.headers or {})}
    response = case.call(base_url=server.url, headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} {case.query} -> {response.status_code}: {response.text[:300]}"
    )
    if 200 <= response.status_code < 300:
        case.validate_response(response, checks=[response_schema_conformance])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(api: tuple[Server, User], mode: GenerationMode) -> None:
    server, user = api
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    exercised = 0
    for operation in operations:
        if operation.path == "/api/auth/logout":
            continue  # would revoke the token every case uses (see test_auth_hardening)

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            _check(server, user, case)

        try:
            run()
        except Unsatisfiable:
            # nothing to make invalid (no parameters, no body): the positive run covers it
            assert mode is GenerationMode.NEGATIVE, operation.path
            continue
        exercised += 1
    assert exercised >= 6, exercised
