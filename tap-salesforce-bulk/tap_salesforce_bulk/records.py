"""Bulk 2.0 CSV rows -> typed records.

The tap types values itself (the SDK's conformance is off for speed, and it would turn the string
"false" into True). Bulk CSV has no null marker: an empty field is null. Numbers become
``Decimal`` (the msgspec writer prints them as exact JSON numbers), integers are also read from
``23.0``, and datetimes leave in the one canonical format of :mod:`timestamps`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tap_salesforce_bulk.schema import FieldSpec, Kind
from tap_salesforce_bulk.timestamps import normalize_datetime

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


def _number(value: str) -> Decimal | None:
    if not value:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RecordValueError(f"'{value[:40]}' is not a number") from None
    if not number.is_finite():
        raise RecordValueError(f"'{value[:40]}' is not a finite number")
    return number


def _integer(value: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    number = _number(value)  # Salesforce writes some whole numbers as 23.0
    if number is None or number != number.to_integral_value():
        raise RecordValueError(f"'{value[:40]}' is not a whole number")
    return int(number)


def _date(value: str) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a date") from None


def _datetime(value: str) -> str | None:
    if not value:
        return None
    try:
        return normalize_datetime(value)
    except ValueError:
        raise RecordValueError(f"'{value[:40]}' is not a timestamp") from None


CONVERTERS: dict[Kind, Converter] = {
    Kind.STRING: _string,
    Kind.TIME: _string,
    Kind.BOOLEAN: _boolean,
    Kind.INTEGER: _integer,
    Kind.NUMBER: _number,
    Kind.DATE: _date,
    Kind.DATETIME: _datetime,
}


class RecordBuilder:
    """Turns the rows of one result page into records, given the page's header row.

    Columns the header names but the schema lacks are dropped (logged once by the caller);
    fields the schema has but the header lacks are reported in ``missing_fields``.
    """

    def __init__(self, header: Sequence[str], fields: Mapping[str, FieldSpec]) -> None:
        by_lower = {name.lower(): spec for name, spec in fields.items()}
        self.picks: list[tuple[int, str, Converter]] = []
        self.unknown_columns: list[str] = []
        self.width = len(header)
        for index, column in enumerate(header):
            spec = fields.get(column) or by_lower.get(column.lower())
            if spec is None:
                self.unknown_columns.append(column)
            else:
                self.picks.append((index, spec.name, CONVERTERS[spec.kind]))
        self.missing_fields = sorted(set(fields) - {name for _, name, _ in self.picks})

    def build(self, row: Sequence[str]) -> dict[str, Any]:
        """One typed record; raises RecordValueError naming the field on a bad value."""
        if len(row) != self.width:
            msg = f"row has {len(row)} values but the header has {self.width} columns"
            raise RecordValueError(msg)
        try:
            return {name: convert(row[index]) for index, name, convert in self.picks}
        except RecordValueError as exc:
            field = next(
                (name for index, name, convert in self.picks if _fails(convert, row[index])), "?"
            )
            raise RecordValueError(f"field {field}: {exc}") from None


def _fails(convert: Converter, value: str) -> bool:
    try:
        convert(value)
    except RecordValueError:
        return True
    return False
