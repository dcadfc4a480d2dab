"""A record -> the checked values of one stage row (the hot path, run once per record).

For each stream we build msgspec Struct types whose fields are the schema's properties, typed from
the schema. Decoding a RECORD line into them checks every value's JSON type in C without building
a dict; a wrong type fails with msgspec's message, which names the property ("Expected `int |
null`, got `str` - at `$.NPI__c`") and becomes the reject reason. The reader decodes a whole
RECORD line with ``envelope_decoder`` (one decode per record); records that went through stream
maps arrive as dicts and are checked the same way by ``msgspec.convert``.

What each property is decoded as, and what is left to do in Python:

* strings, booleans, integers (within bigint): ``str`` / ``bool`` / ``int`` - nothing more;
* numbers: ``msgspec.Raw``, the number's JSON text, passed on untouched (exact, and no
  ``Decimal`` per value); PostgreSQL's ``numeric`` input refuses anything that is not a number.
  Key properties are decoded as ``Decimal`` instead, so keys can be compared;
* date, date-time and time strings: ``str``, parsed once by ``fromisoformat`` in a group (what
  PostgreSQL would also accept includes words such as ``yesterday``);
* the rare rest (jsonb, mixed kinds, widened or foreign column types): ``Raw``, converted value by
  value through ``values.make_converter`` to the text PostgreSQL parses.

The Struct's fields keep the schema's order, the order taps write the keys in: msgspec then finds
each key at the next field instead of searching (measured: 1.0 s instead of 1.7 s per 100,000
Contact records of 102 properties). The row (the column values plus the sink's metadata) is
encoded by msgspec as one JSON array, which ``db/copy_text.py`` turns into COPY CSV for a whole
batch at once: no Python runs per value for the common kinds.
"""

from __future__ import annotations

import datetime
import decimal
import operator
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from target_postgres_upsert.db import PgType
from target_postgres_upsert.types import ValueKind
from target_postgres_upsert.values import BIGINT_MAX, BIGINT_MIN, InvalidValueError, make_converter

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_Bigint = Annotated[int, msgspec.Meta(ge=BIGINT_MIN, le=BIGINT_MAX)]
_NUMBER = decimal.Decimal | int | None
_RAW_NULL = msgspec.Raw(b"null")

Row = tuple[Any, ...] | list[Any]


def _reason(exc: msgspec.ValidationError, names: dict[str, str]) -> str:
    """msgspec's "Expected `int | null`, got `str` - at `$.NPI__c`" as "property 'NPI__c': ..."."""
    message, marker, path = str(exc).rpartition(" - at `$.")
    if not marker:
        return str(exc)
    prop = names.get(path[:-1], path[:-1])
    message = message.replace("`", "")  # msgspec's quoting, not the property's own backticks
    return f"property {prop!r}: {message[0].lower()}{message[1:]}"


def _needs_alias(name: str) -> bool:
    # msgspec refuses these characters in a field's JSON name.
    return "\\" in name or '"' in name or any(ord(c) < 0x20 for c in name)


@dataclass(frozen=True)
class ColumnSpec:
    """One property: the JSON values its schema allows and the table column's actual type."""

    prop: str
    kinds: frozenset[ValueKind]
    column_type: PgType | None


@dataclass(frozen=True)
class _Kind:
    """How a group of properties is decoded and checked."""

    decode_type: Any  # the Struct field type when decoding JSON bytes
    convert_type: Any  # ... when converting a dict (stream maps), and for key properties
    parse: Callable[[str], object] | None = None  # a date/time check; None: nothing to check
    default: Any = None  # the value of an absent property


_STRING = _Kind(str | None, str | None)
_NUMBERS = _Kind(msgspec.Raw, _NUMBER, default=_RAW_NULL)
_KINDS: dict[tuple[frozenset[ValueKind], PgType | None], _Kind] = {
    (frozenset({ValueKind.STRING}), PgType.TEXT): _STRING,
    (frozenset({ValueKind.DATE_TIME}), PgType.TIMESTAMPTZ): _Kind(
        str | None, str | None, datetime.datetime.fromisoformat
    ),
    (frozenset({ValueKind.DATE}), PgType.DATE): _Kind(
        str | None, str | None, datetime.date.fromisoformat
    ),
    (frozenset({ValueKind.TIME}), PgType.TIME): _Kind(
        str | None, str | None, datetime.time.fromisoformat
    ),
    (frozenset({ValueKind.BOOLEAN}), PgType.BOOLEAN): _Kind(bool | None, bool | None),
    (frozenset({ValueKind.INTEGER}), PgType.BIGINT): _Kind(_Bigint | None, _Bigint | None),
    (frozenset({ValueKind.NUMBER}), PgType.NUMERIC): _NUMBERS,
    (frozenset({ValueKind.INTEGER, ValueKind.NUMBER}), PgType.NUMERIC): _NUMBERS,
}
#: The value-by-value group (``values.make_converter``).
_SLOW = _Kind(msgspec.Raw, Any, default=_RAW_NULL)


