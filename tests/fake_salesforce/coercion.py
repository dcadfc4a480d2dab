"""Values given to the control API (Python or JSON) turned into the emulator's typed form.

Dates become day numbers, datetimes epoch milliseconds (from ints, aware datetimes, or the
ISO/SOQL spellings ``2024-01-02T03:04:05Z``, ``.sss`` and ``+0000`` included), numbers floats;
see ``values.Typed``.
"""

from __future__ import annotations

import datetime as dt

from tests.fake_salesforce.clock import parse_date_literal, parse_datetime_literal
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType


def coerce_value(field_type: FieldType, value: object) -> Typed:
    """Convert a Python/JSON value into the emulator's typed form for ``field_type``."""
    if value is None:
        return None
    if field_type is FieldType.BOOLEAN:
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    if field_type is FieldType.DATETIME:
        return to_epoch_ms(value)
    if field_type is FieldType.DATE:
        if isinstance(value, dt.date):
            return (value - dt.date(1970, 1, 1)).days
        day = parse_date_literal(str(value))
        if day is None:
            raise ValueError(f"not a date: {value!r}")
        return day
    if field_type is FieldType.TIME:
        return _time_ms(str(value))
    if field_type is FieldType.INT:
        return int(str(value))
    if field_type.is_numeric:
        return float(str(value))
    return str(value)


def to_epoch_ms(value: object) -> int:
    """Epoch ms from an int (ms), an aware datetime or an ISO/SOQL datetime string."""
    if isinstance(value, bool):
        raise ValueError("not a datetime")
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp() * 1000)
    text = str(value).replace("+0000", "Z")
    parsed = parse_datetime_literal(text)
    if parsed is None:
        raise ValueError(f"not a datetime: {value!r}")
    return parsed


def _time_ms(text: str) -> int:
    """Milliseconds of the day from ``HH:MM[:SS[.sss]][Z]``."""
    clock = text.removesuffix("Z")
    parts = clock.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"not a time: {text!r}")
    seconds = float(parts[2]) if len(parts) == 3 else 0.0
    return (int(parts[0]) * 60 + int(parts[1])) * 60_000 + round(seconds * 1000)
