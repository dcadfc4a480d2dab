"""Parquet BATCH files: read in chunks, checked against the table, turned into COPY text.

Imported only when a parquet file arrives: pyarrow is the optional extra
``target-postgres-upsert[parquet]``.

``CopyMaker`` decides once per file whether each column can go to PostgreSQL as it is (an Arrow
type that fits the property's JSON-schema kinds and the column's type), then turns each chunk
(an Arrow record batch) into rows of COPY's text format in the stage's column order, with the
record lane's metadata columns (``db/file_copy.py`` says why text and not CSV). pyarrow's CSV
writer writes them: tab as the delimiter, ``\\N`` for null, no quotes; backslash, tab, newline,
carriage return and double quote inside strings are written as backslash escapes first, and
only in the columns whose data holds one (found by scanning the column's buffer, in C). The
record lane's rules are kept column by column:

* strings, booleans, integers, numbers (ints, floats, decimals) go as they are; an empty string
  stays an empty string and null is NULL;
* date-time, date and time properties take Arrow timestamps, dates and times, or strings; the
  strings are first checked in bulk (Arrow's ISO-8601 parser, a regular expression for times) so
  that PostgreSQL never reads a word such as ``yesterday`` the record lane would refuse;
  timestamps with a time zone are written as UTC (the session is UTC), since pyarrow formats
  zoned timestamps about 20 times slower;
* NUL characters are removed from the text and counted;
* keys must be present and, for a one-column key, distinct within the chunk (the merge cannot
  meet a key twice).

A file whose columns do not fit (e.g. an object for a jsonb column, a string for a boolean) and a
chunk that fails a check are loaded through the record lane instead (``json_lines`` gives its
rows as JSON), where every value is checked as a RECORD's would be and bad rows are rejected.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from target_postgres_upsert.db import DELETED_AT, CopyChunk, PgType
from target_postgres_upsert.errors import first_line
from target_postgres_upsert.types import ValueKind

IS_DELETED = "IsDeleted"
EXTRACTED_AT = "_sdc_extracted_at"
RECEIVED_AT = "_sdc_received_at"
SEQUENCE = "_sdc_sequence"
TABLE_VERSION = "_sdc_table_version"
ARROW_ERRORS = (pa.ArrowException, OSError)
READ_BUFFER_BYTES = 1 << 20
# Salesforce sends times as 10:00:00.000Z; PostgreSQL's time drops the zone, as the record lane.
TIME_PATTERN = (
    r"^(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?$"
)
_TIMESTAMPS = (pa.timestamp("us", tz="UTC"), pa.timestamp("us"))
# PostgreSQL's COPY text format: tab-separated, \N for NULL, escapes instead of quotes.
_WRITE = pcsv.WriteOptions(
    include_header=False, delimiter="\t", quoting_style="none", null_string="\\N"
)
# What pyarrow refuses unquoted, and the backslash, as COPY text escapes (backslash first).
# https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2 (\042 is an octal escape)
_ESCAPES = ((b"\\", "\\\\"), (b"\t", "\\t"), (b"\n", "\\n"), (b"\r", "\\r"), (b'"', "\\042"))
_JSON = msgspec.json.Encoder(decimal_format="number")
_NUL = b"\x00"

STRING = frozenset({ValueKind.STRING})
DATE_TIME = frozenset({ValueKind.DATE_TIME})
DATE = frozenset({ValueKind.DATE})
TIME = frozenset({ValueKind.TIME})
BOOLEAN = frozenset({ValueKind.BOOLEAN})
INTEGER = frozenset({ValueKind.INTEGER})
NUMBERS = (frozenset({ValueKind.NUMBER}), frozenset({ValueKind.INTEGER, ValueKind.NUMBER}))


class Rule(Enum):
    """How one column of a file goes into the CSV."""

    KEEP = "as it is"
    UTC = "a zoned timestamp, written as UTC"
    DATE_TIME_TEXT = "date-time strings, checked"
    DATE_TEXT = "date strings, checked"
    TIME_TEXT = "time strings, checked"


@dataclass(frozen=True)
class TableShape:
    """What the COPY path needs of a sink's table (from its plan and column specs)."""

    properties: tuple[str, ...]  # the data properties, in COPY order
    kinds: tuple[frozenset[ValueKind], ...]
    column_types: tuple[PgType | None, ...]
    key_properties: tuple[str, ...]
    metadata: tuple[str, ...]  # the per-record metadata columns that follow, in COPY order


@dataclass(frozen=True)
class ChunkMetadata:
    """The metadata values every row of one chunk gets (a BATCH has no ``time_extracted``)."""

    received_at: str  # ISO-8601 UTC, to the second, as the record lane's
    sequence: int  # epoch milliseconds when the chunk was read
    version: int | None