class RowFormatter:
    """Decodes or converts records of one stream and turns them into checked stage rows.

    ``properties`` is the column order of a row, the order of ``columns`` (give the schema's).
    ``extra_properties`` are also read from each record, untyped, and returned by ``extras``
    (the deletion markers).
    """

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        key_properties: Sequence[str],
        extra_properties: Sequence[str] = (),
    ) -> None:
        """Sort the columns into kinds and build the Struct types (decode, convert, RECORD line)."""
        self._properties = tuple(spec.prop for spec in columns)
        self._width = len(self._properties)
        kinds: dict[str, _Kind] = {}
        converters: dict[str, Callable[[Any], str]] = {}
        checked: dict[Callable[[str], object], list[int]] = {}
        slow: list[tuple[int, str, Callable[[Any], str]]] = []
        for position, spec in enumerate(columns):
            kind = _KINDS.get((spec.kinds, spec.column_type), _SLOW)
            kinds[spec.prop] = kind
            converters[spec.prop] = make_converter(spec.kinds, spec.column_type)
            if kind is _SLOW:
                slow.append((position, spec.prop, converters[spec.prop]))
            elif kind.parse is not None:
                checked.setdefault(kind.parse, []).append(position)
        self._checks = tuple(
            (
                _getter(positions),
                parse,
                [self._properties[i] for i in positions],
                [converters[self._properties[i]] for i in positions],
            )
            for parse, positions in checked.items()
        )
        self._slow = tuple(slow)
        self._number_positions = tuple(
            i for i, spec in enumerate(columns) if kinds[spec.prop] is _NUMBERS
        )
        self._key_positions = tuple(self._properties.index(k) for k in key_properties)
        keys = set(key_properties)
        extras = [p for p in extra_properties if p not in kinds]
        struct_props = [*self._properties, *extras]
        self._extra_positions = tuple(struct_props.index(p) for p in extra_properties)
        self._extras_may_be_raw = any(
            kinds.get(p, _STRING).decode_type is msgspec.Raw for p in extra_properties
        )
        # Properties msgspec cannot name get an alias; their records are decoded to a dict first
        # and renamed (slower, but only for streams with such names).
        self._aliases: dict[str, str] = {}
        for prop in struct_props:
            if _needs_alias(prop):
                alias = f"_alias{len(self._aliases)}"
                while alias in struct_props:
                    alias += "_"
                self._aliases[prop] = alias
        self._names = {alias: prop for prop, alias in self._aliases.items()}
        rename = {f"f{i}": self._aliases.get(p, p) for i, p in enumerate(struct_props)}

        def struct(name: str, convert: bool) -> type[msgspec.Struct]:
            fields: list[tuple[str, Any, Any]] = []
            for i, prop in enumerate(struct_props):
                kind = kinds.get(prop)
                if kind is None:  # an extra property: any value
                    fields.append((f"f{i}", Any, None))
                elif convert:
                    fields.append((f"f{i}", kind.convert_type, None))
                elif prop in keys and kind.decode_type is msgspec.Raw:
                    # Keys are compared (dedupe) and checked for null: decode them as values.
                    fields.append((f"f{i}", kind.convert_type, None))
                else:
                    fields.append((f"f{i}", kind.decode_type, kind.default))
            return msgspec.defstruct(name, fields, rename=rename, gc=False)

        row_struct = struct("Row", False)
        self._decoder = msgspec.json.Decoder(row_struct, float_hook=decimal.Decimal)
        self._convert_type = struct("RowFromDict", True)
        envelope = msgspec.defstruct(
            "RecordLine",
            [
                ("type", Any, None),
                ("stream", Any, None),
                ("record", row_struct | None, None),
                ("time_extracted", Any, None),
                ("version", Any, None),
            ],
            gc=False,
        )
        #: Decodes a whole RECORD line with a typed record, or None when names need aliases.
        self.envelope_decoder: msgspec.json.Decoder[Any] | None = (
            None if self._aliases else msgspec.json.Decoder(envelope, float_hook=decimal.Decimal)
        )

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties, in the order of a row's values (the COPY column order)."""
        return self._properties

    def decode(self, raw: Any) -> tuple[Any, ...]:
        """The values of a record given as JSON bytes (a ``msgspec.Raw``).

        Raises:
            InvalidValueError: a value of a JSON type its property does not allow.
        """
        try:
            if self._aliases:
                return self.convert(_DECODER.decode(raw))
            return msgspec.structs.astuple(self._decoder.decode(raw))
        except msgspec.ValidationError as exc:
            raise InvalidValueError(_reason(exc, self._names)) from None
        except msgspec.DecodeError as exc:  # e.g. an escaped lone surrogate
            raise InvalidValueError(f"not valid JSON ({exc})") from None

    def convert(self, record: dict[str, Any]) -> tuple[Any, ...]:
        """The values of a record given as a dict (after stream maps).

        Raises:
            InvalidValueError: a value of a type its property does not allow.
        """
        if self._aliases:
            aliases = self._aliases
            record = {aliases.get(k, k): v for k, v in record.items()}
        try:
            return msgspec.structs.astuple(msgspec.convert(record, self._convert_type))
        except msgspec.ValidationError as exc:
            raise InvalidValueError(_reason(exc, self._names)) from None

    def extras(self, values: tuple[Any, ...]) -> list[Any]:
        """The values of ``extra_properties`` (Python values; ``Raw`` JSON decoded)."""
        result = [values[i] for i in self._extra_positions]
        if self._extras_may_be_raw:
            result = [_DECODER.decode(v) if isinstance(v, msgspec.Raw) else v for v in result]
        return result

    def row(self, values: tuple[Any, ...]) -> Row:
        """A record's column values, checked; the rare kinds converted to text.

        Raises:
            InvalidValueError: a value its property's schema does not allow (reason names it).
        """
        for get, parse, props, converters in self._checks:
            part = get(values)
            try:
                deque(map(parse, [v for v in part if v is not None]), maxlen=0)
            except (ValueError, TypeError):
                _name_the_bad_value(props, converters, part)
        row: Row = values if len(values) == self._width else values[: self._width]
        if self._slow:
            row = list(row)
            for position, prop, convert in self._slow:
                value = row[position]
                if isinstance(value, msgspec.Raw):
                    value = _DECODER.decode(value)
                if value is not None:
                    try:
                        value = convert(value)
                    except InvalidValueError as exc:
                        raise InvalidValueError(f"property {prop!r}: {exc.reason}") from None
                row[position] = value
        return row

    def bad_number(self, values: Sequence[Any]) -> str | None:
        """Why a decoded row (``copy_text.decode_row``) holds a non-number in a number column.

        Numbers pass through as raw JSON and PostgreSQL checks them at load time; a row dropped
        before then (a later record of its key replaced it) is checked here, so its reject is kept.
        """
        for i in self._number_positions:
            value = values[i]
            if value is not None and (
                type(value) is bool or not isinstance(value, (int, decimal.Decimal))
            ):
                return f"property {self._properties[i]!r}: expected a number, got {value!r:.60}"
        return None

    def key(self, row: Row) -> Any:
        """The deduplication key of a row (the key values, as compared in Python)."""
        positions = self._key_positions
        if len(positions) == 1:
            return row[positions[0]]
        return tuple(row[i] for i in positions)

    def missing_key(self, row: Row) -> str | None:
        """The first key property whose value is null or absent, if any."""
        for i in self._key_positions:
            if row[i] is None:
                return self._properties[i]
        return None


def _getter(positions: Sequence[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A function picking ``positions`` out of a tuple, as a tuple (``itemgetter``, in C)."""
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return operator.itemgetter(*positions)


def _name_the_bad_value(
    props: Sequence[str], converters: Sequence[Callable[[Any], str]], part: Sequence[Any]
) -> None:
    """Raise the reason for the first value of a group that fails its check."""
    for prop, convert, value in zip(props, converters, part, strict=True):
        if value is None:
            continue
        try:
            convert(value)
        except InvalidValueError as exc:
            raise InvalidValueError(f"property {prop!r}: {exc.reason}") from None
    raise InvalidValueError("a date or time value is not ISO-8601")  # pragma: no cover
