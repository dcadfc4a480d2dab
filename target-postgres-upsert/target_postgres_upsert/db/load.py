"""Loading one batch: COPY into a temporary stage, one merge, rejects; split rows PostgreSQL refuses."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import msgspec
import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from target_postgres_upsert.db.copy_text import (
    CSV_ESCAPE,
    CSV_NULL,
    CSV_QUOTE,
    copy_payload,
    decode_row,
)
from target_postgres_upsert.db.plans import (
    DELETED_AT,
    REJECTS_TABLE,
    STAGE_TABLE,
    Batch,
    LoadResult,
    Reject,
    TablePlan,
    idents,
    lock_schema_ddl,
)

# psycopg2 reads the COPY source in pieces of this size. One piece per batch is best: each read
# needs the GIL (which the busy main thread hands over only now and then), and a read of a whole
# bytes object returns it without a copy. libpq sends it in pieces of its own.
COPY_CHUNK_BYTES = 1 << 30
_ROW_JSON = msgspec.json.Encoder(decimal_format="number")
# COPY's error context: 'COPY _sdc_stage, line 1, column amount: "abc"'.
_COPY_COLUMN = re.compile(r"^COPY [^,]*, line \d+, column (.+?): ")

REJECTS_PER_INSERT = 1000
# Errors about the rows of a batch (class 22 data exceptions, 23 integrity, 21000 "ON CONFLICT
# cannot affect a row twice", 54000 e.g. an index row too large): isolate the rows, go on.
ROW_ERRORS: tuple[type[Exception], ...] = (
    psycopg2.DataError,
    psycopg2.IntegrityError,
    psycopg2.errors.CardinalityViolation,
    psycopg2.errors.ProgramLimitExceeded,
)


class _CopySource:
    """A file-like ``read()`` over the COPY bytes of a batch."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def read(self, size: int = COPY_CHUNK_BYTES) -> bytes:
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - psycopg2 only calls read()
        return self.read(size)


def load(
    conn: psycopg2.extensions.connection, batch: Batch, *, keep_refused: bool = True
) -> LoadResult:
    """Load one batch in one transaction (see the module docstring); commit; say what it did.

    The whole batch is tried first, without a savepoint (fewer round trips); only if
    PostgreSQL refuses a row is the transaction redone with the batch split under savepoints.
    ``keep_refused`` false leaves refused rows out of the rejects table (the caller stops).
    """
    started = time.monotonic()
    plan = batch.plan
    refused: list[Reject] = []
    counts = [0, 0]  # written, deleted
    payload, nul_removed = batch.copy_data or copy_payload(batch.body)
    batch.copy_data = None  # the loader holds the only reference: freed right after the COPY
    with conn.cursor() as cur:
        try:
            _create_stage(cur, plan)
            _copy_and_merge(cur, batch, payload, counts)
            del payload
        except ROW_ERRORS:
            conn.rollback()
            counts = [0, 0]
            _create_stage(cur, plan)
            _bisect(cur, batch, range(batch.rows), refused, counts)
        rejects = batch.rejects + (refused if keep_refused else [])
        if rejects:
            _insert_rejects(cur, plan.schema, rejects)
    conn.commit()
    return LoadResult(
        rows=batch.rows,
        written=counts[0],
        deleted=counts[1],
        refused=refused,
        seconds=time.monotonic() - started,
        nul_removed=nul_removed,
    )


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
    cur: psycopg2.extensions.cursor,
    batch: Batch,
    payload: bytes,
    counts: list[int],
) -> None:
    """COPY ``payload`` (rows of ``batch``) into the empty stage and merge it into the table."""
    plan = batch.plan
    copy = sql.SQL(
        "COPY {} ({}) FROM STDIN WITH (FORMAT csv, QUOTE {}, ESCAPE {}, NULL {})"
    ).format(
        sql.Identifier(STAGE_TABLE),
        idents(plan.columns),
        sql.Literal(CSV_QUOTE),
        sql.Literal(CSV_ESCAPE),
        sql.Literal(CSV_NULL),
    )
    cur.copy_expert(copy, _CopySource(payload), size=COPY_CHUNK_BYTES)
    deleted = _merge(cur, plan)
    counts[0] += max(cur.rowcount, 0)
    counts[1] += deleted


def _bisect(
    cur: psycopg2.extensions.cursor,
    batch: Batch,
    rows: Sequence[int],
    refused: list[Reject],
    counts: list[int],
) -> None:
    """Load ``rows`` under a savepoint; while PostgreSQL refuses, split them in halves."""
    cur.execute("SAVEPOINT bisect")
    try:
        payload, _ = copy_payload([batch.split[i] for i in rows])
        _copy_and_merge(cur, batch, payload, counts)
    except ROW_ERRORS as exc:
        cur.execute("ROLLBACK TO SAVEPOINT bisect")
        if len(rows) == 1:
            refused.append(_refused_row(batch, rows[0], exc))
            return
        middle = len(rows) // 2
        _bisect(cur, batch, rows[:middle], refused, counts)
        _bisect(cur, batch, rows[middle:], refused, counts)
        return
    cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(STAGE_TABLE)))
    cur.execute("RELEASE SAVEPOINT bisect")


