"""Fixtures shared by every test: a real PostgreSQL reached over TCP, one fresh schema per test.

The database comes from ``DATABASE_URL`` (``./scripts/test`` sets it after making sure a server runs),
else the local server on 127.0.0.1:5432 that a development machine usually has.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import sql

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

pytest_plugins = ["tests.fake_salesforce.pytest_plugin"]


@pytest.fixture(scope="session")
def database_url() -> str:
    """A libpq URL of a PostgreSQL that accepts connections, or a failure saying how to get one."""
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0]
        pytest.fail(
            f"PostgreSQL is not reachable ({first_line}); run ./scripts/test, which starts one, "
            "or set DATABASE_URL to a server you own",
            pytrace=False,
        )
    return url


@pytest.fixture
def pg_schema(database_url: str) -> Iterator[str]:
    """A new, empty schema for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        conn = psycopg2.connect(database_url)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        conn.close()


@pytest.fixture
def pg_conn(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """An autocommit connection for assertions."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()
