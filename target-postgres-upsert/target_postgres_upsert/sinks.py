"""The sink: one stream's records -> checked stage rows, deduplicated by key, and rejects.

``setup`` decides the table (names, types, metadata columns) and asks the loader thread to create
or evolve it, so the rows are checked for the table's real column types. ``add_values`` (a record
the reader decoded with the stream's typed ``envelope_decoder``), ``add_raw`` and ``add_record``
run per record on the main thread: the record's row is checked (``rows.py``) and encoded with its
metadata, the last record per key is kept (PostgreSQL refuses a merge that meets one key twice),
and records that fail their schema are filed as rejects. ``process_batch`` hands the batch to the
loader thread; the SDK calls it through ``Target.drain_one`` whenever the target decides to flush
(see ``target.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import msgspec
from msgspec.structs import astuple
from typing_extensions import override

from target_postgres_upsert.checked_sink import REJECT_LOG_LIMIT, CheckedSink
from target_postgres_upsert.db import (
    DELETED_AT,
    TABLE_VERSION,
    Batch,
    Comments,
    Database,
    PgType,
    RowBuffer,
    TablePlan,
    decode_row,
)
from target_postgres_upsert.errors import InvalidRecordError
from target_postgres_upsert.host import SinkHost
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.settings import InvalidRecordPolicy
from target_postgres_upsert.types import (
    ANY_VALUE,
    column_names,
    comment_for,
    pg_type_for,
    value_kinds,
)
from target_postgres_upsert.values import InvalidValueError, check_datetime

EXTRACTED_AT = "_sdc_extracted_at"
RECEIVED_AT = "_sdc_received_at"
BATCHED_AT = "_sdc_batched_at"
SEQUENCE = "_sdc_sequence"
SYNC_STARTED_AT = "_sdc_sync_started_at"
METADATA_COLUMNS = (
    EXTRACTED_AT,
    RECEIVED_AT,
    BATCHED_AT,
    DELETED_AT,
    SEQUENCE,
    TABLE_VERSION,
    SYNC_STARTED_AT,
)
METADATA_TYPES = {
    EXTRACTED_AT: PgType.TIMESTAMPTZ,
    RECEIVED_AT: PgType.TIMESTAMPTZ,
    BATCHED_AT: PgType.TIMESTAMPTZ,
    DELETED_AT: PgType.TIMESTAMPTZ,
    SEQUENCE: PgType.BIGINT,
    TABLE_VERSION: PgType.BIGINT,
    SYNC_STARTED_AT: PgType.BIGINT,
}
#: The comments of the metadata columns (``COMMENT ON COLUMN``), for whoever browses a table.
METADATA_COMMENTS = {
    EXTRACTED_AT: "When the tap read the record (the RECORD message's time_extracted)",
    RECEIVED_AT: "When target-postgres-upsert read the record",
    BATCHED_AT: "When the batch that last wrote this row was committed",
    DELETED_AT: "When the record was deleted at the source; NULL while it exists",
    SEQUENCE: "Epoch milliseconds when the record was read: a later value is a later version",
    TABLE_VERSION: "The RECORD message's version (full-table syncs and ACTIVATE_VERSION)",
    SYNC_STARTED_AT: "Epoch milliseconds when the run that last wrote this row started",
}
#: Salesforce's deletion flag (queryAll returns deleted rows with IsDeleted = true).
IS_DELETED_PROPERTY = "IsDeleted"
# A stream's first batch is this small and each next one twice as large, up to batch_size_rows:
# PostgreSQL starts loading after 1,000 records instead of 10,000, while the main thread is still
# formatting (the loader is the slower side; a full first batch kept it idle ~0.2 s per run).
FIRST_BATCH_ROWS = 1_000
_ROW_JSON = msgspec.json.Encoder(decimal_format="number")


class PostgresUpsertSink(CheckedSink):
    """Loads one stream into one table with COPY and ``INSERT ... ON CONFLICT``."""

    def __init__(
        self,
        target: SinkHost,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        """Keep the target's settings and loader; the table is decided in ``setup``."""
        super().__init__(target, stream_name, schema, key_properties)
        self._rows = RowBuffer()
        self._line_numbers: list[int] = []
        self._positions: dict[Any, int] = {}
        self._clock_second = -1
        self._clock_iso = ""
        self._bad_time_extracted_logged = False
        self._plan: TablePlan | None = None
        self._formatter: RowFormatter | None = None
        self._full_metadata = self._settings.add_record_metadata
        self._keyed = bool(self.key_properties)
        self._extracted_ok: Any = None  # the last time_extracted that parsed (taps repeat it)
        self._max_records = min(self._max_records, FIRST_BATCH_ROWS)  # doubles per batch
        #: Each property's kinds and column type, in COPY order (set by ``setup``; batch lane).
        self.column_specs: tuple[ColumnSpec, ...] = ()

    # --- table plan -----------------------------------------------------------------------------

    @property
    def plan(self) -> TablePlan:
        """The table this sink loads (set by ``setup``)."""
        assert self._plan is not None, "setup() has not run"
        return self._plan

    def _metadata_columns(self) -> tuple[list[str], list[str]]:
        """(per-record metadata columns in COPY order, of which those the table keeps)."""
        if self._full_metadata:
            per_record = [EXTRACTED_AT, RECEIVED_AT, DELETED_AT, SEQUENCE, TABLE_VERSION]
            return per_record, [*per_record, BATCHED_AT, SYNC_STARTED_AT]
        # Deletes and ACTIVATE_VERSION need these two even without record metadata; with hard
        # deletes _sdc_deleted_at only marks rows to delete in the stage.
        kept = [TABLE_VERSION] if self._settings.hard_delete else [DELETED_AT, TABLE_VERSION]
        return [DELETED_AT, TABLE_VERSION], kept

    @override
    def setup(self) -> None:
        """Name the table and columns, create or evolve the table, build the row formatter."""
        settings = self._settings
        raw_properties = self.original_schema.get("properties") or {}
        properties: dict[str, Any] = dict(raw_properties)
        for key in self.key_properties:
            if key not in properties:
                self.logger.warning(
                    "Key property %r is not in the schema; storing it as jsonb", key
                )
                properties[key] = {}
        data_props = [p for p in properties if p not in METADATA_COLUMNS]
        kinds = {
            p: value_kinds(properties[p], content_encoding=settings.interpret_content_encoding)
            if isinstance(properties[p], Mapping)
            else ANY_VALUE
            for p in data_props
        }
        explicit = {
            k: settings.key_column_map[k]
            for k in self.key_properties
            if k in settings.key_column_map
        }
        names = column_names(data_props, settings.column_naming, explicit, METADATA_COLUMNS)
        per_record_meta, kept_meta = self._metadata_columns()
        schema_name = settings.default_target_schema
        table = self._host.claim_table(self.stream_name)
        wanted = [(names[p], pg_type_for(kinds[p])) for p in data_props]
        wanted += [(name, METADATA_TYPES[name]) for name in kept_meta]
        key_columns = tuple(names[k] for k in self.key_properties)
        comments = Comments(
            table=comment_for(self.original_schema),
            columns={
                **{names[p]: c for p in data_props if (c := comment_for(properties[p]))},
                **{name: METADATA_COMMENTS[name] for name in kept_meta},
            },
        )

        def ensure(db: Database) -> dict[str, PgType | None]:
            return db.ensure_table(schema_name, table, wanted, key_columns, comments)

        actual = self._host.loader.call(ensure)
        gone = sorted(set(actual) - {name for name, _ in wanted} - set(METADATA_COLUMNS))
        if gone:  # e.g. a field deleted in Salesforce, or hidden from the integration user
            self.logger.warning(
                "Stream %r no longer sends columns %s of %s.%s: they keep their values"
                " (rows inserted from now on have NULL there)",
                self.stream_name,
                ", ".join(gone),
                schema_name,
                table,
            )
        specs = [ColumnSpec(p, kinds[p], actual.get(names[p])) for p in data_props]
        self.column_specs = tuple(specs)
        key_set = set(self.key_properties)
        self._formatter = RowFormatter(
            specs, self.key_properties, extra_properties=(IS_DELETED_PROPERTY, DELETED_AT)
        )
        data_props = list(self._formatter.properties)  # the COPY column order
        self._plan = TablePlan(
            stream=self.stream_name,
            schema=schema_name,
            table=table,
            columns=tuple(names[p] for p in data_props) + tuple(per_record_meta),
            row_names=tuple(data_props) + tuple(per_record_meta),
            key_columns=key_columns,
            compare_columns=(*(names[p] for p in data_props if p not in key_set), TABLE_VERSION),
            target_has_deleted_at=DELETED_AT in actual,
            hard_delete=settings.hard_delete,
            constants={SYNC_STARTED_AT: self.sync_started_at} if self._full_metadata else {},
            now_columns=(BATCHED_AT,) if self._full_metadata else (),
        )
        self.logger.info(
            "Stream %r loads into %s.%s (%s)",
            self.stream_name,
            schema_name,
            table,
            f"key {', '.join(key_columns)}" if key_columns else "no key: rows are appended",
        )

    # --- records --------------------------------------------------------------------------------

    @override
    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """SDK entry point; the target calls ``add_values``, ``add_raw`` or ``add_record``."""
        self.add_record(record, None, None)

    @property
    def envelope_decoder(self) -> Any:
        """Decodes a whole RECORD line of this stream with its typed record (None: no fast path)."""
        assert self._formatter is not None
        return self._formatter.envelope_decoder

    def add_values(self, record: Any, time_extracted: Any, version: Any) -> bool:
        """Add a record decoded by ``envelope_decoder`` (the fast path); True when the batch is full."""
        self._pending_records += 1
        self._add(astuple(record), time_extracted, version)
        return self._pending_records >= self._max_records

    def add_raw(self, raw: Any, time_extracted: Any, version: Any) -> bool:
        """Add a record given as the JSON bytes of its RECORD message's ``record``.

        Returns True when the batch is full.
        """
        assert self._formatter is not None
        self._pending_records += 1
        try:
            values = self._formatter.decode(raw)
        except InvalidValueError as exc:
            self._invalid(exc.reason)
        else:
            self._add(values, time_extracted, version)
        return self._pending_records >= self._max_records

    def add_record(self, record: dict[str, Any], time_extracted: Any, version: Any) -> bool:
        """Add a record given as a dict (after stream maps); True when the batch is full."""
        assert self._formatter is not None
        self._pending_records += 1
        try:
            values = self._formatter.convert(record)
        except InvalidValueError as exc:
            self._invalid(exc.reason)
        else:
            self._add(values, time_extracted, version)
        return self._pending_records >= self._max_records

    def _add(self, values: tuple[Any, ...], extracted: Any, version: Any) -> None:
        """Check one record's values and add its row to the pending batch, or reject it."""
        formatter = self._formatter
        assert formatter is not None
        row = self._checked_row(formatter, values, keyed=self._keyed)
        if row is None:
            return
        is_deleted, deleted_at = formatter.extras(values)
        if deleted_at is not None and not check_datetime(deleted_at):
            self._invalid(f"{DELETED_AT} {deleted_at!r} is not a date-time")
            return

        now = time.time()
        second = int(now)
        if second != self._clock_second:
            self._clock_second = second
            self._clock_iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        if extracted is not None and extracted != self._extracted_ok:
            if check_datetime(extracted):
                self._extracted_ok = extracted
            else:
                if not self._bad_time_extracted_logged:
                    self.logger.warning("Ignoring time_extracted %r: not a date-time", extracted)
                    self._bad_time_extracted_logged = True
                extracted = None
        if deleted_at is None and is_deleted is True:
            deleted_at = extracted or self._clock_iso
        if type(version) is not int:
            version = None
        if self._full_metadata:
            metadata: tuple[Any, ...] = (
                extracted,
                self._clock_iso,
                deleted_at,
                int(now * 1000),
                version,
            )
        else:
            metadata = (deleted_at, version)
        index = self._rows.append(row + metadata if type(row) is tuple else [*row, *metadata])
        self._line_numbers.append(self._reader.line_number)
        if self._keyed:
            key = formatter.key(row)
            earlier = self._positions.get(key)
            self._positions[key] = index
            if earlier is not None:
                self._drop_superseded(earlier)

    def _drop_superseded(self, index: int) -> None:
        """Leave row ``index`` out: a later record of its key wins. A row PostgreSQL would have
        refused is still filed as a reject, so the bad record is named."""
        assert self._formatter is not None
        self._rows.drop(index)
        self.tally_duplicate_merged()
        values = decode_row(self._rows.get(index))
        reason = self._formatter.bad_number(values)
        if reason is not None:
            raw = _ROW_JSON.encode(dict(zip(self.plan.row_names, values, strict=False)))
            self._invalid(reason, line_number=self._line_numbers[index], raw=raw.decode())

    # --- batches --------------------------------------------------------------------------------

    @override
    def process_batch(self, context: dict[str, Any]) -> None:
        """Queue the pending rows and rejects as one batch for the loader thread."""
        self.tally_record_read(self._pending_records)
        self.record_counter_metric.increment(self._pending_records)
        self._pending_records = 0
        body, starts, kept = self._rows.rows()
        line_numbers = self._line_numbers
        if len(kept) != len(line_numbers):
            line_numbers = [line_numbers[i] for i in kept]
        batch = Batch(self.plan, body, starts, line_numbers, self._rejects).prepare()
        self._rows, self._line_numbers, self._positions, self._rejects = RowBuffer(), [], {}, []
        self._max_records = min(self.max_size, self._max_records * 2)
        self._host.loader.submit_batch(partial(self._load, batch))

    def _load(self, batch: Batch, db: Database) -> None:
        """Runs on the loader thread: load and commit one batch, then report it."""
        result = db.load(batch, keep_refused=self._policy is InvalidRecordPolicy.REJECT)
        if result.nul_removed:
            self.logger.warning(
                "Removed %d NUL characters from values (PostgreSQL text cannot hold them)",
                result.nul_removed,
            )
        self.logger.info(
            "Committed %d rows into %s.%s: %d inserted or changed, %d deleted, %d rejected"
            " (%.2f s)",
            result.rows,
            batch.plan.schema,
            batch.plan.table,
            result.written,
            result.deleted,
            len(batch.rejects) + len(result.refused),
            result.seconds,
        )
        for reject in result.refused[:REJECT_LOG_LIMIT]:
            self.logger.warning(
                "Rejected the record at input line %s: %s", reject.line_number, reject.reason
            )
        if result.refused and self._policy is InvalidRecordPolicy.FAIL:
            first = result.refused[0]
            raise InvalidRecordError(self.stream_name, first.line_number, first.reason)

    @override
    def activate_version(self, new_version: int) -> None:
        """Queue the removal (hard) or marking (soft) of rows that older versions left behind."""
        plan = self.plan
        hard = self._settings.hard_delete

        def activate(db: Database) -> None:
            count = db.activate_version(plan.schema, plan.table, new_version, hard=hard)
            self.logger.info(
                "ACTIVATE_VERSION %d on %s.%s: %s %d rows of older versions",
                new_version,
                plan.schema,
                plan.table,
                "deleted" if hard else "marked deleted",
                count,
            )

        self._host.loader.submit_job(activate)
