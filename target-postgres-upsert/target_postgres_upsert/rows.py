"""A record -> the fields of one COPY line: typed decoding, then conversion a column group at a time.

This is the hot path. For each stream we build a msgspec Struct type whose fields are the schema's
properties, typed from the schema (``str``; ``int`` within bigint range; ``Decimal | int``;
``bool``; ``Raw`` for JSON and mixed kinds). Decoding a RECORD's ``record`` bytes into it checks
every value's JSON type in C without building a dict; a wrong type fails with msgspec's message,
which names the property ("Expected `int | null`, got `str` - at `$.NPI__c`") and becomes the
reject reason. Records that went through stream maps arrive as dicts and are checked the same way
by ``msgspec.convert``.

The Struct's fields are ordered by conversion group, so ``astuple`` hands each group a slice:
strings need only NULL markers (and escaping when one holds a special character), timestamps one
``fromisoformat`` each, booleans a table lookup, numbers ``str``. The rare groups (jsonb, mixed
kinds, widened columns), and any group whose bulk check fails (to find the reason), go value by
value through ``values.make_converter``.
"""

from __future__ import annotations

import datetime
import decimal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from target_postgres_upsert.types import PgType, ValueKind
from target_postgres_upsert.values import (
    BIGINT_MAX,
    BIGINT_MIN,
    NULL,
    Converter,
    InvalidValueError,
    escape_copy_text,
    make_converter,
)

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_BOOLEAN_TEXT: dict[Any, str] = {True: "t", False: "f", None: NULL}
_Bigint = Annotated[int, msgspec.Meta(ge=BIGINT_MIN, le=BIGINT_MAX)]

GroupResult = tuple[list[str], int]  # field texts, NUL characters removed


def _reason(exc: msgspec.ValidationError, names: dict[str, str]) -> str:
    """msgspec's "Expected `int | null`, got `str` - at `$.NPI__c`" as "property 'NPI__c': ..."."""
    message, marker, path = str(exc).rpartition(" - at `$.")
    if not marker:
        return str(exc)
    prop = names.get(path[:-1], path[:-1])
    return f"property {prop!r}: {message[0].lower()}{message[1:]}".replace("`", "")


def _needs_alias(name: str) -> bool:
    # msgspec refuses these characters in a field's JSON name.
    return "\\" in name or '"' in name or any(ord(c) < 0x20 for c in name)


@dataclass(frozen=True)
class ColumnSpec:
    """One property: the JSON values its schema allows and the table column's actual type."""

    prop: str
    kinds: frozenset[ValueKind]
    column_type: PgType | None


def _strings(part: tuple[Any, ...]) -> GroupResult:
    joined = "".join(filter(None, part))
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined or "\x00" in joined:
        return _escaped_strings(part, joined)
    return [NULL if v is None else v for v in part], 0


def _escaped_strings(part: tuple[Any, ...], joined: str) -> GroupResult:
    removed = joined.count("\x00")
    if "\t" in joined:  # rare: escape value by value
        return [NULL if v is None else escape_copy_text(v) for v in part], removed
    # Escape the group in one go (tab-joined, so it can be split back) instead of per value.
    line = "\t".join(["" if v is None else v for v in part])
    line = line.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    texts = line.replace("\x00", "").split("\t")
    return [NULL if v is None else t for v, t in zip(part, texts, strict=True)], removed


def _parsed_by(parse: Callable[[str], object]) -> Callable[[tuple[Any, ...]], GroupResult | None]:
    def check(part: tuple[Any, ...]) -> GroupResult | None:
        try:
            deque(map(parse, [v for v in part if v is not None]), maxlen=0)
        except ValueError:
            return None  # value by value, to name the bad one
        # A string fromisoformat accepts holds no tab, newline or backslash: no escaping.
        return [NULL if v is None else v for v in part], 0

    return check


def _booleans(part: tuple[Any, ...]) -> GroupResult:
    return list(map(_BOOLEAN_TEXT.__getitem__, part)), 0


def _numbers(part: tuple[Any, ...]) -> GroupResult:
    return [NULL if v is None else str(v) for v in part], 0


@dataclass(frozen=True)
class _GroupKind:
    decode_type: Any  # the Struct field type when decoding JSON bytes
    convert_type: Any  # ... when converting a dict (stream maps)
    bulk: Callable[[tuple[Any, ...]], GroupResult | None] | None  # None: value by value


_RAW = _GroupKind(msgspec.Raw, Any, None)
_GROUPS: dict[tuple[frozenset[ValueKind], PgType | None], _GroupKind] = {
    (frozenset({ValueKind.STRING}), PgType.TEXT): _GroupKind(str | None, str | None, _strings),
    (frozenset({ValueKind.DATE_TIME}), PgType.TIMESTAMPTZ): _GroupKind(
        str | None, str | None, _parsed_by(datetime.datetime.fromisoformat)
    ),
    (frozenset({ValueKind.DATE}), PgType.DATE): _GroupKind(
        str | None, str | None, _parsed_by(datetime.date.fromisoformat)
    ),
    (frozenset({ValueKind.TIME}), PgType.TIME): _GroupKind(
        str | None, str | None, _parsed_by(datetime.time.fromisoformat)
    ),
    (frozenset({ValueKind.BOOLEAN}), PgType.BOOLEAN): _GroupKind(
        bool | None, bool | None, _booleans
    ),
    (frozenset({ValueKind.INTEGER}), PgType.BIGINT): _GroupKind(
        _Bigint | None, _Bigint | None, _numbers
    ),
    (frozenset({ValueKind.NUMBER}), PgType.NUMERIC): _GroupKind(
        decimal.Decimal | int | None, decimal.Decimal | int | None, _numbers
    ),
    (frozenset({ValueKind.INTEGER, ValueKind.NUMBER}), PgType.NUMERIC): _GroupKind(
        decimal.Decimal | int | None, decimal.Decimal | int | None, _numbers
    ),
}


