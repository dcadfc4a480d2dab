"""Every SQL statement the target runs: connection, DDL, COPY, merge, deletes, rejects.

One ``Database`` owns one psycopg2 connection and is only used from the loader thread. Every
identifier goes through ``psycopg2.sql.Identifier`` and every value is a query parameter or COPY
data; type names come from ``PgType`` constants, never from input.

A batch is one transaction: COPY the rows into a temporary stage, then one
``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE ... WHERE (row) IS DISTINCT FROM (new row)``
(unchanged rows are not rewritten), then the rejects. If PostgreSQL refuses some row (a value our
cheap checks let through, two keys that differ as text but not as values), the batch is split in
halves under savepoints until the refused rows stand alone; they go to the rejects table and the
rest of the batch is loaded in input order.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from psycopg2 import sql

from target_postgres_upsert.types import PgType, parse_pg_type, widen
from target_postgres_upsert.values import parse_copy_line

LOGGER = logging.getLogger(__name__)

APPLICATION_NAME = "target-postgres-upsert"
CONNECT_TIMEOUT_SECONDS = 30
# psycopg2 reads the COPY source in pieces of this size. One piece per batch is best: each read
# needs the GIL (which the busy main thread hands over only now and then), and a read of a whole
# bytes object returns it without a copy. libpq sends it in pieces of its own.
COPY_CHUNK_BYTES = 1 << 30
TEMP_BUFFERS = "128MB"  # a 10k-row stage of wide rows fits in memory instead of spilling
REJECTS_TABLE = "_sdc_rejected_records"
STAGE_TABLE = "_sdc_stage"
DELETED_AT = "_sdc_deleted_at"
TABLE_VERSION = "_sdc_table_version"

# Errors about the rows of a batch (class 22 data exceptions, 23 integrity, 21000 "ON CONFLICT
# cannot affect a row twice", 54000 e.g. an index row too large): isolate the rows, go on.
ROW_ERRORS: tuple[type[Exception], ...] = (
    psycopg2.DataError,
    psycopg2.IntegrityError,
    psycopg2.errors.CardinalityViolation,
    psycopg2.errors.ProgramLimitExceeded,
)

_TYPE_SQL = {pg_type: sql.SQL(pg_type.value) for pg_type in PgType}


@dataclass(frozen=True)
class TablePlan:
    """What the loader needs to know about one stream's table; the same for all its batches."""

    stream: str
    schema: str
    table: str
    columns: tuple[str, ...]  # COPY columns, in the order of the fields of each line
    key_columns: tuple[str, ...]  # empty: rows are appended
    compare_columns: tuple[str, ...]  # a change in these (or in deletion) rewrites a row
    target_has_deleted_at: bool  # the table keeps _sdc_deleted_at (else it is stage-only)
    hard_delete: bool
    constants: Mapping[str, Any] = field(default_factory=dict)  # same value for every row
    now_columns: tuple[str, ...] = ()  # set to the batch's transaction time


@dataclass(frozen=True)
class Reject:
    """A record that is not loaded, with why; goes to ``_sdc_rejected_records``."""

    stream: str
    line_number: int | None
    reason: str
    raw: str


@dataclass
class Batch:
    """The rows of one flush of one sink as COPY text, plus the records rejected meanwhile.

    ``payload`` is the rows' COPY lines, each ending in a newline, UTF-8 encoded: built once on
    the main thread so the loader thread can send it with almost no Python work.
    """

    plan: TablePlan
    payload: bytes
    line_numbers: list[int]  # the input line of each row, in payload order
    rejects: list[Reject]

    @property
    def rows(self) -> int:
        """How many rows the payload holds."""
        return len(self.line_numbers)

    @functools.cached_property
    def lines(self) -> list[bytes]:
        """The payload split into rows (only needed when PostgreSQL refuses some row)."""
        return self.payload.split(b"\n")[: self.rows]


@dataclass(frozen=True)
class LoadResult:
    """What a committed batch did."""

    rows: int
    written: int  # inserted or changed; unchanged rows are not rewritten
    deleted: int
    refused: list[Reject]
    seconds: float


@dataclass(frozen=True)
class ConnectionSettings:
    """libpq parameters: a URL and/or discrete parameters (which override the URL's parts)."""

    database_url: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


