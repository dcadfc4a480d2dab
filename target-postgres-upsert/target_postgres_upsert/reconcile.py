"""Side streams applied to another stream's table: patches and Id sets.

A tap can send, next to an object's stream, streams whose SCHEMA is marked:

* ``"x-singer-patch": {"stream": "Contact"}``: each RECORD holds the key plus some columns of a
  ``Contact`` row to update in place. An absent property means "leave the column alone", not
  null; rows the table does not have are not inserted. ``PatchSink`` groups a batch's records by
  the properties they hold and runs one COPY + ``UPDATE ... FROM`` per group.
* ``"x-singer-id-set": {"stream": "Contact", "stamp_property": "SystemModstamp"}``: the RECORDs
  list every key that exists, and ACTIVATE_VERSION closes the list; its version is the time
  (epoch ms) the list was taken. ``IdSetSink`` collects the keys in a table of their own and, on
  ACTIVATE_VERSION, marks deleted (or, with ``hard_delete``, deletes) the rows of ``Contact``'s
  table that the list lacks and that did not change since it was taken (SQL in
  ``db/reconcile.py``).

Neither creates a table of its own name. The table is the one the base stream loads into (its
sink's, when the base stream came in this run; else the one its name maps to, if it exists);
without one, the side stream is skipped with a warning.
"""

from __future__ import annotations

import decimal
import time
from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec
from singer_sdk.sinks import BatchSink

from target_postgres_upsert.db import (
    DELETED_AT,
    TABLE_VERSION,
    Batch,
    Database,
    IdSetPlan,
    Reject,
    TablePlan,
    id_set_table,
)
from target_postgres_upsert.errors import InvalidRecordError, MissingKeyError
from target_postgres_upsert.payload import RowBuffer
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.settings import InvalidRecordPolicy
from target_postgres_upsert.sinks import METADATA_COLUMNS, REJECT_LOG_LIMIT
from target_postgres_upsert.types import (
    ANY_VALUE,
    PgType,
    ValueKind,
    column_names,
    parse_pg_type,
    pg_type_for,
    value_kinds,
)
from target_postgres_upsert.values import InvalidValueError

if TYPE_CHECKING:
    from target_postgres_upsert.target import TargetPostgresUpsert

PATCH_MARKER = "x-singer-patch"
ID_SET_MARKER = "x-singer-id-set"
_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


def side_stream_base(schema: Mapping[str, Any], marker: str) -> str | None:
    """The base stream a schema's ``marker`` names, if it is there and well formed."""
    value = schema.get(marker)
    if isinstance(value, Mapping) and isinstance(value.get("stream"), str):
        return str(value["stream"])
    return None


