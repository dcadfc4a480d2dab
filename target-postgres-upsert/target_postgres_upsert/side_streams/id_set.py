"""``x-singer-id-set`` streams: the keys that exist, swept on ACTIVATE_VERSION."""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
from typing_extensions import override

from target_postgres_upsert.checked_sink import REJECT_LOG_LIMIT
from target_postgres_upsert.db import (
    DELETED_AT,
    TABLE_VERSION,
    Batch,
    Database,
    IdSetPlan,
    PgType,
    RowBuffer,
    TablePlan,
    parse_pg_type,
)
from target_postgres_upsert.errors import InvalidRecordError
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.settings import InvalidRecordPolicy
from target_postgres_upsert.side_streams.base import ID_SET_MARKER, SideSink
from target_postgres_upsert.types import id_set_table
from target_postgres_upsert.values import InvalidValueError


class IdSetSink(SideSink):
    """Collects every existing key; ACTIVATE_VERSION sweeps the rest (``x-singer-id-set``)."""

    marker = ID_SET_MARKER

    @override
    def setup(self) -> None:
        """Find the base table and its key and stamp columns; start a fresh set on first use."""
        self._formatter: RowFormatter | None = None
        self._rows = RowBuffer()
        self._line_numbers: list[int] = []
        self.id_set: IdSetPlan | None = None
        self._open = False  # Ids collected (or a set started) since the last ACTIVATE_VERSION
        known = self._find_base_table()
        if self.table is None:
            return
        keys = list(self.key_properties)
        if not keys:
            self._skip("it has no key properties")
            return
        names = self._names([*keys, *self._stamp_property()], known)
        key_columns = tuple(names[k] for k in keys)
        missing = [c for c in key_columns if c not in self.columns]
        if missing:
            self._skip(f"table {self.table} has no column {missing[0]!r}")
            return
        stamp = self._stamp_property()
        stamp_column = names[stamp[0]] if stamp else None
        if stamp_column is not None and stamp_column not in self.columns:
            self._skip(f"table {self.table} has no column {stamp_column!r} ({stamp[0]})")
            return
        schema, table = self._settings.default_target_schema, self.table
        hard = self._settings.hard_delete
        if not hard and DELETED_AT not in self.columns:
            self._host.loader.call(
                lambda db: db.ensure_table(schema, table, [(DELETED_AT, PgType.TIMESTAMPTZ)], ())
            )
        plan = IdSetPlan(
            schema, table, id_set_table(schema, table), key_columns, stamp_column, hard
        )
        self.id_set = plan
        # Ids a crashed run left are dropped the first time the stream comes in a run.
        fresh = self._host.first_id_set_sink(self.stream_name)
        self._host.loader.call(lambda db: db.prepare_id_set(plan, fresh=fresh))
        self._open = True
        specs = [
            ColumnSpec(k, self._kinds(k), parse_pg_type(self.columns[c]))
            for k, c in zip(keys, key_columns, strict=True)
        ]
        self._formatter = RowFormatter(specs, keys)
        self._plan = TablePlan(
            stream=self.stream_name,
            schema=schema,
            table=plan.set_table,
            columns=(*key_columns, TABLE_VERSION),
            row_names=(*keys, "version"),
            key_columns=(),
            compare_columns=(),
            target_has_deleted_at=False,
            hard_delete=False,
        )
        self.logger.info(
            "Stream %r is the Id set of %s.%s (collected in %s)",
            self.stream_name,
            schema,
            table,
            plan.set_table,
        )

    def _stamp_property(self) -> list[str]:
        marker = self.original_schema.get(self.marker) or {}
        stamp = marker.get("stamp_property")
        return [stamp] if isinstance(stamp, str) and stamp else []

    def _skip(self, reason: str) -> None:
        self.logger.warning(
            "Stream %r (Id set of %r): %s; no rows will be marked deleted",
            self.stream_name,
            self.base_stream,
            reason,
        )
        self.table = None

    @property
    def envelope_decoder(self) -> Any:
        """The typed decoder of whole RECORD lines (None when the set is skipped)."""
        return self._formatter.envelope_decoder if self._formatter is not None else None

    def add_values(self, record: Any, time_extracted: Any, version: Any) -> bool:
        """Add a record decoded by ``envelope_decoder``; True when the batch is full."""
        self._pending_records += 1
        self._add(msgspec.structs.astuple(record), version)
        return self._pending_records >= self._max_records

    def add_raw(self, raw: Any, time_extracted: Any, version: Any) -> bool:
        """Add a record given as JSON bytes; True when the batch is full."""
        self._pending_records += 1
        if self._formatter is not None:
            try:
                values = self._formatter.decode(raw)
            except InvalidValueError as exc:
                self._invalid(exc.reason)
            else:
                self._add(values, version)
        return self._pending_records >= self._max_records

    @override
    def add_record(self, record: dict[str, Any], time_extracted: Any, version: Any) -> bool:
        """Add a record given as a dict (after stream maps); True when the batch is full."""
        self._pending_records += 1
        if self._formatter is not None:
            try:
                values = self._formatter.convert(record)
            except InvalidValueError as exc:
                self._invalid(exc.reason)
            else:
                self._add(values, version)
        return self._pending_records >= self._max_records

    def _add(self, values: tuple[Any, ...], version: Any) -> None:
        formatter = self._formatter
        assert formatter is not None
        row = self._checked_row(formatter, values)
        if row is None:
            return
        self._rows.append([*row, version if type(version) is int else None])
        self._line_numbers.append(self._reader.line_number)

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Queue the batch's Ids (appended to the set table, with the rejects)."""
        _, rejects = self._take_batch()
        rows, line_numbers = self._rows, self._line_numbers
        self._rows, self._line_numbers = RowBuffer(), []
        plan = self.id_set
        if plan is None:
            return
        body, starts, _ = rows.rows()
        batch = Batch(self._plan, body, starts, line_numbers, rejects)
        self._open = True
        self._host.loader.submit_batch(partial(self._append, plan, batch))

    def _append(self, plan: IdSetPlan, batch: Batch, db: Database) -> None:
        db.prepare_id_set(plan, fresh=False)  # dropped by an ACTIVATE_VERSION before
        keep = self._policy is InvalidRecordPolicy.REJECT
        result = db.load(batch, keep_refused=keep)
        for reject in result.refused[:REJECT_LOG_LIMIT]:
            self.logger.warning(
                "Rejected the record at input line %s: %s", reject.line_number, reject.reason
            )
        if result.refused and not keep:
            first = result.refused[0]
            raise InvalidRecordError(self.stream_name, first.line_number, first.reason)

    @override
    def activate_version(self, new_version: int) -> None:
        """Queue the sweep: rows not in the set of ``new_version`` and older than it."""
        plan = self.id_set
        if plan is None:
            self.logger.warning(
                "ACTIVATE_VERSION %d of %r: no table to apply it to; nothing marked",
                new_version,
                self.stream_name,
            )
            return
        self._open = False

        def sweep(db: Database) -> None:
            ids, swept = db.sweep_id_set(plan, new_version)
            self.logger.info(
                "Id set %r version %d: %d Ids; %s %d rows of %s.%s not in it%s",
                self.stream_name,
                new_version,
                ids,
                "deleted" if plan.hard_delete else "marked deleted",
                swept,
                plan.schema,
                plan.table,
                f" and older than {plan.stamp_column}" if plan.stamp_column else "",
            )

        self._host.loader.submit_job(sweep)

    def finish(self) -> None:
        """At the end of input: a set never closed by ACTIVATE_VERSION marks nothing; drop it."""
        plan = self.id_set
        if plan is None or not self._open:
            return
        self._open = False
        self.logger.warning(
            "Stream %r ended without ACTIVATE_VERSION%s: no rows of %s.%s marked deleted",
            self.stream_name,
            "" if self.process_activate_version_messages else " being processed",
            plan.schema,
            plan.table,
        )
        self._host.loader.submit_job(lambda db: db.drop_id_set(plan))
