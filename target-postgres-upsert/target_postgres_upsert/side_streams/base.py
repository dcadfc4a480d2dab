"""What patch and Id-set sinks share: the base stream's table, record counting, rejects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from target_postgres_upsert.checked_sink import CheckedSink
from target_postgres_upsert.db import Reject
from target_postgres_upsert.host import SinkHost
from target_postgres_upsert.sinks import METADATA_COLUMNS
from target_postgres_upsert.types import ANY_VALUE, ValueKind, column_names, value_kinds

PATCH_MARKER = "x-singer-patch"
ID_SET_MARKER = "x-singer-id-set"


def side_stream_base(schema: Mapping[str, Any], marker: str) -> str | None:
    """The base stream a schema's ``marker`` names, if it is there and well formed."""
    value = schema.get(marker)
    if isinstance(value, Mapping) and isinstance(value.get("stream"), str):
        return str(value["stream"])
    return None


class SideSink(CheckedSink):
    """What patches and Id sets share: the base table, record counting, rejects."""

    marker = ""

    def __init__(
        self,
        target: SinkHost,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        """Keep the target's settings and loader; the table is found in ``setup``."""
        super().__init__(target, stream_name, schema, key_properties)
        base = side_stream_base(self.original_schema, self.marker)
        assert base is not None, "the target picks this sink only for a marked schema"
        self.base_stream = base
        self.table: str | None = None  # None: no base table; records are dropped
        self.columns: dict[str, str] = {}  # the base table's columns and types

    @override
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
        if not isinstance(schema, Mapping):
            return ANY_VALUE
        return value_kinds(schema, content_encoding=self._settings.interpret_content_encoding)

    def _take_batch(self) -> tuple[int, list[Reject]]:
        """Hand the batch's counts to the SDK; (records read, rejects), both reset."""
        read = self._pending_records
        self.tally_record_read(read)
        self.record_counter_metric.increment(read)
        rejects, self._rejects, self._pending_records = self._rejects, [], 0
        return read, rejects


def is_side_sink(sink: Any) -> bool:
    """True for the sinks of side streams (flushed after the other streams')."""
    return isinstance(sink, SideSink)
