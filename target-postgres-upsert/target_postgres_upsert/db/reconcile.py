"""Id sets (``x-singer-id-set``): the table that collects a stream's Ids, and the sweep.

The Ids of a set are appended, batch by batch, to an unlogged table next to the object's table
(``types.id_set_table`` names it), each with the version its RECORD carried. On
ACTIVATE_VERSION one transaction marks deleted (or deletes) the object's rows whose key is not
in the set, whose stamp column is older than the version's time (or null), and which are not
marked yet; then it drops the set. A run that ends without ACTIVATE_VERSION (a tap that crashed half-way) marks
nothing; the next run's first SCHEMA of the stream drops what it left behind, and Ids of another
version never count for this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2.extensions
from psycopg2 import sql

from target_postgres_upsert.db.plans import DELETED_AT, TABLE_VERSION, idents, lock_schema_ddl


@dataclass(frozen=True)
class IdSetPlan:
    """Where an Id set goes and what its sweep compares."""

    schema: str
    table: str  # the object's table
    set_table: str  # the unlogged table collecting the Ids
    key_columns: tuple[str, ...]  # the object table's key columns (the set has the same)
    stamp_column: str | None  # rows changed at or after the version's time are kept
    hard_delete: bool


def table_columns(
    conn: psycopg2.extensions.connection, schema: str, table: str
) -> dict[str, str] | None:
    """Column name -> ``format_type`` of an existing table, or None if there is no such table."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (schema, table),
        )
        rows = cur.fetchall()
    conn.commit()
    return dict(rows) or None


def prepare_id_set(conn: psycopg2.extensions.connection, plan: IdSetPlan, *, fresh: bool) -> None:
    """Create the set table if missing (``fresh``: drop any left behind first); commit.

    Its key columns copy the object table's types; ``_sdc_table_version`` holds each Id's version.
    """
    target = sql.Identifier(plan.schema, plan.set_table)
    with conn.cursor() as cur:
        lock_schema_ddl(cur, plan.schema)
        if fresh:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        cur.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE IF NOT EXISTS {} AS"
                " SELECT {}, NULL::bigint AS {} FROM {} WITH NO DATA"
            ).format(
                target,
                idents(plan.key_columns),
                sql.Identifier(TABLE_VERSION),
                sql.Identifier(plan.schema, plan.table),
            )
        )
    conn.commit()


def drop_id_set(conn: psycopg2.extensions.connection, plan: IdSetPlan) -> None:
    """Drop the set table (an Id set that was never activated); commit."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(plan.schema, plan.set_table))
        )
    conn.commit()


def sweep(conn: psycopg2.extensions.connection, plan: IdSetPlan, version: int) -> tuple[int, int]:
    """Mark deleted (or delete) the rows the set of ``version`` lacks; drop the set; commit.

    Returns (Ids in the set, rows marked or deleted). The version is epoch milliseconds; it goes
    in as a literal (a parameter would make psycopg2 read a % in a name as a placeholder).
    """
    prepare_id_set(conn, plan, fresh=False)  # an empty set (no Ids at all) has no table yet
    target = sql.Identifier(plan.schema, plan.table)
    ids = sql.Identifier(plan.schema, plan.set_table)
    in_set = sql.SQL("s.{0} IS NULL OR s.{0} = {1}").format(
        sql.Identifier(TABLE_VERSION), sql.Literal(version)
    )
    match = sql.SQL(" AND ").join(
        sql.SQL("s.{0} = t.{0}").format(sql.Identifier(k)) for k in plan.key_columns
    )
    conditions: list[sql.Composable] = [
        sql.SQL("NOT EXISTS (SELECT 1 FROM {} AS s WHERE {} AND ({}))").format(ids, match, in_set)
    ]
    if plan.stamp_column is not None:
        conditions.append(
            sql.SQL(
                "(t.{0} IS NULL OR t.{0} < timestamptz 'epoch' + {1} * interval '1 millisecond')"
            ).format(sql.Identifier(plan.stamp_column), sql.Literal(version))
        )
    with conn.cursor() as cur:
        cur.execute(sql.SQL("ANALYZE {}").format(ids))  # a fresh table has no statistics
        cur.execute(sql.SQL("SELECT count(*) FROM {} AS s WHERE {}").format(ids, in_set))
        row = cur.fetchone()
        in_the_set = int(row[0]) if row else 0
        if plan.hard_delete:
            statement = sql.SQL("DELETE FROM {} AS t WHERE {}").format(target, _and(conditions))
        else:
            conditions.append(sql.SQL("t.{} IS NULL").format(sql.Identifier(DELETED_AT)))
            statement = sql.SQL("UPDATE {} AS t SET {} = now() WHERE {}").format(
                target, sql.Identifier(DELETED_AT), _and(conditions)
            )
        cur.execute(statement)
        swept = int(cur.rowcount)
        cur.execute(sql.SQL("DROP TABLE {}").format(ids))
    conn.commit()
    return in_the_set, swept


def _and(conditions: Sequence[sql.Composable]) -> sql.Composed:
    return sql.SQL(" AND ").join(conditions)