def _is_text(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def rule_for(
    kinds: frozenset[ValueKind], column_type: PgType | None, arrow_type: pa.DataType
) -> Rule | None:
    """How a file column of ``arrow_type`` goes to a column for ``kinds``; None: it cannot."""
    types = pa.types
    if types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if types.is_null(arrow_type):
        return Rule.KEEP
    if kinds == STRING and column_type is PgType.TEXT and _is_text(arrow_type):
        return Rule.KEEP
    if kinds == DATE_TIME and column_type is PgType.TIMESTAMPTZ:
        if types.is_timestamp(arrow_type):
            return Rule.UTC if arrow_type.tz is not None else Rule.KEEP
        if types.is_date(arrow_type):
            return Rule.KEEP
        return Rule.DATE_TIME_TEXT if _is_text(arrow_type) else None
    if kinds == DATE and column_type is PgType.DATE:
        if types.is_date(arrow_type):
            return Rule.KEEP
        return Rule.DATE_TEXT if _is_text(arrow_type) else None
    if kinds == TIME and column_type is PgType.TIME:
        if types.is_time(arrow_type):
            return Rule.KEEP
        return Rule.TIME_TEXT if _is_text(arrow_type) else None
    if kinds == BOOLEAN and column_type is PgType.BOOLEAN and types.is_boolean(arrow_type):
        return Rule.KEEP
    if kinds == INTEGER and column_type is PgType.BIGINT and types.is_integer(arrow_type):
        return Rule.KEEP
    if kinds in NUMBERS and column_type is PgType.NUMERIC:
        number = types.is_integer(arrow_type) or types.is_decimal(arrow_type)
        if number or types.is_float32(arrow_type) or types.is_float64(arrow_type):
            return Rule.KEEP
    return None


def open_parquet(path: Path) -> pq.ParquetFile:
    """The parquet file (its footer read); raises ``pa.ArrowException`` or ``OSError``.

    Read without ``pre_buffer`` (pyarrow's default) and through a buffered stream: pre-buffered
    column chunks stay cached until the file is closed, so memory grew with the file (a
    600,000-row file: 59 -> 143 MB of Arrow memory; without: 29 MB flat, and faster on local
    disk), and a buffered stream reads a large row group page by page instead of whole.
    """
    return pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)