def connect(settings: ConnectionSettings) -> psycopg2.extensions.connection:
    """Open a connection in UTC, so naive timestamps mean UTC whatever the server default.

    ``application_name`` defaults to ``target-postgres-upsert`` unless the URL or the settings
    name one (handy to find the session in ``pg_stat_activity``).
    """
    url = settings.database_url or ""
    params = dict(settings.params)
    named = "application_name" in params
    if url and not named:
        try:
            named = "application_name" in psycopg2.extensions.parse_dsn(url)
        except psycopg2.ProgrammingError:
            named = False  # psycopg2.connect reports the bad URL below
    if not named:
        params["application_name"] = APPLICATION_NAME
    conn = psycopg2.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, **params)
    conn.set_client_encoding("UTF8")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SELECT set_config('temp_buffers', %s, false)", (TEMP_BUFFERS,))
    conn.commit()
    return conn


class _CopySource:
    """A file-like ``read()`` over COPY text: a whole payload, or selected rows of it."""

    def __init__(self, batch: Batch, rows: Sequence[int] | None) -> None:
        if rows is None:
            self._data = batch.payload
        else:
            lines = batch.lines
            self._data = b"".join(lines[i] + b"\n" for i in rows)
        self._offset = 0

    def read(self, size: int = COPY_CHUNK_BYTES) -> bytes:
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - psycopg2 only calls read()
        return self.read(size)


