"""Loading one chunk of a BATCH file as COPY text: stage, COPY, merge, commit (or a refusal).

The batch lane (``arrow_files.py``) turns a parquet file into chunks of rows already in the
stage's column order (``TablePlan.columns``) and in PostgreSQL's text format: tab between
values, ``\\N`` for NULL, backslash escapes inside values. The text format, not CSV: PostgreSQL
reads it about a third faster (measured on 10,000 Contacts: 0.57 s against 0.87 s), and the
loader is the slower side of the batch lane.
https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2

The stage and the merge are the record lane's (``load.py``): the same temporary table copied
from the target's columns, the same ``INSERT ... ON CONFLICT ... WHERE (row) IS DISTINCT FROM
(new row)``, the same hard deletes. A chunk PostgreSQL refuses (a row error: a value its input
functions reject, two rows with one key) is rolled back whole and reported, and the caller loads
its rows through the record lane instead, where each bad row becomes a reject.

**Into an empty table, straight.** While a table was empty when this target first loaded it,
each chunk is COPYed into the table itself, without the stage and the merge: PostgreSQL then
writes each row once instead of twice (measured on 600,000 Contacts in chunks of 10,000: 10.2 to
10.4 s against 11.9 to 13.4 s). The rows are the ones the merge would have written: the record
lane's metadata columns the merge sets in SQL (``now()``, the sync's start) are rendered by
PostgreSQL in the same transaction (``COPY (SELECT ...) TO STDOUT``) and appended to every row
(COPY text escapes line breaks inside values, so each raw newline ends a row). Only plain upserts
go this way: not hard deletes (a deleted row must not be inserted), not patches, not a table
without a key. A key already in the table (another session's rows, or a key met twice in the
run) makes COPY fail with a unique violation: the chunk is rolled back and merged through the
stage, and that table's later chunks take the stage too.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field

import psycopg2.extensions
from psycopg2 import sql

from target_postgres_upsert.db.load import (
    COPY_CHUNK_BYTES,
    ROW_ERRORS,
    _CopySource,
    _create_stage,
    _merge,
    _pg_reason,
)
from target_postgres_upsert.db.plans import (
    DELETED_AT,
    STAGE_TABLE,
    LoadResult,
    TablePlan,
    idents,
)

UNIQUE_VIOLATION = "23505"


@dataclass(frozen=True)
class CopyChunk:
    """Rows of one chunk in COPY's text format, in ``TablePlan.columns`` order."""

    data: bytes
    rows: int
    nul_removed: int = 0  # NUL characters removed (PostgreSQL text cannot hold them)


@dataclass(frozen=True)
class Refused:
    """PostgreSQL refused some row of a chunk; nothing of it was committed."""

    reason: str


@dataclass
class DirectTables:
    """Per table (schema, name): may its chunks still be COPYed straight in (module docstring)."""

    allowed: dict[tuple[str, str], bool] = field(default_factory=dict)

    def check(self, cur: psycopg2.extensions.cursor, plan: TablePlan) -> bool:
        """Whether this chunk may go straight in; the first asks whether the table is empty."""
        if not direct_possible(plan):
            return False
        table = (plan.schema, plan.table)
        if table not in self.allowed:
            cur.execute(
                sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(sql.Identifier(*table))
            )
            row = cur.fetchone()
            self.allowed[table] = bool(row and row[0])
        return self.allowed[table]

    def refused(self, plan: TablePlan, exc: BaseException) -> None:
        """A straight COPY failed: after a unique violation the table takes the merge."""
        if getattr(exc, "pgcode", None) == UNIQUE_VIOLATION:
            self.allowed[(plan.schema, plan.table)] = False


def direct_possible(plan: TablePlan) -> bool:
    """A plain upsert whose stage columns all exist in the table."""
    return bool(
        plan.key_columns
        and not plan.update_only
        and not plan.hard_delete
        and (plan.target_has_deleted_at or DELETED_AT not in plan.columns)
    )


def load_chunk(
    conn: psycopg2.extensions.connection,
    plan: TablePlan,
    chunk: CopyChunk,
    direct: DirectTables | None = None,
) -> LoadResult | Refused:
    """COPY ``chunk`` straight into an empty table, or into a fresh stage and merge it; commit;
    or roll back and say why."""
    started = time.monotonic()
    if direct is not None and _loaded_straight(conn, plan, chunk, direct):
        return LoadResult(
            rows=chunk.rows,
            written=chunk.rows,
            deleted=0,
            refused=[],
            seconds=time.monotonic() - started,
            nul_removed=chunk.nul_removed,
            direct=True,
        )
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(STAGE_TABLE), idents(plan.columns)
    )
    with conn.cursor() as cur:
        try:
            _create_stage(cur, plan)
            cur.copy_expert(copy, _CopySource(chunk.data), size=COPY_CHUNK_BYTES)
            deleted = _merge(cur, plan)
            written = max(cur.rowcount, 0)
        except ROW_ERRORS as exc:
            conn.rollback()
            return Refused(_pg_reason(exc, plan))
    conn.commit()
    return LoadResult(
        rows=chunk.rows,
        written=written,
        deleted=deleted,
        refused=[],
        seconds=time.monotonic() - started,
        nul_removed=chunk.nul_removed,
    )


def _loaded_straight(
    conn: psycopg2.extensions.connection, plan: TablePlan, chunk: CopyChunk, direct: DirectTables
) -> bool:
    """COPY the chunk straight into the table and commit, if the table allows it; False (and
    rolled back) when the chunk must take the stage."""
    with conn.cursor() as cur:
        if not direct.check(cur, plan):
            return False
        try:
            _copy_into_table(cur, plan, chunk)
        except ROW_ERRORS as exc:
            conn.rollback()
            direct.refused(plan, exc)
            return False
    conn.commit()
    return True


def _copy_into_table(cur: psycopg2.extensions.cursor, plan: TablePlan, chunk: CopyChunk) -> None:
    """COPY the chunk into the table itself, with the metadata the merge would set in SQL."""
    columns = [*plan.columns, *plan.constants, *plan.now_columns]
    data = chunk.data
    if len(columns) > len(plan.columns):
        values: list[sql.Composable] = [sql.Literal(v) for v in plan.constants.values()]
        values += [sql.SQL("now()")] * len(plan.now_columns)
        rendered = io.BytesIO()
        cur.copy_expert(
            sql.SQL("COPY (SELECT {}) TO STDOUT").format(sql.SQL(", ").join(values)), rendered
        )
        suffix = b"\t" + rendered.getvalue().rstrip(b"\n") + b"\n"
        data = data.replace(b"\n", suffix)
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(plan.schema, plan.table), idents(columns)
    )
    cur.copy_expert(copy, _CopySource(data), size=COPY_CHUNK_BYTES)
