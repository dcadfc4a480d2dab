"""The column types this target creates, and how one widens to hold the values of another.

They live under ``db/`` because the DDL needs them to evolve a table (``ddl.py``) and ``db/``
imports nothing from the package above it; ``types.py`` maps JSON schemas onto them.
"""

from __future__ import annotations

from enum import StrEnum


class PgType(StrEnum):
    """The column types this target creates; values are PostgreSQL's ``format_type`` spelling."""

    BOOLEAN = "boolean"
    BIGINT = "bigint"
    NUMERIC = "numeric"
    DATE = "date"
    TIME = "time without time zone"
    TIMESTAMPTZ = "timestamp with time zone"
    TEXT = "text"
    JSONB = "jsonb"
    BYTEA = "bytea"  # only with interpret_content_encoding; never widened or altered


def widen(first: PgType, second: PgType) -> PgType:
    """The narrowest of our types that holds every value of both (jsonb and text are the tops;
    bytea with anything else is text: the encoded strings as they came)."""
    if first == second:
        return first
    pair = {first, second}
    if PgType.JSONB in pair:
        return PgType.JSONB
    if pair == {PgType.BIGINT, PgType.NUMERIC}:
        return PgType.NUMERIC
    if pair == {PgType.DATE, PgType.TIMESTAMPTZ}:
        return PgType.TIMESTAMPTZ
    return PgType.TEXT


def parse_pg_type(format_type: str) -> PgType | None:
    """Our type for an existing column's ``format_type`` text, or None for a type we never create."""
    try:
        return PgType(format_type)
    except ValueError:
        return None
