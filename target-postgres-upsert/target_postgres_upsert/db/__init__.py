"""Every SQL statement the target runs, and the COPY text it sends.

Connection, DDL, COPY (its text made in ``copy_text.py``), merge, deletes, rejects; the column
types (``pg_types.py``). Nothing under ``db/`` imports from the package above it.

One ``Database`` owns one psycopg2 connection and is only used from the loader thread. Every
identifier goes through ``psycopg2.sql.Identifier`` and every value is a query parameter or COPY
data; type names come from ``PgType`` constants, never from input.

A batch is one transaction: COPY the rows into a temporary stage, then one
``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE ... WHERE (row) IS DISTINCT FROM (new row)``
(unchanged rows are not rewritten), then the rejects. If PostgreSQL refuses some row (a value our
cheap checks let through, two keys that differ as text but not as values), the batch is split in
halves under savepoints until the refused rows stand alone; they go to the rejects table and the
rest of the batch is loaded in input order.

Side streams (``side_streams/``): a patch batch goes the same way with an
``UPDATE ... FROM stage ... WHERE (columns) IS DISTINCT FROM (new columns)`` instead of the
insert (``TablePlan.update_only``); an Id set is appended to its own unlogged table and swept on
ACTIVATE_VERSION.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg2.extensions

from target_postgres_upsert.db import ddl, file_copy, load, reconcile
from target_postgres_upsert.db.connection import APPLICATION_NAME, connect
from target_postgres_upsert.db.copy_text import RowBuffer, decode_row
from target_postgres_upsert.db.file_copy import CopyChunk, Refused
from target_postgres_upsert.db.pg_types import PgType, parse_pg_type
from target_postgres_upsert.db.plans import (
    DELETED_AT,
    REJECTS_TABLE,
    TABLE_VERSION,
    Batch,
    Comments,
    ConnectionSettings,
    LoadResult,
    Reject,
    TablePlan,
)
from target_postgres_upsert.db.reconcile import IdSetPlan
from target_postgres_upsert.db.retry import ConflictRetriesExhaustedError, run_transaction

__all__ = [
    "APPLICATION_NAME",
    "DELETED_AT",
    "REJECTS_TABLE",
    "TABLE_VERSION",
    "Batch",
    "Comments",
    "ConflictRetriesExhaustedError",
    "ConnectionSettings",
    "CopyChunk",
    "Database",
    "IdSetPlan",
    "LoadResult",
    "PgType",
    "Refused",
    "Reject",
    "RowBuffer",
    "TablePlan",
    "connect",
    "decode_row",
    "parse_pg_type",
]


class Database:
    """SQL for one connection. Not thread-safe: the loader thread is its only user.

    Each method is one transaction; one that PostgreSQL aborts to settle a conflict with another
    session (deadlock, serialization failure) is run again whole (``retry.py``).
    """

    def __init__(self, conn: psycopg2.extensions.connection) -> None:
        """Wrap an open connection (autocommit off: every method ends its own transaction)."""
        self.conn = conn
        self._direct_tables = file_copy.DirectTables()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by the server)."""
        self.conn.close()

    def ensure_table(
        self,
        schema: str,
        table: str,
        columns: Sequence[tuple[str, PgType]],
        key_columns: Sequence[str],
        comments: Comments | None = None,
    ) -> dict[str, PgType | None]:
        """See ``ddl.ensure_table``."""
        return run_transaction(
            self.conn,
            lambda: ddl.ensure_table(self.conn, schema, table, columns, key_columns, comments),
            f"creating or changing {schema}.{table}",
        )

    def load(self, batch: Batch, *, keep_refused: bool = True) -> LoadResult:
        """See ``load.load``."""
        plan = batch.plan
        return run_transaction(
            self.conn,
            lambda: load.load(self.conn, batch, keep_refused=keep_refused),
            f"loading {batch.rows} rows into {plan.schema}.{plan.table}",
        )

    def load_chunk(self, plan: TablePlan, chunk: CopyChunk) -> LoadResult | Refused:
        """See ``file_copy.load_chunk``."""
        return file_copy.load_chunk(self.conn, plan, chunk, self._direct_tables)

    def activate_version(self, schema: str, table: str, version: int, *, hard: bool) -> int:
        """See ``ddl.activate_version``."""
        return run_transaction(
            self.conn,
            lambda: ddl.activate_version(self.conn, schema, table, version, hard=hard),
            f"ACTIVATE_VERSION {version} on {schema}.{table}",
        )

    def insert_rejects(self, schema: str, rejects: Sequence[Reject]) -> None:
        """See ``load.insert_rejects``."""
        run_transaction(
            self.conn,
            lambda: load.insert_rejects(self.conn, schema, rejects),
            f"filing {len(rejects)} rejected records in {schema}",
        )

    def table_columns(self, schema: str, table: str) -> dict[str, str] | None:
        """See ``reconcile.table_columns``."""
        return reconcile.table_columns(self.conn, schema, table)

    def prepare_id_set(self, plan: IdSetPlan, *, fresh: bool) -> None:
        """See ``reconcile.prepare_id_set``."""
        run_transaction(
            self.conn,
            lambda: reconcile.prepare_id_set(self.conn, plan, fresh=fresh),
            f"preparing the Id set of {plan.schema}.{plan.table}",
        )

    def drop_id_set(self, plan: IdSetPlan) -> None:
        """See ``reconcile.drop_id_set``."""
        run_transaction(
            self.conn,
            lambda: reconcile.drop_id_set(self.conn, plan),
            f"dropping the Id set of {plan.schema}.{plan.table}",
        )

    def sweep_id_set(self, plan: IdSetPlan, version: int) -> tuple[int, int]:
        """See ``reconcile.sweep``."""
        return run_transaction(
            self.conn,
            lambda: reconcile.sweep(self.conn, plan, version),
            f"sweeping {plan.schema}.{plan.table} with its Id set",
        )
