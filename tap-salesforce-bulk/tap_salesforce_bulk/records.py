"""Bulk 2.0 CSV rows -> typed records.

The tap types values itself (the SDK's conformance is off for speed, and it would turn the string
"false" into True). Bulk CSV has no null marker: an empty field is null. double, currency and
percent values become floats: Salesforce writes them with Java's ``Double.toString`` (``23.0``,
``1.6147805824397E13``), so a double holds exactly what was sent and prints back the shortest text
for it. Integers are also read from ``23.0``; datetimes leave in the one canonical format of
:mod:`timestamps`; time values are checked and leave as ``HH:mm:ss.SSSZ``.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tap_salesforce_bulk.salesforce.timestamps import normalize_datetime
from tap_salesforce_bulk.schema import FieldSpec, Kind

logger = logging.getLogger(__name__)

Converter = Callable[[str], Any]


class RecordValueError(ValueError):
    """A CSV value that does not fit its field's described type."""


def _string(value: str) -> str | None:
    return value or None


def _boolean(value: str) -> bool | None:
    if not value:
        return None
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise RecordValueError(f"'{value[:40]}' is not true or false")


def _number(value: str) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a number") from None
    if not math.isfinite(number):
        raise RecordValueError(f"'{value[:40]}' is not a finite number")
    return number


def _integer(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = Decimal(value)  # Salesforce writes some whole numbers as 23.0
    except InvalidOperation:
        raise RecordValueError(f"'{value[:40]}' is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise RecordValueError(f"'{value[:40]}' is not a whole number")
    return int(number)


def _date(value: str) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a date") from None


def _time(value: str) -> str | None:
    """A time field: Bulk writes ``HH:mm:ss.SSSZ`` (no date, no time zone); any other spelling
    of a time of day is rewritten to it, anything else is an error."""
    if not value:
        return None
    try:
        parsed = dt.time.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a time of day") from None
    if parsed.tzinfo is not None:
        raise RecordValueError(f"'{value[:40]}' is not a time of day") from None
    return f"{parsed.strftime('%H:%M:%S')}.{parsed.microsecond // 1000:03d}Z"


def _datetime(value: str) -> str | None:
    if not value:
        return None
    try:
        return normalize_datetime(value)
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a timestamp") from None


CONVERTERS: dict[Kind, Converter] = {
    Kind.STRING: _string,
    Kind.TIME: _time,
    Kind.BOOLEAN: _boolean,
    Kind.INTEGER: _integer,
    Kind.NUMBER: _number,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
}


# Inline expressions per kind for the generated row function: the common case (a well-formed
# value) costs no Python call; anything unusual falls back to the converters above.
INLINE_EXPRESSIONS: dict[Kind, str] = {
    Kind.STRING: "{v} or None",
    Kind.TIME: "_time({v})",  # rare: always fully checked
    Kind.BOOLEAN: "_BOOLEANS[{v}]",
    Kind.INTEGER: "(int(_v) if (_v := {v}).isdigit() else _integer(_v))",
    Kind.NUMBER: "(_f if (_v := {v}) and _isfinite(_f := float(_v)) else _number(_v))",
    Kind.DATE: "(_v if len(_v := {v}) == 10 and _v[4] == '-' else _date(_v))",
    Kind.DATETIME: "(_v if len(_v := {v}) == 24 and _v[23] == 'Z' and _v[19] == '.' else _datetime(_v))",
}
_NAMESPACE: dict[str, Any] = {
    "_BOOLEANS": {"true": True, "false": False, "": None},
    "_isfinite": math.isfinite,
    "_integer": _integer,
    "_number": _number,
    "_date": _date,
    "_time": _time,
    "_datetime": _datetime,
}


class RecordBuilder:
    """Turns the rows of one result page into records, given the page's header row.

    Typing 90 fields per row is the tap's hottest loop, so the row function is generated once per
    header (like ``collections.namedtuple`` does): a dict display with one inline expression per
    column. Only ``repr()`` of described field names and integer indexes enter the source text.
    Columns the header names but the schema lacks are dropped (the caller logs them); fields the
    schema has but the header lacks are listed in ``missing_fields``.
    """

    def __init__(self, header: Sequence[str], fields: Mapping[str, FieldSpec]) -> None:
        by_lower = {name.lower(): spec for name, spec in fields.items()}
        self.picks: list[tuple[int, str, Converter]] = []
        self.unknown_columns: list[str] = []
        self.width = len(header)
        entries: list[str] = []
        for index, column in enumerate(header):
            spec = fields.get(column) or by_lower.get(column.lower())
            if spec is None:
                self.unknown_columns.append(column)
                continue
            self.picks.append((index, spec.name, CONVERTERS[spec.kind]))
            expression = INLINE_EXPRESSIONS[spec.kind].format(v=f"row[{index}]")
            entries.append(f"{spec.name!r}: {expression}")
        self.missing_fields = sorted(set(fields) - {name for _, name, _ in self.picks})
        namespace = dict(_NAMESPACE)
        source = "def build_row(row):\n    return {" + ", ".join(entries) + "}\n"
        exec(compile(source, "<record builder>", "exec"), namespace)  # noqa: S102 - see docstring
        self._build_row: Callable[[Sequence[str]], dict[str, Any]] = namespace["build_row"]

    def build(self, row: Sequence[str]) -> dict[str, Any]:
        """One typed record; raises RecordValueError naming the field on a bad value."""
        if len(row) != self.width:
            msg = f"row has {len(row)} values but the header has {self.width} columns"
            raise RecordValueError(msg)
        try:
            record = self._build_row(row)
        except (KeyError, ArithmeticError, ValueError):
            return self._build_slowly(row)
        return record

    def _build_slowly(self, row: Sequence[str]) -> dict[str, Any]:
        """The converter-per-field path: it names the field a bad value belongs to."""
        record: dict[str, Any] = {}
        for index, name, convert in self.picks:
            try:
                record[name] = convert(row[index])
            except RecordValueError as exc:
                raise RecordValueError(f"field {name}: {exc}") from None
        return record