def chunks(source: pq.ParquetFile, rows: int, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """The file's rows, ``rows`` at a time, only ``columns``: one row group is streamed, never
    the whole file held."""
    return source.iter_batches(batch_size=rows, columns=list(columns))  # type: ignore[no-any-return]


class CopyMaker:
    """Turns one file's chunks into COPY CSV for one table, or says why it cannot."""

    def __init__(self, shape: TableShape, file_schema: pa.Schema) -> None:
        """Decide each column's rule; ``unfit`` says why the file must take the record lane."""
        self._shape = shape
        names = set(file_schema.names)
        self.unfit: str | None = None
        self._rules: list[Rule | None] = []  # None: the file has no such column (all NULL)
        for prop, kinds, column_type in zip(
            shape.properties, shape.kinds, shape.column_types, strict=True
        ):
            if prop not in names:
                self._rules.append(None)
                continue
            rule = rule_for(kinds, column_type, file_schema.field(prop).type)
            if rule is None:
                self.unfit = (
                    f"column {prop!r} is {file_schema.field(prop).type}, which the COPY path"
                    f" does not take for a {column_type or 'foreign'} column"
                )
            self._rules.append(rule)
        flag = file_schema.field(IS_DELETED).type if IS_DELETED in names else None
        self._flag = flag is not None and pa.types.is_boolean(flag)
        self._deleted_rule: Rule | None = None
        if DELETED_AT in names:
            self._deleted_rule = rule_for(
                DATE_TIME, PgType.TIMESTAMPTZ, file_schema.field(DELETED_AT).type
            )
            if self._deleted_rule is None:
                self.unfit = f"column {DELETED_AT!r} is not a date-time"
        wanted = {*shape.properties, IS_DELETED, DELETED_AT}
        #: The file's columns to read.
        self.columns = [name for name in file_schema.names if name in wanted]

    def make(self, batch: pa.RecordBatch, meta: ChunkMetadata) -> CopyChunk | str:
        """The chunk as COPY text, or why it must take the record lane."""
        rows = batch.num_rows
        arrays: list[pa.Array] = []
        for prop, rule in zip(self._shape.properties, self._rules, strict=True):
            if rule is None:
                arrays.append(pa.nulls(rows, pa.string()))
                continue
            array = _checked(batch.column(prop), rule)
            if array is None:
                return f"property {prop!r} has a value that is not {rule.value.split(',')[0]}"
            arrays.append(array)
        problem = self._keys(batch)
        if problem is not None:
            return problem
        deleted_at = self._deleted_at(batch, meta)
        if deleted_at is None:
            return f"{DELETED_AT} has a value that is not a date-time"
        values: dict[str, pa.Array] = {
            EXTRACTED_AT: pa.nulls(rows, pa.string()),
            RECEIVED_AT: pa.repeat(pa.scalar(meta.received_at), rows),
            DELETED_AT: deleted_at,
            SEQUENCE: pa.repeat(pa.scalar(meta.sequence, pa.int64()), rows),
            TABLE_VERSION: pa.repeat(pa.scalar(meta.version, pa.int64()), rows),
        }
        arrays.extend(values[name] for name in self._shape.metadata)
        arrays = [_escaped(array) for array in arrays]
        table = pa.RecordBatch.from_arrays(arrays, names=[f"c{i}" for i in range(len(arrays))])
        out = io.BytesIO()
        try:
            pcsv.write_csv(table, out, _WRITE)
        except pa.ArrowInvalid as exc:  # a character the escapes missed: the record lane
            return f"a value cannot be written as COPY text ({first_line(str(exc))})"
        data = out.getvalue()
        removed = 0
        if _NUL in data:  # only text can hold one: a NUL is never COPY structure
            removed = data.count(_NUL)
            data = data.replace(_NUL, b"")
        return CopyChunk(data, rows, removed)

    def _keys(self, batch: pa.RecordBatch) -> str | None:
        """Why the chunk's keys cannot be merged as they are (a missing or repeated key)."""
        keys = self._shape.key_properties
        names = batch.schema.names
        for key in keys:
            if key not in names or batch.column(key).null_count:
                return f"key property {key!r} is missing or null in some row"
        if len(keys) == 1:
            column = batch.column(keys[0])
            if pc.count_distinct(column).as_py() < batch.num_rows:
                return f"key property {keys[0]!r} repeats a value"
        return None

    def _deleted_at(self, batch: pa.RecordBatch, meta: ChunkMetadata) -> pa.Array | None:
        """``_sdc_deleted_at`` as the record lane sets it: the record's own, else the time read
        when ``IsDeleted`` is true; None when the record's own is not a date-time."""
        rows = batch.num_rows
        result: pa.Array = pa.nulls(rows, pa.string())
        if self._deleted_rule is not None:
            given = _checked(batch.column(DELETED_AT), self._deleted_rule)
            if given is None:
                return None
            if pa.types.is_timestamp(given.type) or pa.types.is_date(given.type):
                given = pc.cast(pc.cast(given, pa.timestamp("us")), pa.string())
            result = pc.cast(given, pa.string())
        if self._flag:
            flagged = pc.fill_null(batch.column(IS_DELETED), False)
            now = pc.if_else(flagged, pa.scalar(meta.received_at), pa.scalar(None, pa.string()))
            result = pc.coalesce(result, now)
        return result


def _escaped(array: pa.Array) -> pa.Array:
    """A string column with COPY text escapes, where its data holds a character to escape."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    data = array.buffers()[2]
    if data is None:
        return array
    raw = data.to_pybytes()  # one copy of the column's characters; ``in`` then runs in C
    for char, escape in _ESCAPES:
        if char in raw:
            array = pc.replace_substring(array, char.decode(), escape)
    return array


def _checked(array: pa.Array, rule: Rule) -> pa.Array | None:
    """``array`` ready for the CSV writer, or None when a value fails the rule's check."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if rule is Rule.KEEP or pa.types.is_null(array.type):
        return array
    if rule is Rule.UTC:
        return pc.cast(array, pa.timestamp(array.type.unit))  # the same instants, as UTC
    if array.null_count == len(array):
        return array
    if rule is Rule.DATE_TIME_TEXT:
        for target in _TIMESTAMPS:  # with a zone (Z, +02:00) or without (read as UTC)
            try:
                pc.cast(array, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
            return array
        return None
    if rule is Rule.DATE_TEXT:
        try:
            pc.cast(array, pa.date32())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return array
    matched = pc.match_substring_regex(array, TIME_PATTERN)
    return array if pc.all(matched).as_py() else None


def json_lines(batch: pa.RecordBatch) -> list[bytes]:
    """The chunk's rows as JSON objects, for the record lane (values as a tap would send them).

    A float column holding NaN or an infinity is sent as strings (``nan``, ``inf``: JSON has no
    such numbers and msgspec would write null), which PostgreSQL's numeric reads as the COPY path
    would have; timestamps finer than microseconds are cut to microseconds (Python's limit).
    """
    columns: list[pa.Array] = []
    for array in batch.columns:
        kind = array.type
        if pa.types.is_floating(kind) and not pc.all(pc.is_finite(array)).as_py():
            array = pc.cast(array, pa.string())
        elif pa.types.is_timestamp(kind) and kind.unit == "ns":
            array = array.cast(pa.timestamp("us", tz=kind.tz), safe=False)
        elif pa.types.is_time64(kind) and kind.unit == "ns":
            array = array.cast(pa.time64("us"), safe=False)
        columns.append(array)
    rows: list[dict[str, Any]] = pa.RecordBatch.from_arrays(
        columns, names=batch.schema.names
    ).to_pylist()
    return [_JSON.encode(row) for row in rows]
