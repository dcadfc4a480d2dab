"""JSON schema -> PostgreSQL column types (types.py), and widening (db/pg_types.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_postgres_upsert.db.pg_types import PgType, widen
from target_postgres_upsert.types import ValueKind, pg_type_for, value_kinds


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, PgType.TEXT),
        ({"type": ["null", "string"], "format": "date-time"}, PgType.TIMESTAMPTZ),
        ({"type": "string", "format": "date"}, PgType.DATE),
        ({"type": "string", "format": "time"}, PgType.TIME),
        ({"type": "string", "format": "email"}, PgType.TEXT),
        ({"type": ["integer", "null"]}, PgType.BIGINT),
        ({"type": "number"}, PgType.NUMERIC),
        ({"type": ["integer", "number"]}, PgType.NUMERIC),
        ({"type": "boolean"}, PgType.BOOLEAN),
        ({"type": "object", "properties": {}}, PgType.JSONB),
        ({"type": "array", "items": {"type": "string"}}, PgType.JSONB),
        ({"properties": {"a": {}}}, PgType.JSONB),
        ({}, PgType.JSONB),
        ({"type": ["string", "integer"]}, PgType.TEXT),
        ({"type": ["boolean", "integer"]}, PgType.TEXT),
        ({"type": ["object", "string"]}, PgType.JSONB),
        ({"anyOf": [{"type": "integer"}, {"type": "number"}]}, PgType.NUMERIC),
        ({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}, PgType.TIMESTAMPTZ),
        ({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]},
         PgType.TIMESTAMPTZ),
        ({"oneOf": [{"type": "integer"}, {}]}, PgType.JSONB),
        ({"type": "null"}, PgType.TEXT),
    ],
)  # fmt: skip
def test_schema_maps_to_the_narrowest_type_that_holds_every_value(
    schema: dict[str, Any], expected: PgType
) -> None:
    assert pg_type_for(value_kinds(schema)) == expected


def test_value_kinds_keep_the_string_formats_apart() -> None:
    assert value_kinds({"type": ["string", "null"], "format": "date-time"}) == {ValueKind.DATE_TIME}
    assert value_kinds({"type": ["integer", "string"]}) == {ValueKind.INTEGER, ValueKind.STRING}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (PgType.BIGINT, PgType.NUMERIC, PgType.NUMERIC),
        (PgType.NUMERIC, PgType.TEXT, PgType.TEXT),
        (PgType.BIGINT, PgType.BOOLEAN, PgType.TEXT),
        (PgType.DATE, PgType.TIMESTAMPTZ, PgType.TIMESTAMPTZ),
        (PgType.TIME, PgType.TIMESTAMPTZ, PgType.TEXT),
        (PgType.TEXT, PgType.JSONB, PgType.JSONB),
        (PgType.TIMESTAMPTZ, PgType.TIMESTAMPTZ, PgType.TIMESTAMPTZ),
    ],
)
def test_widen_picks_a_type_holding_both(old: PgType, new: PgType, expected: PgType) -> None:
    assert widen(old, new) == expected


types = st.sampled_from(list(PgType))


@given(types, types, types)
def test_widen_is_a_join_commutative_associative_idempotent(
    a: PgType, b: PgType, c: PgType
) -> None:
    assert widen(a, b) == widen(b, a)
    assert widen(widen(a, b), c) == widen(a, widen(b, c))
    assert widen(a, a) == a
    assert widen(widen(a, b), a) == widen(a, b)  # the result holds a: widening again is a no-op


@pytest.mark.parametrize(
    ("schema", "interpret", "expected"),
    [
        ({"type": "string", "contentEncoding": "base16"}, True, PgType.BYTEA),
        ({"type": ["string", "null"], "contentEncoding": "base64"}, True, PgType.BYTEA),
        ({"type": "string", "contentEncoding": "base16"}, False, PgType.TEXT),
        ({"type": "string", "contentEncoding": "quoted-printable"}, True, PgType.TEXT),
        ({"type": ["string", "integer"], "contentEncoding": "base16"}, True, PgType.TEXT),
        ({"type": "base16"}, True, PgType.TEXT),  # not a JSON type: null only, text
    ],
)
def test_content_encoding_gives_bytea_only_when_interpreted(
    schema: dict[str, Any], interpret: bool, expected: PgType
) -> None:
    assert pg_type_for(value_kinds(schema, content_encoding=interpret)) is expected


def test_bytea_with_another_type_widens_to_text_or_jsonb() -> None:
    assert widen(PgType.BYTEA, PgType.TEXT) is PgType.TEXT
    assert widen(PgType.BYTEA, PgType.BIGINT) is PgType.TEXT
    assert widen(PgType.BYTEA, PgType.JSONB) is PgType.JSONB
