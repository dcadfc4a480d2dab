"""``x-singer-patch`` streams: update the columns a record holds on rows that exist."""

from __future__ import annotations

import decimal
import time
from functools import partial
from typing import Any

import msgspec
from typing_extensions import override

from target_postgres_upsert.checked_sink import REJECT_LOG_LIMIT
from target_postgres_upsert.db import (
    Batch,
    Comments,
    Database,
    Reject,
    RowBuffer,
    TablePlan,
)
from target_postgres_upsert.errors import InvalidRecordError
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.settings import InvalidRecordPolicy
from target_postgres_upsert.side_streams.base import PATCH_MARKER, SideSink
from target_postgres_upsert.sinks import METADATA_COLUMNS
from target_postgres_upsert.types import comment_for, pg_type_for
from target_postgres_upsert.values import InvalidValueError

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


class PatchSink(SideSink):
    """Updates the present columns of existing rows of the base table (``x-singer-patch``)."""

    marker = PATCH_MARKER

    @override
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
        raw = self.original_schema.get("properties") or {}
        comments = Comments(
            columns={
                self._names_by_prop[p]: c for p in properties if (c := comment_for(raw.get(p)))
            }
        )
        actual = self._host.loader.call(
            lambda db: db.ensure_table(schema, table, wanted, key_columns, comments)
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

    @override
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
            converted = formatter.convert(record)
        except InvalidValueError as exc:
            self._invalid(exc.reason)
            return
        row = self._checked_row(formatter, converted)
        if row is None:
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

    @override
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