class _Group:
    __slots__ = ("bulk", "converters", "properties", "start", "stop")

    def __init__(self, bulk: Callable[[tuple[Any, ...]], GroupResult | None] | None) -> None:
        self.bulk = bulk
        self.properties: list[str] = []
        self.converters: list[Converter] = []
        self.start = 0
        self.stop = 0


class RowFormatter:
    """Decodes or converts records of one stream and turns them into COPY fields.

    ``properties`` is the column order of the fields. ``extra_properties`` are also read from each
    record, untyped, and returned by ``extras`` (the deletion markers).
    """

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        key_properties: Sequence[str],
        extra_properties: Sequence[str] = (),
    ) -> None:
        """Group the columns and build the two Struct types (decode and convert)."""
        groups: dict[Any, _Group] = {}
        kinds: dict[str, _GroupKind] = {}
        for spec in columns:
            group_kind = _GROUPS.get((spec.kinds, spec.column_type), _RAW)
            group = groups.setdefault(
                group_kind if group_kind is not _RAW else None, _Group(group_kind.bulk)
            )
            group.properties.append(spec.prop)
            group.converters.append(make_converter(spec.kinds, spec.column_type))
            kinds[spec.prop] = group_kind
        # Bulk groups first, the value-by-value group last.
        ordered = [g for key, g in groups.items() if key is not None]
        ordered += [groups[None]] if None in groups else []
        position = 0
        for group in ordered:
            group.start, position = position, position + len(group.properties)
            group.stop = position
        self._groups = tuple(ordered)
        self._properties = tuple(p for g in ordered for p in g.properties)
        self._key_positions = tuple(self._properties.index(k) for k in key_properties)
        extras = [p for p in extra_properties if p not in kinds]
        struct_props = [*self._properties, *extras]
        self._extra_positions = tuple(struct_props.index(p) for p in extra_properties)
        self._extras_may_be_raw = any(kinds.get(p) is _RAW for p in extra_properties)
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
                group_kind = kinds.get(prop)
                if group_kind is None:
                    fields.append((f"f{i}", Any, None))
                elif convert:
                    fields.append((f"f{i}", group_kind.convert_type, None))
                elif group_kind.decode_type is msgspec.Raw:
                    fields.append((f"f{i}", msgspec.Raw, msgspec.Raw(b"null")))
                else:
                    fields.append((f"f{i}", group_kind.decode_type, None))
            return msgspec.defstruct(name, fields, rename=rename, gc=False)

        self._decoder = msgspec.json.Decoder(struct("Row", False), float_hook=decimal.Decimal)
        self._convert_type = struct("RowFromDict", True)

    @property
    def properties(self) -> tuple[str, ...]:
        """The properties, in the order of the fields (the COPY column order)."""
        return self._properties

    def decode(self, raw: Any) -> tuple[Any, ...]:
        """The values of a record given as JSON bytes (a ``msgspec.Raw``).

        Raises:
            InvalidValueError: a value of a JSON type its property does not allow.
        """
        if self._aliases:
            record = _DECODER.decode(raw)
            return self.convert(record)
        try:
            return msgspec.structs.astuple(self._decoder.decode(raw))
        except msgspec.ValidationError as exc:
            raise InvalidValueError(_reason(exc, self._names)) from None

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

    def fields(self, values: tuple[Any, ...]) -> tuple[list[str], int]:
        """The COPY field texts of a record's values, and how many NUL characters were removed.

        Raises:
            InvalidValueError: a value its property's schema does not allow (reason names it).
        """
        fields: list[str] = []
        removed = 0
        for group in self._groups:
            part = values[group.start : group.stop]
            result = group.bulk(part) if group.bulk is not None else None
            if result is None:
                result = self._one_by_one(group, part)
            fields += result[0]
            removed += result[1]
        return fields, removed

    @staticmethod
    def _one_by_one(group: _Group, part: tuple[Any, ...]) -> GroupResult:
        texts: list[str] = []
        removed = 0
        for prop, convert, value in zip(group.properties, group.converters, part, strict=True):
            if isinstance(value, msgspec.Raw):
                value = _DECODER.decode(value)
            if value is None:
                texts.append(NULL)
                continue
            try:
                text = convert(value)
            except InvalidValueError as exc:
                raise InvalidValueError(f"property {prop!r}: {exc.reason}") from None
            if "\\" in text or "\t" in text or "\n" in text or "\r" in text or "\x00" in text:
                removed += text.count("\x00")
                text = escape_copy_text(text)
            texts.append(text)
        return texts, removed

    def key(self, fields: Sequence[str]) -> Any:
        """The deduplication key of a formatted row: the key fields as PostgreSQL will see them."""
        positions = self._key_positions
        if len(positions) == 1:
            return fields[positions[0]]
        return tuple(fields[i] for i in positions)

    def missing_key(self, fields: Sequence[str]) -> str | None:
        """The first key property whose value is null or absent, if any."""
        for i in self._key_positions:
            if fields[i] is NULL:
                return self._properties[i]
        return None