class _SideSink(BatchSink):
    """What patches and Id sets share: the base table, record counting, rejects."""

    marker = ""

    def __init__(
        self,
        target: TargetPostgresUpsert,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        """Keep the target's settings and loader; the table is found in ``setup``."""
        self._host = target
        self._settings = target.settings
        super().__init__(target, stream_name, schema, key_properties)
        base = side_stream_base(self.original_schema, self.marker)
        assert base is not None, "the target picks this sink only for a marked schema"
        self.base_stream = base
        self._reader = target.reader
        self._policy = self._settings.on_invalid_record
        self._pending_records = 0
        self._max_records = self.max_size
        self._rejects: list[Reject] = []
        self._rejected_total = 0
        self.table: str | None = None  # None: no base table; records are dropped
        self.columns: dict[str, str] = {}  # the base table's columns and types

    @property
    def current_size(self) -> int:
        """Records read since the last flush."""
        return self._pending_records

    def get_validator(self) -> None:
        """No jsonschema validation (``rows.py`` checks the values)."""
        return

    def _parse_timestamps_in_record(
        self, record: dict[str, Any], schema: Any, treatment: Any
    ) -> None:
        """Leave ISO-8601 strings as they are: PostgreSQL parses them."""

    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        """Missing keys are rejects, not crashes."""

    def process_record(self, record: dict[str, Any], context: dict[str, Any]) -> None:
        """SDK entry point; the target calls ``add_raw``, ``add_values`` or ``add_record``."""
        self.add_record(record, None, None)

    def add_record(self, record: dict[str, Any], time_extracted: Any, version: Any) -> bool:
        """Add a record given as a dict (after stream maps); True when the batch is full."""
        raise NotImplementedError

    def _find_base_table(self) -> Mapping[str, str]:
        """Set ``table`` and ``columns``; return the base stream's property -> column names.

        The names are the base sink's when it loaded in this run, else none (the caller names
        the properties the way the base sink would).
        """
        schema = self._settings.default_target_schema
        base = self._host.base_sink(self.base_stream)
        table = base.plan.table if base is not None else self._host.claim_table(self.base_stream)
        columns = self._host.loader.call(lambda db: db.table_columns(schema, table))
        if columns is None:
            self.logger.warning(
                "Stream %r (%s of stream %r): table %s.%s does not exist; skipping it",
                self.stream_name,
                self.marker,
                self.base_stream,
                schema,
                table,
            )
            return {}
        self.table, self.columns = table, columns
        if base is None:
            return {}
        return dict(zip(base.plan.row_names, base.plan.columns, strict=True))

    def _names(self, properties: list[str], known: Mapping[str, str]) -> dict[str, str]:
        """Column names of ``properties``: the base sink's where it has them, else the same rules."""
        explicit = {
            k: self._settings.key_column_map[k]
            for k in self.key_properties
            if k in self._settings.key_column_map
        }
        names = column_names(properties, self._settings.column_naming, explicit, METADATA_COLUMNS)
        names.update((p, known[p]) for p in properties if p in known)
        return names

    def _kinds(self, prop: str) -> frozenset[ValueKind]:
        schema = (self.original_schema.get("properties") or {}).get(prop)
        return value_kinds(schema) if isinstance(schema, Mapping) else ANY_VALUE

    def _invalid(self, reason: str, *, missing_key: bool = False) -> None:
        """File a reject for the current input line, or stop (``on_invalid_record: fail``)."""
        line_number = self._reader.line_number
        if self._policy is InvalidRecordPolicy.FAIL:
            error = MissingKeyError if missing_key else InvalidRecordError
            raise error(self.stream_name, line_number, reason)
        self._rejects.append(
            Reject(self.stream_name, line_number, reason, self._reader.current_line)
        )
        self._rejected_total += 1
        if self._rejected_total <= REJECT_LOG_LIMIT:
            self.logger.warning(
                "Rejected the record at input line %d: %s (kept in _sdc_rejected_records)",
                line_number,
                reason,
            )

    def _take_batch(self) -> tuple[int, list[Reject]]:
        """Hand the batch's counts to the SDK; (records read, rejects), both reset."""
        read = self._pending_records
        self.tally_record_read(read)
        self.record_counter_metric.increment(read)
        rejects, self._rejects, self._pending_records = self._rejects, [], 0
        return read, rejects


class PatchSink(_SideSink):
    """Updates the present columns of existing rows of the base table (``x-singer-patch``)."""

    marker = PATCH_MARKER

    def setup(self) -> None:
        """Find the base table, add the columns it lacks, and learn their types."""
        self._groups: dict[tuple[str, ...], tuple[tuple[str, ...], RowFormatter]] = {}
        self._pending: dict[Any, dict[str, Any]] = {}  # key -> property -> checked value
        self._lines: dict[Any, int] = {}
        known = self._find_base_table()
        if self.table is None:
            return
        if not self.key_properties:
            self.logger.warning(
                "Stream %r has no key properties: a patch needs them to find rows; skipping it",
                self.stream_name,
            )
            self.table = None
            return
        raw_properties = self.original_schema.get("properties") or {}
        properties = [p for p in raw_properties if p not in METADATA_COLUMNS]
        properties += [k for k in self.key_properties if k not in properties]
        self._order = {p: i for i, p in enumerate(properties)}
        self._names_by_prop = self._names(properties, known)
        kinds = {p: self._kinds(p) for p in properties}
        wanted = [(self._names_by_prop[p], pg_type_for(kinds[p])) for p in properties]
        schema, table = self._settings.default_target_schema, self.table
        key_columns = tuple(self._names_by_prop[k] for k in self.key_properties)
        self._key_columns = key_columns
        actual = self._host.loader.call(
            lambda db: db.ensure_table(schema, table, wanted, key_columns)
        )
        self._specs = {
            p: ColumnSpec(p, kinds[p], actual.get(self._names_by_prop[p])) for p in properties
        }
        self.logger.info(
            "Stream %r patches %s.%s (rows of stream %r, by %s)",
            self.stream_name,
            schema,
            table,
            self.base_stream,
            ", ".join(key_columns),
        )

    @property
    def envelope_decoder(self) -> None:
        """No typed fast path: which properties a record holds matters."""
        return

    def add_values(self, record: Any, time_extracted: Any, version: Any) -> bool:
        """Not used (no ``envelope_decoder``)."""
        raise NotImplementedError

    def add_raw(self, raw: Any, time_extracted: Any, version: Any) -> bool:
        """Add a record given as JSON bytes; True when the batch is full."""
        self._pending_records += 1
        if self.table is not None:
            try:
                record = _DECODER.decode(raw)
            except msgspec.DecodeError as exc:
                self._invalid(f"not valid JSON ({exc})")
            else:
                self._add(record)
        return self._pending_records >= self._max_records

    def add_record(self, record: dict[str, Any], time_extracted: Any, version: Any) -> bool:
        """Add a record given as a dict (after stream maps); True when the batch is full."""
        self._pending_records += 1
        if self.table is not None:
            self._add(record)
        return self._pending_records >= self._max_records

    def _group(self, present: tuple[str, ...]) -> tuple[tuple[str, ...], RowFormatter]:
        """The properties to write for a record with these keys, and their formatter."""
        group = self._groups.get(present)
        if group is None:
            keys = set(self.key_properties)
            props = sorted(
                keys | {p for p in present if p in self._order}, key=self._order.__getitem__
            )
            formatter = RowFormatter([self._specs[p] for p in props], self.key_properties)
            group = self._groups[present] = (tuple(props), formatter)
        return group

    def _add(self, record: Any) -> None:
        if not isinstance(record, dict):
            self._invalid("a RECORD's 'record' must be an object")
            return
        props, formatter = self._group(tuple(record))
        try:
            row = formatter.row(formatter.convert(record))
        except InvalidValueError as exc:
            self._invalid(exc.reason)
            return
        missing = formatter.missing_key(row)
        if missing is not None:
            self._invalid(f"key property {missing!r} is missing or null", missing_key=True)
            return
        if len(props) == len(self.key_properties):
            return  # nothing to update
        key = formatter.key(row)
        values = dict(zip(formatter.properties, row, strict=True))
        earlier = self._pending.get(key)
        if earlier is None:
            self._pending[key] = values
        else:
            earlier.update(values)  # a later patch of the same row wins, column by column
        self._lines[key] = self._reader.line_number

    def process_batch(self, context: dict[str, Any]) -> None:
        """Queue one job: per group of rows holding the same properties, COPY + UPDATE."""
        read, rejects = self._take_batch()
        pending, lines = self._pending, self._lines
        self._pending, self._lines = {}, {}
        table = self.table
        if table is None:
            return
        schema = self._settings.default_target_schema
        groups: dict[tuple[str, ...], tuple[RowBuffer, list[int]]] = {}
        for key, values in pending.items():
            props = tuple(sorted(values, key=self._order.__getitem__))
            buffer, line_numbers = groups.setdefault(props, (RowBuffer(), []))
            buffer.append([values[p] for p in props])
            line_numbers.append(lines[key])
        batches = []
        for props, (buffer, line_numbers) in groups.items():
            plan = TablePlan(
                stream=self.stream_name,
                schema=schema,
                table=table,
                columns=tuple(self._names_by_prop[p] for p in props),
                row_names=props,
                key_columns=self._key_columns,
                compare_columns=(),
                target_has_deleted_at=False,
                hard_delete=False,
                update_only=True,
            )
            body, starts, _ = buffer.rows()
            batches.append(Batch(plan, body, starts, line_numbers, []))
        if batches:
            batches[0].rejects = rejects
        self._host.loader.submit_batch(partial(self._apply, batches, rejects, read, schema, table))

    def _apply(
        self,
        batches: list[Batch],
        rejects: list[Reject],
        read: int,
        schema: str,
        table: str,
        db: Database,
    ) -> None:
        """Runs on the loader thread: one transaction per group; one log line for the batch."""
        started = time.monotonic()
        keep = self._policy is InvalidRecordPolicy.REJECT
        updated, refused = 0, []
        for batch in batches:
            result = db.load(batch, keep_refused=keep)
            updated += result.written
            refused += result.refused
        if not batches and rejects:
            db.insert_rejects(schema, rejects)
        columns = sorted({c for b in batches for c in b.plan.columns[len(self._key_columns) :]})
        self.logger.info(
            "Patched %s.%s from %r: %d records, %d rows updated (%s), %d rejected (%.2f s)",
            schema,
            table,
            self.stream_name,
            read,
            updated,
            ", ".join(columns) or "no columns",
            len(rejects) + len(refused),
            time.monotonic() - started,
        )
        for reject in refused[:REJECT_LOG_LIMIT]:
            self.logger.warning(
                "Rejected the record at input line %s: %s", reject.line_number, reject.reason
            )
        if refused and not keep:
            raise InvalidRecordError(self.stream_name, refused[0].line_number, refused[0].reason)


class IdSetSink(_SideSink):
    """Collects every existing key; ACTIVATE_VERSION sweeps the rest (``x-singer-id-set``)."""

    marker = ID_SET_MARKER

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
        try:
            row = formatter.row(values)
        except InvalidValueError as exc:
            self._invalid(exc.reason)
            return
        missing = formatter.missing_key(row)
        if missing is not None:
            self._invalid(f"key property {missing!r} is missing or null", missing_key=True)
            return
        self._rows.append([*row, version if type(version) is int else None])
        self._line_numbers.append(self._reader.line_number)

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


def is_side_sink(sink: Any) -> bool:
    """True for the sinks of side streams (flushed after the other streams')."""
    return isinstance(sink, _SideSink)
