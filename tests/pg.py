"""A real PostgreSQL for the store's tests: `AGENTD_TEST_POSTGRES_URL` names a role that may
create databases (`.ci/run` starts the server and creates it); each test gets a database of
its own, dropped afterwards. Without the variable the tests skip, unless
AGENTD_REQUIRE_TOOLS=1 (CI), where they fail: the PostgreSQL path is never left untested."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

VARIABLE = "AGENTD_TEST_POSTGRES_URL"


def server_url() -> str:
    url = os.environ.get(VARIABLE)
    if url:
        return url
    if os.environ.get("AGENTD_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{VARIABLE} is not set (AGENTD_REQUIRE_TOOLS=1): .ci/run starts PostgreSQL")
    pytest.skip(f"{VARIABLE} is not set: no PostgreSQL to test against")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


@pytest.fixture(name="pg_url")
def fresh_database() -> Iterator[str]:
    """The URL of a fresh, empty database on the test server."""
    psycopg = pytest.importorskip("psycopg")
    base = server_url()
    name = f"agentd_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
