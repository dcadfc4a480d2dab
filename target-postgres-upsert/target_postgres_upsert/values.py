"""One value -> one field of a PostgreSQL ``COPY ... (FORMAT text)`` line, with its check.

A converter checks a value against what the property's schema allows (type, and for date/time
strings a parse) and returns its text, or raises ``InvalidValueError`` with a reason for the rejects
table. ``rows.py`` uses these per value only where its bulk checks cannot decide (and to find
the reason when they fail); we do not run jsonschema per record (~85% of an SDK target's time).

COPY text format: fields separated by tab, ``\\N`` for NULL, and backslash, tab, newline and
carriage return written as ``\\\\``, ``\\t``, ``\\n``, ``\\r``. PostgreSQL text cannot hold NUL
characters at all, so they are removed (and counted, so the sink can log how many).
https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable
from typing import Any

import msgspec

from target_postgres_upsert.types import ANY_VALUE, PgType, ValueKind

#: COPY's NULL marker. Compared by identity in ``RowFormatter`` so that a data string that
#: happens to read ``\N`` is still escaped (decoded strings are never this very object).
NULL = "\\N"

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
REASON_VALUE_CHARS = 60  # how much of a refused value a reject reason quotes

Converter = Callable[[Any], str]

_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)


class InvalidValueError(ValueError):
    """A value the property's schema does not allow; ``reason`` goes to the rejects table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _quote(value: Any) -> str:
    text = repr(value)
    if len(text) > REASON_VALUE_CHARS:
        text = text[: REASON_VALUE_CHARS - 3] + "..."
    return text


_UNESCAPE = re.compile(r"\\(.)")
_UNESCAPES = {"t": "\t", "n": "\n", "r": "\r"}


def parse_copy_line(line: str) -> list[str | None]:
    """The field values of one COPY text line (the inverse of ``copy_line``; None for NULL)."""
    return [
        None
        if field == NULL
        else _UNESCAPE.sub(lambda m: _UNESCAPES.get(m.group(1), m.group(1)), field)
        for field in line.split("\t")
    ]


def escape_copy_text(text: str) -> str:
    """``text`` as one COPY text-format field: specials escaped, NUL characters removed."""
    return (
        text.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\x00", "")
    )