def _refused_row(batch: Batch, row: int, exc: Exception) -> Reject:
    # The input line is not kept after formatting: the row, keyed by the records' names, is.
    values = decode_row(batch.split[row])
    raw = _ROW_JSON.encode(dict(zip(batch.plan.row_names, values, strict=True))).decode()
    return Reject(
        stream=batch.plan.stream,
        line_number=batch.line_numbers[row],
        reason=f"PostgreSQL refused the row: {_pg_reason(exc, batch.plan)}",
        raw=raw,
    )


def _pg_reason(exc: Exception, plan: TablePlan) -> str:
    """PostgreSQL's message, and the property whose column COPY names in its context, if it does.

    The record's name, not the column's: a column name is folded to lower case and shortened, so
    it may not be what the user sent.
    """
    diag = getattr(exc, "diag", None)
    message = getattr(diag, "message_primary", None)
    if not message:
        message = (getattr(exc, "pgerror", None) or str(exc)).strip().splitlines()[0]
    found = _COPY_COLUMN.search(getattr(diag, "context", None) or "")
    if not found:
        return message
    column = found.group(1)
    names = dict(zip(plan.columns, plan.row_names, strict=False))
    prop = names.get(column)
    if prop is None or prop == column:
        return f"{message} (column {column})"
    return f"{message} (property {prop!r}, column {column})"


def _merge(cur: psycopg2.extensions.cursor, plan: TablePlan) -> int:
    """Move the stage into the table; returns rows hard-deleted (rowcount is rows written)."""
    target = sql.Identifier(plan.schema, plan.table)
    stage = sql.Identifier(STAGE_TABLE)
    if plan.update_only:
        _update(cur, plan)
        return 0
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
    # Constants go in as literals, not parameters: with parameters psycopg2 would read a % in a
    # quoted identifier as a placeholder.
    for name, value in plan.constants.items():
        insert_columns.append(name)
        select.append(sql.Literal(value))
    for name in plan.now_columns:
        insert_columns.append(name)
        select.append(sql.SQL("now()"))
    query = sql.SQL("INSERT INTO {} AS t ({}) SELECT {} FROM {}").format(
        target, idents(insert_columns), sql.SQL(", ").join(select), stage
    )
    if plan.hard_delete and plan.key_columns:
        query += sql.SQL(" WHERE {} IS NULL").format(sql.Identifier(DELETED_AT))
    if plan.key_columns:
        query += _on_conflict(plan, insert_columns)
    cur.execute(query)
    return deleted


def _update(cur: psycopg2.extensions.cursor, plan: TablePlan) -> None:
    """A patch: the stage's columns onto the rows with the same key, only where a value differs.

    Rows the table does not have are left out (a patch never inserts); rowcount is rows changed.
    """
    columns = [c for c in plan.columns if c not in plan.key_columns]
    match = sql.SQL(" AND ").join(
        sql.SQL("t.{0} = s.{0}").format(sql.Identifier(k)) for k in plan.key_columns
    )
    cur.execute(
        sql.SQL(
            "UPDATE {} AS t SET {} FROM {} AS s WHERE {} AND ({}) IS DISTINCT FROM ({})"
        ).format(
            sql.Identifier(plan.schema, plan.table),
            sql.SQL(", ").join(sql.SQL("{0} = s.{0}").format(sql.Identifier(c)) for c in columns),
            sql.Identifier(STAGE_TABLE),
            match,
            sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns),
            sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in columns),
        )
    )


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
    conflict = sql.SQL(" ON CONFLICT ({}) ").format(idents(plan.key_columns))
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


def insert_rejects(
    conn: psycopg2.extensions.connection, schema: str, rejects: Sequence[Reject]
) -> None:
    """File ``rejects`` in their own transaction (a batch with no rows to load)."""
    with conn.cursor() as cur:
        _insert_rejects(cur, schema, rejects)
    conn.commit()


def _insert_rejects(
    cur: psycopg2.extensions.cursor, schema: str, rejects: Sequence[Reject]
) -> None:
    table = sql.Identifier(schema, REJECTS_TABLE)
    cur.execute("SELECT to_regclass(%s)", (table.as_string(cur),))
    row = cur.fetchone()
    if row is None or row[0] is None:
        lock_schema_ddl(cur, schema)  # another target may be creating it right now
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
    # Literals rather than parameters, so a % in the schema's name is not read as a placeholder;
    # PostgreSQL text cannot hold NUL, so it is dropped from every text (the stream name too).
    for first in range(0, len(rejects), REJECTS_PER_INSERT):
        rows = [
            sql.SQL("({}, {}, {}, {})").format(
                sql.Literal(r.stream.replace("\x00", "")),
                sql.Literal(r.line_number),
                sql.Literal(r.reason.replace("\x00", "")),
                sql.Literal(r.raw.replace("\x00", "")),
            )
            for r in rejects[first : first + REJECTS_PER_INSERT]
        ]
        cur.execute(
            sql.SQL("INSERT INTO {} (stream, line_number, reason, raw_message) VALUES {}").format(
                table, sql.SQL(", ").join(rows)
            )
        )
