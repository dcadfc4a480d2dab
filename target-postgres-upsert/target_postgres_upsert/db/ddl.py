"""DDL: create and evolve tables (add and widen columns, key index, comments); ACTIVATE_VERSION
sweeps."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from target_postgres_upsert.db.pg_types import PgType, parse_pg_type, widen
from target_postgres_upsert.db.plans import (
    DELETED_AT,
    TABLE_VERSION,
    TYPE_SQL,
    Comments,
    idents,
    lock_schema_ddl,
)

LOGGER = logging.getLogger(__name__)


def ensure_table(
    conn: psycopg2.extensions.connection,
    schema: str,
    table: str,
    columns: Sequence[tuple[str, PgType]],
    key_columns: Sequence[str],
    comments: Comments | None = None,
) -> dict[str, PgType | None]:
    """Create or evolve ``schema.table`` to hold ``columns``; return every column's type.

    Missing columns are added; a column whose type cannot hold the new values is widened in
    place (``ALTER ... TYPE ... USING``); nothing is ever dropped. Columns of types we do not
    create are left alone (``None`` in the result). The key gets a primary key on a new table,
    or a unique index on an existing table that lacks one. ``comments`` are written with
    ``COMMENT ON`` where they differ from the ones the table has (a label renamed upstream).
    """
    target = sql.Identifier(schema, table)
    with conn.cursor() as cur:
        lock_schema_ddl(cur, schema)
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        existing = _column_types(cur, schema, table)
        if existing is None:
            parts = [
                sql.SQL("{} {}").format(sql.Identifier(name), TYPE_SQL[pg_type])
                for name, pg_type in columns
            ]
            if key_columns:
                parts.append(sql.SQL("PRIMARY KEY ({})").format(idents(key_columns)))
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    target, sql.SQL(", ").join(parts)
                )
            )
            LOGGER.info("Created table %s.%s with %d columns", schema, table, len(columns))
        else:
            _evolve(cur, target, existing, columns)
            if key_columns:
                _ensure_unique_key(cur, schema, table, key_columns)
        if comments is not None:
            _sync_comments(cur, schema, table, comments)
        result = _column_types(cur, schema, table)
    conn.commit()
    assert result is not None
    return {name: parse_pg_type(type_text) for name, type_text in result.items()}


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
                    sql.Identifier(name), TYPE_SQL[wanted]
                )
            )
            LOGGER.info("Adding column %s (%s)", name, wanted.value)
            continue
        current = parse_pg_type(existing[name])
        if current is None or current is PgType.BYTEA:
            # Someone else's type, or bytes (interpret_content_encoding): never altered;
            # PostgreSQL parses our text into it, or refuses the row.
            continue
        wider = widen(current, wanted)
        if wider == current:
            continue
        column = sql.Identifier(name)
        using = (
            sql.SQL("to_jsonb({})").format(column)
            if wider is PgType.JSONB
            else sql.SQL("{}::{}").format(column, TYPE_SQL[wider])
        )
        changes.append(
            sql.SQL("ALTER COLUMN {} TYPE {} USING {}").format(column, TYPE_SQL[wider], using)
        )
        LOGGER.warning("Widening column %s from %s to %s", name, current.value, wider.value)
    if changes:
        cur.execute(sql.SQL("ALTER TABLE {} {}").format(target, sql.SQL(", ").join(changes)))


def _sync_comments(
    cur: psycopg2.extensions.cursor, schema: str, table: str, comments: Comments
) -> None:
    """``COMMENT ON`` the table and the columns whose comment is not the wanted one yet.

    Only the owner of a table may comment on it: on a table someone else owns, the comments are
    left as they are and the log says so (the load goes on).
    """
    cur.execute(
        "SELECT NULL::name, obj_description(c.oid, 'pg_class') FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s"
        " UNION ALL SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, table, schema, table),
    )
    current = dict(cur.fetchall())
    target = sql.Identifier(schema, table)
    statements: list[sql.Composable] = []
    if comments.table is not None and current.get(None) != comments.table:
        statements.append(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(target, sql.Literal(comments.table))
        )
    for column, text in comments.columns.items():
        if column in current and current[column] != text:
            statements.append(
                sql.SQL("COMMENT ON COLUMN {} IS {}").format(
                    sql.Identifier(schema, table, column), sql.Literal(text)
                )
            )
    if not statements:
        return
    cur.execute("SAVEPOINT comments")
    try:
        cur.execute(sql.SQL("; ").join(statements))
    except psycopg2.errors.InsufficientPrivilege:
        cur.execute("ROLLBACK TO SAVEPOINT comments")
        LOGGER.warning(
            "Cannot comment on %s.%s (only its owner may): its table and column comments are"
            " left as they are",
            schema,
            table,
        )
        return
    cur.execute("RELEASE SAVEPOINT comments")
    LOGGER.info(
        "Commented on %s.%s: %d table or column comments written", schema, table, len(statements)
    )


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
            sql.Identifier(schema, table), idents(key_columns)
        )
    )


def activate_version(
    conn: psycopg2.extensions.connection, schema: str, table: str, version: int, *, hard: bool
) -> int:
    """Delete (hard) or mark deleted (soft) the rows older versions left behind; commit."""
    target = sql.Identifier(schema, table)
    # The version as a literal, not a parameter: psycopg2 would read a % in a name as one.
    stale = sql.SQL("({0} IS NULL OR {0} < {1})").format(
        sql.Identifier(TABLE_VERSION), sql.Literal(version)
    )
    with conn.cursor() as cur:
        if hard:
            cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(target, stale))
        else:
            cur.execute(
                sql.SQL("UPDATE {} SET {} = now() WHERE {} AND {} IS NULL").format(
                    target, sql.Identifier(DELETED_AT), stale, sql.Identifier(DELETED_AT)
                )
            )
        count = int(cur.rowcount)
    conn.commit()
    return count