def _strip_nul(value: Any) -> Any:
    """``value`` with NUL characters removed from every string and key inside it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def json_text(value: Any) -> str:
    """``value`` as JSON for a jsonb column (which refuses ``\\u0000``: those are dropped)."""
    encoded = _JSON_ENCODER.encode(value)
    if b"\\u0000" in encoded:
        encoded = _JSON_ENCODER.encode(_strip_nul(value))
    return encoded.decode("utf-8")


# --- checks: does a (non-null) value belong to a kind? ------------------------------------------


def _is_datetime(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time(value: Any) -> bool:
    if type(value) is not str:
        return False
    try:
        datetime.time.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_integral(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    if kind is decimal.Decimal:
        return bool(value.is_finite() and value == value.to_integral_value())
    if kind is float:
        return bool(value.is_integer())
    return False


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    if kind is decimal.Decimal:
        return bool(value.is_finite())
    if kind is float:
        return value == value and value not in (float("inf"), float("-inf"))
    return False


_KIND_CHECKS: dict[ValueKind, Callable[[Any], bool]] = {
    ValueKind.STRING: lambda v: type(v) is str,
    ValueKind.DATE_TIME: _is_datetime,
    ValueKind.DATE: _is_date,
    ValueKind.TIME: _is_time,
    ValueKind.INTEGER: _is_integral,
    ValueKind.NUMBER: _is_number,
    ValueKind.BOOLEAN: lambda v: type(v) is bool,
    ValueKind.OBJECT: lambda v: type(v) is dict,
    ValueKind.ARRAY: lambda v: type(v) is list,
}


# --- rendering: a checked value as text for a column type ---------------------------------------


def _render_text(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json_text(value)
    return str(value)


def _render_bigint(value: Any) -> str:
    number = int(value)
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise InvalidValueError(f"{_quote(value)} does not fit a bigint column")
    return str(number)


def _render_boolean(value: Any) -> str:
    return "t" if value else "f"


_RENDERERS: dict[PgType | None, Converter] = {
    PgType.TEXT: _render_text,
    PgType.JSONB: json_text,
    PgType.BIGINT: _render_bigint,
    PgType.NUMERIC: str,
    PgType.BOOLEAN: _render_boolean,
    PgType.DATE: str,
    PgType.TIME: str,
    PgType.TIMESTAMPTZ: str,
    None: _render_text,  # a column type we did not create: PostgreSQL parses our text form
}


# --- converters for the common (kind, column) pairs, one call per value ------------------------


def _text_from_string(value: Any) -> str:
    if type(value) is str:
        return value
    raise InvalidValueError(f"expected a string, got {_quote(value)}")


def _timestamptz_from_datetime(value: Any) -> str:
    if _is_datetime(value):
        return value  # type: ignore[no-any-return]
    raise InvalidValueError(f"expected an ISO-8601 date-time, got {_quote(value)}")


def _date_from_date(value: Any) -> str:
    if _is_date(value):
        return value  # type: ignore[no-any-return]
    raise InvalidValueError(f"expected an ISO-8601 date, got {_quote(value)}")


def _time_from_time(value: Any) -> str:
    if _is_time(value):
        return value  # type: ignore[no-any-return]
    raise InvalidValueError(f"expected an ISO-8601 time, got {_quote(value)}")


def _bigint_from_integer(value: Any) -> str:
    if type(value) is int:
        if BIGINT_MIN <= value <= BIGINT_MAX:
            return str(value)
        raise InvalidValueError(f"{_quote(value)} does not fit a bigint column")
    if _is_integral(value):
        return _render_bigint(value)
    raise InvalidValueError(f"expected an integer, got {_quote(value)}")


def _numeric_from_number(value: Any) -> str:
    if _is_number(value):
        return str(value)
    raise InvalidValueError(f"expected a number, got {_quote(value)}")


def _boolean_from_boolean(value: Any) -> str:
    if value is True:
        return "t"
    if value is False:
        return "f"
    raise InvalidValueError(f"expected true or false, got {_quote(value)}")


_FAST_CONVERTERS: dict[tuple[frozenset[ValueKind], PgType | None], Converter] = {
    (frozenset({ValueKind.STRING}), PgType.TEXT): _text_from_string,
    (frozenset({ValueKind.DATE_TIME}), PgType.TIMESTAMPTZ): _timestamptz_from_datetime,
    (frozenset({ValueKind.DATE}), PgType.DATE): _date_from_date,
    (frozenset({ValueKind.TIME}), PgType.TIME): _time_from_time,
    (frozenset({ValueKind.INTEGER}), PgType.BIGINT): _bigint_from_integer,
    (frozenset({ValueKind.NUMBER}), PgType.NUMERIC): _numeric_from_number,
    (frozenset({ValueKind.INTEGER, ValueKind.NUMBER}), PgType.NUMERIC): _numeric_from_number,
    (frozenset({ValueKind.BOOLEAN}), PgType.BOOLEAN): _boolean_from_boolean,
    (ANY_VALUE, PgType.JSONB): json_text,
}


def make_converter(kinds: frozenset[ValueKind], column_type: PgType | None) -> Converter:
    """The converter for a property allowing ``kinds`` stored in a column of ``column_type``.

    ``column_type`` is the table's actual type, which may be wider than the schema's (after a
    widening, or a table created by someone else: then ``None``, and PostgreSQL parses the text).
    """
    fast = _FAST_CONVERTERS.get((kinds, column_type))
    if fast is not None:
        return fast
    render = _RENDERERS.get(column_type, _render_text)
    if not kinds:
        return render
    checks = [_KIND_CHECKS[kind] for kind in sorted(kinds)]
    expected = " or ".join(sorted(kinds))

    def convert(value: Any) -> str:
        for check in checks:
            if check(value):
                return render(value)
        raise InvalidValueError(f"expected {expected}, got {_quote(value)}")

    return convert


def check_datetime(value: Any) -> bool:
    """True if ``value`` is an ISO-8601 date-time string PostgreSQL will read as timestamptz."""
    return _is_datetime(value)
