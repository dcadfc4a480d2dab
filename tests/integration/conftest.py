"""Fixtures and helpers of the target's integration tests: run the real CLI, read tables back.

Fixtures (``target_config``, ``run``, ``db``) reach the tests through pytest; the plain helpers
(message builders, ``run_target``, ``start_target``, ``TargetRun``, ``Db``) are imported from
this module. Every run is the installed ``target-postgres-upsert`` console script in a
subprocess, talking to the real PostgreSQL over TCP, in the test's own schema (the database
fixtures are in ``tests/conftest.py``, shared by the whole suite).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extras
import pytest
from psycopg2 import sql

TARGET_BIN = Path(sys.executable).parent / "target-postgres-upsert"
SINGER_DIR = Path(__file__).resolve().parents[1] / "data" / "singer"
RUN_TIMEOUT_SECONDS = 60


@dataclass
class TargetRun:
    """What one run of the target did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[Any]:
        """The STATE values written to stdout, in order."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    @property
    def errors(self) -> list[str]:
        """The log lines at level ERROR."""
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]


def singer_file(name: str) -> Path:
    """A Singer message file from ``tests/data/singer``."""
    path = SINGER_DIR / name
    assert path.is_file(), path
    return path


def jsonl(*messages: Mapping[str, Any]) -> str:
    """Singer messages as JSON lines."""
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)


def schema_message(
    stream: str, properties: Mapping[str, Any], keys: list[str] | None = None
) -> dict[str, Any]:
    """A SCHEMA message."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": keys or [],
        "schema": {"type": "object", "properties": dict(properties)},
    }


def record(stream: str, values: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": dict(values), **extra}


def state(value: Any) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def write_config(directory: Path, config: Mapping[str, Any]) -> Path:
    """Write a config file for one run."""
    path = directory / f"config-{len(list(directory.glob('config-*.json')))}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def run_target(
    config: Mapping[str, Any],
    messages: str | Path,
    directory: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT_SECONDS,
) -> TargetRun:
    """Run the target CLI on ``messages`` (text, or a file fed as standard input)."""
    config_path = write_config(directory, config)
    data = messages.read_bytes() if isinstance(messages, Path) else messages.encode("utf-8")
    proc = subprocess.run(
        [str(TARGET_BIN), "--config", str(config_path)],
        input=data,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return TargetRun(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def start_target(
    config: Mapping[str, Any], directory: Path, *, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start the target CLI with a pipe as standard input (the test writes messages itself)."""
    config_path = write_config(directory, config)
    return subprocess.Popen(
        [str(TARGET_BIN), "--config", str(config_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        bufsize=0,  # unbuffered: select() on stdout then tells whether a line is waiting
    )


@pytest.fixture
def target_config(database_url: str, pg_schema: str) -> dict[str, Any]:
    """The target's config for this test: the test's schema, defaults otherwise."""
    return {"database_url": database_url, "default_target_schema": pg_schema}


@pytest.fixture
def run(target_config: dict[str, Any], tmp_path: Path) -> Callable[..., TargetRun]:
    """Run the target with the test's config plus ``settings`` overrides."""

    def runner(
        messages: str | Path, env: Mapping[str, str] | None = None, **settings: Any
    ) -> TargetRun:
        return run_target({**target_config, **settings}, messages, tmp_path, env=env)

    return runner


@pytest.fixture
def db(pg_conn: psycopg2.extensions.connection, pg_schema: str) -> Db:
    """Queries on the test's schema."""
    return Db(pg_conn, pg_schema)


class Db:
    """Small read helpers over the test schema (autocommit connection)."""

    def __init__(self, conn: psycopg2.extensions.connection, schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def query(self, query: str | sql.Composable, params: Any = None) -> list[dict[str, Any]]:
        """Rows as dicts."""
        with self.conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute(query, params)
            return [dict(row) for row in cur.fetchall()]

    def execute(self, statement: str | sql.Composable, params: Any = None) -> None:
        """Run a statement that returns no rows."""
        with self.conn.cursor() as cur:
            cur.execute(statement, params)

    def select(self, columns: str, table: str, order_by: str = "") -> list[dict[str, Any]]:
        """``SELECT columns FROM schema.table [ORDER BY ...]``; columns and order are test text."""
        query = sql.SQL("SELECT {} FROM {} {}").format(
            sql.SQL(columns),
            sql.Identifier(self.schema, table),
            sql.SQL(f"ORDER BY {order_by}" if order_by else ""),
        )
        return self.query(query)

    def rows(self, table: str, order_by: str | None = None) -> list[dict[str, Any]]:
        """Every row of ``table`` in the test schema, ordered by a column if given."""
        query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(self.schema, table))
        if order_by:
            query += sql.SQL(" ORDER BY {}").format(sql.Identifier(order_by))
        return self.query(query)

    def columns(self, table: str) -> dict[str, str]:
        """Column name -> type (``format_type`` spelling), in table order."""
        rows = self.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type"
            " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
            " ORDER BY a.attnum",
            (self.schema, table),
        )
        return {r["attname"]: r["type"] for r in rows}

    def tables(self) -> set[str]:
        """The tables in the test schema."""
        rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = %s", (self.schema,))
        return {r["tablename"] for r in rows}

    def rejects(self) -> list[dict[str, Any]]:
        """The rejects table, in input order."""
        if "_sdc_rejected_records" not in self.tables():
            return []
        return self.rows("_sdc_rejected_records", order_by="id")