def _idents(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


class Database:
    """SQL for one connection. Not thread-safe: the loader thread is its only user."""

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        """Wrap an open connection (autocommit off: every method ends its own transaction)."""
        self.conn = conn

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        self.conn.close()

    # --- DDL ------------------------------------------------------------------------------------

    def ensure_table(
        self,
        schema: str,
        table: str,
        columns: Sequence[tuple[str, PgType]],
        key_columns: Sequence[str],
    ) -> dict[str, PgType | None]:
        """Create or evolve ``schema.table`` to hold ``columns``; return every column's type.

        Missing columns are added; a column whose type cannot hold the new values is widened in
        place (``ALTER ... TYPE ... USING``); nothing is ever dropped. Columns of types we do not
        create are left alone (``None`` in the result). The key gets a primary key on a new table,
        or a unique index on an existing table that lacks one.
        """
        target = sql.Identifier(schema, table)
        with self.conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if cur.fetchone() is None:
                cur.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
            existing = self._column_types(cur, schema, table)
            if existing is None:
                parts = [
                    sql.SQL("{} {}").format(sql.Identifier(name), _TYPE_SQL[pg_type])
                    for name, pg_type in columns
                ]
                if key_columns:
                    parts.append(sql.SQL("PRIMARY KEY ({})").format(_idents(key_columns)))
                cur.execute(
                    sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                        target, sql.SQL(", ").join(parts)
                    )
                )
                LOGGER.info("Created table %s.%s with %d columns", schema, table, len(columns))
            else:
                self._evolve(cur, target, existing, columns)
                if key_columns:
                    self._ensure_unique_key(cur, schema, table, key_columns)
            result = self._column_types(cur, schema, table)
        self.conn.commit()
        assert result is not None
        return {name: parse_pg_type(type_text) for name, type_text in result.items()}

    @staticmethod
    def _column_types(
        cur: psycopg2.extensions.cursor, schema: str, table: str
    ) -> dict[str, str] | None:
        cur.execute(
            "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
            (schema, table),
        )
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (row[0],),
        )
        return dict(cur.fetchall())

    @staticmethod
    def _evolve(
        cur: psycopg2.extensions.cursor,
        target: sql.Identifier,
        existing: Mapping[str, str],
        columns: Sequence[tuple[str, PgType]],
    ) -> None:
        changes: list[sql.Composable] = []
        for name, wanted in columns:
            if name not in existing:
                changes.append(
                    sql.SQL("ADD COLUMN IF NOT EXISTS {} {}").format(
                        sql.Identifier(name), _TYPE_SQL[wanted]
                    )
                )
                LOGGER.info("Adding column %s (%s)", name, wanted.value)
                continue
            current = parse_pg_type(existing[name])
            if current is None:
                continue  # someone else's type: PostgreSQL parses our text into it, or refuses
            wider = widen(current, wanted)
            if wider == current:
                continue
            column = sql.Identifier(name)
            using = (
                sql.SQL("to_jsonb({})").format(column)
                if wider is PgType.JSONB
                else sql.SQL("{}::{}").format(column, _TYPE_SQL[wider])
            )
            changes.append(
                sql.SQL("ALTER COLUMN {} TYPE {} USING {}").format(column, _TYPE_SQL[wider], using)
            )
            LOGGER.warning("Widening column %s from %s to %s", name, current.value, wider.value)
        if changes:
            cur.execute(sql.SQL("ALTER TABLE {} {}").format(target, sql.SQL(", ").join(changes)))

    @staticmethod
    def _ensure_unique_key(
        cur: psycopg2.extensions.cursor, schema: str, table: str, key_columns: Sequence[str]
    ) -> None:
        cur.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisunique"
            " AND i.indpred IS NULL AND i.indexprs IS NULL GROUP BY i.indexrelid",
            (sql.Identifier(schema, table).as_string(cur),),
        )
        if any(set(names) == set(key_columns) for (names,) in cur.fetchall()):
            return
        LOGGER.warning("Adding a unique index on %s.%s (%s)", schema, table, key_columns)
        cur.execute(
            sql.SQL("CREATE UNIQUE INDEX ON {} ({})").format(
                sql.Identifier(schema, table), _idents(key_columns)
            )
        )

    # --- loading --------------------------------------------------------------------------------

    def load(self, batch: Batch, *, keep_refused: bool = True) -> LoadResult:
        """Load one batch in one transaction (see the module docstring); commit; say what it did.

        The whole batch is tried first, without a savepoint (fewer round trips); only if
        PostgreSQL refuses a row is the transaction redone with the batch split under savepoints.
        ``keep_refused`` false leaves refused rows out of the rejects table (the caller stops).
        """
        started = time.monotonic()
        plan = batch.plan
        refused: list[Reject] = []
        counts = [0, 0]  # written, deleted
        with self.conn.cursor() as cur:
            try:
                self._create_stage(cur, plan)
                self._copy_and_merge(cur, batch, None, counts)
            except ROW_ERRORS:
                self.conn.rollback()
                counts = [0, 0]
                self._create_stage(cur, plan)
                self._bisect(cur, batch, range(batch.rows), refused, counts)
            rejects = batch.rejects + (refused if keep_refused else [])
            if rejects:
                self._insert_rejects(cur, plan.schema, rejects)
        self.conn.commit()
        return LoadResult(
            rows=batch.rows,
            written=counts[0],
            deleted=counts[1],
            refused=refused,
            seconds=time.monotonic() - started,
        )

    @staticmethod
    def _create_stage(cur: psycopg2.extensions.cursor, plan: TablePlan) -> None:
        # Copy the target's column types (whatever they are) without writing type names.
        select = [sql.Identifier(c) for c in plan.columns]
        if not plan.target_has_deleted_at and DELETED_AT in plan.columns:
            select[plan.columns.index(DELETED_AT)] = sql.SQL("NULL::timestamptz AS {}").format(
                sql.Identifier(DELETED_AT)
            )
        cur.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA"
            ).format(
                sql.Identifier(STAGE_TABLE),
                sql.SQL(", ").join(select),
                sql.Identifier(plan.schema, plan.table),
            )
        )

    def _copy_and_merge(
        self,
        cur: psycopg2.extensions.cursor,
        batch: Batch,
        rows: Sequence[int] | None,
        counts: list[int],
    ) -> None:
        """COPY ``rows`` (None: all) into the empty stage and merge them into the table."""
        plan = batch.plan
        copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(STAGE_TABLE), _idents(plan.columns)
        )
        cur.copy_expert(copy, _CopySource(batch, rows), size=COPY_CHUNK_BYTES)
        deleted = self._merge(cur, plan)
        counts[0] += max(cur.rowcount, 0)
        counts[1] += deleted

    def _bisect(
        self,
        cur: psycopg2.extensions.cursor,
        batch: Batch,
        rows: Sequence[int],
        refused: list[Reject],
        counts: list[int],
    ) -> None:
        """Load ``rows`` under a savepoint; while PostgreSQL refuses, split them in halves."""
        cur.execute("SAVEPOINT bisect")
        try:
            self._copy_and_merge(cur, batch, rows, counts)
        except ROW_ERRORS as exc:
            cur.execute("ROLLBACK TO SAVEPOINT bisect")
            if len(rows) == 1:
                refused.append(self._refused_row(batch, rows[0], exc))
                return
            middle = len(rows) // 2
            self._bisect(cur, batch, rows[:middle], refused, counts)
            self._bisect(cur, batch, rows[middle:], refused, counts)
            return
        cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(STAGE_TABLE)))
        cur.execute("RELEASE SAVEPOINT bisect")

    @staticmethod
    def _refused_row(batch: Batch, row: int, exc: Exception) -> Reject:
        # The input line is not kept after formatting; the row as COPY text names every column.
        values = parse_copy_line(batch.lines[row].decode("utf-8"))
        raw = json.dumps(dict(zip(batch.plan.columns, values, strict=True)), ensure_ascii=False)
        message = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()[0]
        return Reject(
            stream=batch.plan.stream,
            line_number=batch.line_numbers[row],
            reason=f"PostgreSQL refused the row: {message}",
            raw=raw,
        )

    @staticmethod
    def _merge(cur: psycopg2.extensions.cursor, plan: TablePlan) -> int:
        """Move the stage into the table; returns rows hard-deleted (rowcount is rows written)."""
        target = sql.Identifier(plan.schema, plan.table)
        stage = sql.Identifier(STAGE_TABLE)
        deleted = 0
        if plan.hard_delete and plan.key_columns:
            match = sql.SQL(" AND ").join(
                sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in plan.key_columns
            )
            cur.execute(
                sql.SQL("DELETE FROM {} AS t USING {} AS s WHERE {} AND s.{} IS NOT NULL").format(
                    target, stage, match, sql.Identifier(DELETED_AT)
                )
            )
            deleted = cur.rowcount
        insert_columns = [c for c in plan.columns if c != DELETED_AT or plan.target_has_deleted_at]
        select: list[sql.Composable] = [sql.Identifier(c) for c in insert_columns]
        params: list[Any] = []
        for name, value in plan.constants.items():
            insert_columns.append(name)
            select.append(sql.Placeholder())
            params.append(value)
        for name in plan.now_columns:
            insert_columns.append(name)
            select.append(sql.SQL("now()"))
        query = sql.SQL("INSERT INTO {} AS t ({}) SELECT {} FROM {}").format(
            target, _idents(insert_columns), sql.SQL(", ").join(select), stage
        )
        if plan.hard_delete and plan.key_columns:
            query += sql.SQL(" WHERE {} IS NULL").format(sql.Identifier(DELETED_AT))
        if plan.key_columns:
            query += Database._on_conflict(plan, insert_columns)
        cur.execute(query, params)
        return deleted

    @staticmethod
    def _on_conflict(plan: TablePlan, insert_columns: Sequence[str]) -> sql.Composed:
        updates: list[sql.Composable] = []
        for name in insert_columns:
            if name in plan.key_columns:
                continue
            column = sql.Identifier(name)
            if name == DELETED_AT:
                # Keep the first deletion time when a deleted row is delivered again.
                updates.append(
                    sql.SQL(
                        "{0} = CASE WHEN EXCLUDED.{0} IS NULL THEN NULL"
                        " ELSE COALESCE(t.{0}, EXCLUDED.{0}) END"
                    ).format(column)
                )
            else:
                updates.append(sql.SQL("{0} = EXCLUDED.{0}").format(column))
        conflict = sql.SQL(" ON CONFLICT ({}) ").format(_idents(plan.key_columns))
        if not updates:
            return conflict + sql.SQL("DO NOTHING")
        old: list[sql.Composable] = [
            sql.SQL("t.{}").format(sql.Identifier(c)) for c in plan.compare_columns
        ]
        new: list[sql.Composable] = [
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in plan.compare_columns
        ]
        if plan.target_has_deleted_at:
            old.append(sql.SQL("(t.{} IS NULL)").format(sql.Identifier(DELETED_AT)))
            new.append(sql.SQL("(EXCLUDED.{} IS NULL)").format(sql.Identifier(DELETED_AT)))
        return conflict + sql.SQL("DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})").format(
            sql.SQL(", ").join(updates), sql.SQL(", ").join(old), sql.SQL(", ").join(new)
        )

    @staticmethod
    def _insert_rejects(
        cur: psycopg2.extensions.cursor, schema: str, rejects: Sequence[Reject]
    ) -> None:
        table = sql.Identifier(schema, REJECTS_TABLE)
        cur.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " id bigserial PRIMARY KEY,"
                " stream text NOT NULL,"
                " line_number bigint,"
                " reason text NOT NULL,"
                " raw_message text NOT NULL,"
                " rejected_at timestamptz NOT NULL DEFAULT now())"
            ).format(table)
        )
        psycopg2.extras.execute_values(
            cur,
            sql.SQL("INSERT INTO {} (stream, line_number, reason, raw_message) VALUES %s")
            .format(table)
            .as_string(cur),
            [
                (r.stream, r.line_number, r.reason.replace("\x00", ""), r.raw.replace("\x00", ""))
                for r in rejects
            ],
        )

    # --- versions -------------------------------------------------------------------------------

    def activate_version(self, schema: str, table: str, version: int, *, hard: bool) -> int:
        """Delete (hard) or mark deleted (soft) the rows older versions left behind; commit."""
        target = sql.Identifier(schema, table)
        stale = sql.SQL("({0} IS NULL OR {0} < %s)").format(sql.Identifier(TABLE_VERSION))
        with self.conn.cursor() as cur:
            if hard:
                cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(target, stale), (version,))
            else:
                cur.execute(
                    sql.SQL("UPDATE {} SET {} = now() WHERE {} AND {} IS NULL").format(
                        target, sql.Identifier(DELETED_AT), stale, sql.Identifier(DELETED_AT)
                    ),
                    (version,),
                )
            count = int(cur.rowcount)
        self.conn.commit()
        return count
