"""One value -> the text PostgreSQL parses into its column, with its check (the rare kinds).

``rows.py`` leaves the common kinds to msgspec's typed decoding and PostgreSQL's input functions;
a converter here handles the rest value by value (jsonb, mixed kinds, columns wider than the
schema or of a type we did not create) and names what is wrong when a bulk check fails. It checks
a value against what the property's schema allows (type, and for date/time strings a parse) and
returns its text, or raises ``InvalidValueError`` with a reason for the rejects table. We do not
run jsonschema per record (~85% of an SDK target's time).

The text needs no escaping here: it travels as a JSON string in the row and
``db/copy_text.py`` turns that into COPY CSV. PostgreSQL text cannot hold NUL characters; they
are removed there (and counted), and from JSON for jsonb columns here, since jsonb refuses
``\\u0000`` too.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import re
from collections.abc import Callable
from typing import Any

import msgspec

from target_postgres_upsert.db import PgType
from target_postgres_upsert.types import ANY_VALUE, ValueKind

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
REASON_VALUE_CHARS = 60  # how much of a refused value a reject reason quotes

Converter = Callable[[Any], str]

_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
# base16 as MeltanoLabs target-postgres reads it: hex digits of either case, an optional 0x
# prefix, an odd count taken as a leading 0; nothing else (no spaces).
_HEX = re.compile(r"(?:0[xX])?([0-9A-Fa-f]*)")
BYTEA_HEX_PREFIX = "\\x"  # PostgreSQL's hex format for bytea input


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


def _hex_digits(value: Any) -> str | None:
    """The hex digits of a base16 string (even count), or None if it is not base16."""
    if type(value) is not str:
        return None
    match = _HEX.fullmatch(value)
    if match is None:
        return None
    digits = match.group(1)
    return "0" + digits if len(digits) % 2 else digits


def _base64_bytes(value: Any) -> bytes | None:
    """The bytes of a base64 string (RFC 4648 alphabet, padded), or None if it is not base64."""
    if type(value) is not str:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


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
    ValueKind.BASE16: lambda v: _hex_digits(v) is not None,
    ValueKind.BASE64: lambda v: _base64_bytes(v) is not None,
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
    PgType.BYTEA: _render_text,  # a plain string into bytea: PostgreSQL's escape format reads it
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


def _bytea_from_base16(value: Any) -> str:
    digits = _hex_digits(value)
    if digits is None:
        raise InvalidValueError(f"expected base16 (hex digits, optional 0x), got {_quote(value)}")
    return BYTEA_HEX_PREFIX + digits.lower()


def _bytea_from_base64(value: Any) -> str:
    data = _base64_bytes(value)
    if data is None:
        raise InvalidValueError(f"expected base64 (RFC 4648, padded), got {_quote(value)}")
    return BYTEA_HEX_PREFIX + data.hex()


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
    (frozenset({ValueKind.BASE16}), PgType.BYTEA): _bytea_from_base16,
    (frozenset({ValueKind.BASE64}), PgType.BYTEA): _bytea_from_base64,
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
