"""JSON schema -> PostgreSQL column type, and Singer names -> PostgreSQL identifiers.

Two jobs live here because both decide what a table looks like before any SQL runs:

* ``value_kinds`` reads one property's JSON schema and says which JSON values it allows;
  ``pg_type_for`` picks the narrowest of our column types that holds all of them. The types,
  and ``widen``, the lattice also used when a table already has the column with another type,
  are in ``db/pg_types.py`` (the DDL needs them, and ``db/`` imports nothing from up here).
* ``snake_case``, ``fit_identifier`` and ``column_names`` turn stream and property names into
  identifiers: deterministic, at most 63 bytes, never two properties on one column;
  ``id_set_table`` names an Id set's table.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from target_postgres_upsert.db.pg_types import PgType, widen

LOGGER = logging.getLogger(__name__)

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; we shorten them ourselves first so
# that two long names can never silently become the same name.
MAX_IDENTIFIER_BYTES = 63
HASH_SUFFIX_CHARS = 8
ID_SET_PREFIX = "_sdc_ids_"


class ValueKind(StrEnum):
    """A JSON value a property may hold; strings with a date/time ``format`` are their own kind."""

    STRING = "string"
    DATE_TIME = "date-time"
    DATE = "date"
    TIME = "time"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    OBJECT = "object"
    ARRAY = "array"
    # Strings with contentEncoding, when interpret_content_encoding is on (stored as bytea).
    BASE16 = "base16"
    BASE64 = "base64"


#: The JSON Schema type names (a ``type`` naming anything else is not a kind we know).
JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array"})
#: ``contentEncoding`` values stored as bytes (RFC 4648 section 8 and 4).
CONTENT_ENCODINGS = {"base16": ValueKind.BASE16, "base64": ValueKind.BASE64}


class ColumnNaming(StrEnum):
    """How stream and property names become table and column names."""

    SNAKE_CASE = "snake_case"
    PRESERVE = "preserve"


#: A property that allows every JSON value (``{}``, ``$ref`` we do not follow, only ``null``).
ANY_VALUE: frozenset[ValueKind] = frozenset()

_STRING_FORMATS = {
    "date-time": ValueKind.DATE_TIME,
    "date": ValueKind.DATE,
    "time": ValueKind.TIME,
}
_KIND_TYPES = {
    ValueKind.STRING: PgType.TEXT,
    ValueKind.DATE_TIME: PgType.TIMESTAMPTZ,
    ValueKind.DATE: PgType.DATE,
    ValueKind.TIME: PgType.TIME,
    ValueKind.INTEGER: PgType.BIGINT,
    ValueKind.NUMBER: PgType.NUMERIC,
    ValueKind.BOOLEAN: PgType.BOOLEAN,
    ValueKind.OBJECT: PgType.JSONB,
    ValueKind.ARRAY: PgType.JSONB,
    ValueKind.BASE16: PgType.BYTEA,
    ValueKind.BASE64: PgType.BYTEA,
}


def value_kinds(
    schema: Mapping[str, Any], *, content_encoding: bool = False
) -> frozenset[ValueKind]:
    """The JSON values one property's schema allows (``null`` is always allowed and not listed).

    ``anyOf`` / ``oneOf`` / ``allOf`` branches are unioned: the column must hold whichever branch
    a record uses. An empty result (``ANY_VALUE``) means "any JSON value"; a property that only
    allows null gets ``{STRING}`` (any column type would do; text is the least surprising).
    With ``content_encoding`` (the ``interpret_content_encoding`` setting), a string with
    ``contentEncoding`` ``base16`` or ``base64`` is that kind instead of a string.
    """
    kinds = _kinds(schema, content_encoding)
    if kinds is None:
        return ANY_VALUE
    return frozenset(kinds) if kinds else frozenset({ValueKind.STRING})


def _kinds(schema: Mapping[str, Any], content_encoding: bool) -> set[ValueKind] | None:
    """The kinds a schema allows besides null; None for any value, empty for null only."""
    kinds: set[ValueKind] = set()
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key) or ()]
    for branch in branches:
        branch_kinds = _kinds(branch, content_encoding) if isinstance(branch, Mapping) else None
        if branch_kinds is None:
            return None
        kinds |= branch_kinds
    declared = schema.get("type")
    if declared is None:
        if branches:
            return kinds
        if "properties" in schema:
            declared = "object"
        elif "items" in schema:
            declared = "array"
        else:
            return None
    names = [declared] if isinstance(declared, str) else list(declared or ())
    string_format = schema.get("format")
    encoding = (
        CONTENT_ENCODINGS.get(str(schema.get("contentEncoding"))) if content_encoding else None
    )
    for name in names:
        if name == "string":
            kinds.add(encoding or _STRING_FORMATS.get(str(string_format), ValueKind.STRING))
        elif name in JSON_TYPES:
            kinds.add(ValueKind(name))
    return kinds


def pg_type_for(kinds: Collection[ValueKind]) -> PgType:
    """The column type for a property that allows ``kinds`` (any value -> jsonb)."""
    if not kinds:
        return PgType.JSONB
    result: PgType | None = None
    for kind in kinds:
        kind_type = _KIND_TYPES[kind]
        result = kind_type if result is None else widen(result, kind_type)
    assert result is not None
    return result


def comment_for(schema: Any) -> str | None:
    """A table's or column's comment from its schema's ``title`` and ``description``.

    ``tap-salesforce-bulk`` puts a field's label in ``title`` and its help text in
    ``description``: ``NPI Number: The provider's 10-digit ...``. None when the schema has
    neither (the comment is then left as it is). NUL characters, which PostgreSQL text cannot
    hold, are dropped.
    """
    if not isinstance(schema, Mapping):
        return None
    parts = [
        text.replace("\x00", "").strip()
        for text in (schema.get("title"), schema.get("description"))
        if isinstance(text, str)
    ]
    parts = [part for part in parts if part]
    return ": ".join(parts) if parts else None


# --- names ------------------------------------------------------------------------------------


def snake_case(name: str) -> str:
    """``LastCURequestDate`` -> ``last_cu_request_date``; ``NPI__c`` -> ``npi__c``.

    An underscore goes before an upper-case letter that follows a lower-case letter or a digit,
    and before the last capital of an acronym that starts a word (``CURequest`` -> ``cu_request``).
    Everything else is kept and lower-cased (Unicode aware: ``ÄrgerZahl`` -> ``ärger_zahl``).
    """
    out: list[str] = []
    last = len(name) - 1
    for i, char in enumerate(name):
        if i > 0 and char.isupper():
            prev = name[i - 1]
            next_is_lower = i < last and name[i + 1].islower()
            if prev.islower() or prev.isdigit() or (prev.isupper() and next_is_lower):
                out.append("_")
        out.append(char.lower())
    return "".join(out)


def short_hash(source: str) -> str:
    """A stable short digest of ``source`` used to keep shortened or clashing names apart."""
    return hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()[
        :HASH_SUFFIX_CHARS
    ]


def _truncate_bytes(name: str, max_bytes: int) -> str:
    encoded = name.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")  # drops a split multi-byte character


def with_hash_suffix(name: str, source: str) -> str:
    """``name`` shortened to fit with ``_<hash of source>`` appended (always <= 63 bytes)."""
    room = MAX_IDENTIFIER_BYTES - HASH_SUFFIX_CHARS - 1
    return f"{_truncate_bytes(name, room)}_{short_hash(source)}"


def fit_identifier(name: str, source: str) -> str:
    """``name`` if it fits PostgreSQL's 63 bytes, else a shortened name with a hash of ``source``.

    NUL characters are dropped (PostgreSQL refuses them) and an empty name gets a hashed one.
    """
    name = name.replace("\x00", "")
    if not name:
        return f"_{short_hash(source)}"
    if len(name.encode("utf-8")) <= MAX_IDENTIFIER_BYTES:
        return name
    return with_hash_suffix(name, source)


def apply_naming(name: str, naming: ColumnNaming) -> str:
    """``name`` under the configured naming, not yet shortened."""
    return snake_case(name) if naming is ColumnNaming.SNAKE_CASE else name


def table_name(stream_name: str, naming: ColumnNaming) -> str:
    """The table a stream loads into (``Contact`` -> ``contact`` under snake_case)."""
    return fit_identifier(apply_naming(stream_name, naming), stream_name)


def id_set_table(schema: str, table: str) -> str:
    """The name of the Id set table of ``schema.table`` (at most 63 bytes, one per table)."""
    return with_hash_suffix(ID_SET_PREFIX + table, f"{schema}.{table}")


def column_names(
    properties: Sequence[str],
    naming: ColumnNaming,
    explicit: Mapping[str, str],
    reserved: Iterable[str] = (),
) -> dict[str, str]:
    """Map each property to a distinct column name.

    ``explicit`` names win (the ``key_column_map`` for key properties); then a property whose name
    already is the column name; then properties in name order. A property that loses its name to
    another one, or to a ``reserved`` column, gets ``<name>_<hash of property>``. The result only
    depends on the set of names, so the same schema always gives the same columns.
    """
    taken: set[str] = set(reserved)
    wanted: dict[str, list[str]] = {}
    for prop in properties:
        base = explicit.get(prop)
        if base is None:
            base = apply_naming(prop, naming)
        wanted.setdefault(fit_identifier(base, prop), []).append(prop)

    result: dict[str, str] = {}
    losers: list[tuple[str, str]] = []
    for base in sorted(wanted):
        claimants = sorted(wanted[base], key=lambda p: (p not in explicit, p != base, p))
        if base in taken:
            losers.extend((base, prop) for prop in claimants)
            continue
        result[claimants[0]] = base
        taken.add(base)
        losers.extend((base, prop) for prop in claimants[1:])

    for base, prop in losers:
        candidate = with_hash_suffix(base, prop)
        attempt = 0
        while candidate in taken:  # only if a property is literally named like a suffixed name
            attempt += 1
            candidate = with_hash_suffix(base, f"{prop}\x00{attempt}")
        LOGGER.warning(
            "Property %r would share column %r with another name; it is stored in column %r",
            prop,
            base,
            candidate,
        )
        result[prop] = candidate
        taken.add(candidate)
    for prop, column in result.items():
        if column != apply_naming(prop, naming) and prop not in explicit:
            LOGGER.info("Property %r is stored in column %r", prop, column)
    return result
