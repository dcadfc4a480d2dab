"""What the sink hands the loader: table plans, batches, rejects, results; shared SQL names."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg2 import sql

from target_postgres_upsert.types import PgType

REJECTS_TABLE = "_sdc_rejected_records"
STAGE_TABLE = "_sdc_stage"
DELETED_AT = "_sdc_deleted_at"
TABLE_VERSION = "_sdc_table_version"
TYPE_SQL = {pg_type: sql.SQL(pg_type.value) for pg_type in PgType}


def idents(names: Sequence[str]) -> sql.Composed:
    """``"a", "b", ...`` for a column list."""
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


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
