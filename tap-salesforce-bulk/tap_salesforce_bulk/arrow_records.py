"""Arrow batches of CSV text -> typed Arrow columns, the values ``records.py`` gives the record lane.

Each column is converted by one pyarrow kernel (no Python object per value): booleans from
``true``/``false`` (any case), integers, finite doubles, dates (the first 10 characters, as the
record lane), datetimes as UTC timestamps in milliseconds (the canonical strings of
:mod:`timestamps`), times kept as ``HH:mm:ss.SSSZ`` text. Empty cells are already null. A
column a kernel cannot convert whole (a spelling the record lane still accepts, such as an
integer written ``23.0``, or a bad value) goes through the record lane's own converter value by
value, which either converts it exactly as the record lane would or raises
:class:`RecordValueError` naming the field, as the record lane does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tap_salesforce_bulk.records import CONVERTERS, RecordValueError
from tap_salesforce_bulk.salesforce.timestamps import parse_datetime
from tap_salesforce_bulk.schema import FieldSpec, Kind

TIMESTAMP = pa.timestamp("ms", tz="UTC")
ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.STRING: pa.string(),
    Kind.TIME: pa.string(),
    Kind.BOOLEAN: pa.bool_(),
    Kind.INTEGER: pa.int64(),
    Kind.NUMBER: pa.float64(),
    Kind.DATE: pa.date32(),
    Kind.DATETIME: TIMESTAMP,
}
# The record lane's canonical time text; anything else goes through its converter.
CANONICAL_TIME = r"^(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$"
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def _all(mask: pa.Array) -> bool:
    """True unless some non-null value of ``mask`` is false."""
    return pc.all(mask).as_py() is not False


def _boolean(text: pa.Array) -> pa.Array | None:
    lowered = pc.utf8_lower(text)
    true = pc.equal(lowered, "true")
    return true if _all(pc.or_(true, pc.equal(lowered, "false"))) else None


def _integer(text: pa.Array) -> pa.Array | None:
    try:
        return pc.cast(text, pa.int64())
    except _CAST_ERRORS:
        return None


def _number(text: pa.Array) -> pa.Array | None:
    try:
        numbers = pc.cast(text, pa.float64())
    except _CAST_ERRORS:
        return None
    return numbers if _all(pc.is_finite(numbers)) else None


def _date(text: pa.Array) -> pa.Array | None:
    try:
        return pc.cast(pc.utf8_slice_codeunits(text, 0, 10), pa.date32())
    except _CAST_ERRORS:
        return None


def _datetime(text: pa.Array) -> pa.Array | None:
    # Only the canonical shape (what Bulk sends): other spellings take the record lane's parser.
    if not _all(pc.match_substring_regex(text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")):
        return None
    try:
        return pc.cast(text, TIMESTAMP)
    except _CAST_ERRORS:
        return None


def _time(text: pa.Array) -> pa.Array | None:
    return text if _all(pc.match_substring_regex(text, CANONICAL_TIME)) else None


KERNELS: dict[Kind, Callable[[pa.Array], pa.Array | None]] = {
    Kind.STRING: lambda text: text,
    Kind.BOOLEAN: _boolean,
    Kind.INTEGER: _integer,
    Kind.NUMBER: _number,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
    Kind.TIME: _time,
}


def _slowly(text: pa.Array, spec: FieldSpec) -> pa.Array:
    """The record lane's converter, value by value (rare: see the module docstring)."""
    convert = CONVERTERS[spec.kind]
    values: list[Any] = []
    for value in text.to_pylist():
        try:
            values.append(convert(value or ""))
        except RecordValueError as exc:
            raise RecordValueError(f"field {spec.name}: {exc}") from None
    if spec.kind is Kind.DATETIME:
        values = [None if v is None else parse_datetime(v) for v in values]
    return pa.array(values, type=ARROW_TYPES[spec.kind])


class ArrowTyper:
    """Types the text batches of one page header: the columns the schema knows, renamed to its
    field names (matched case-insensitively, as the record lane), in header order."""

    def __init__(self, header: Sequence[str], fields: Mapping[str, FieldSpec]) -> None:
        by_lower = {name.lower(): spec for name, spec in fields.items()}
        self.picks: list[tuple[str, FieldSpec]] = []
        self.unknown_columns: list[str] = []
        for column in header:
            spec = fields.get(column) or by_lower.get(column.lower())
            if spec is None:
                self.unknown_columns.append(column)
            else:
                self.picks.append((column, spec))
        self.schema = pa.schema([(spec.name, ARROW_TYPES[spec.kind]) for _, spec in self.picks])

    def typed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch with typed columns; raises RecordValueError naming a field that does not fit."""
        arrays = []
        for column, spec in self.picks:
            text = batch[column]
            if text.null_count == len(text):
                typed = pa.nulls(len(text), ARROW_TYPES[spec.kind])
            else:
                typed = KERNELS[spec.kind](text)
                if typed is None:
                    typed = _slowly(text, spec)
            arrays.append(typed)
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
