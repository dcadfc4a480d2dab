"""Record values -> COPY text, with the per-type checks (values.py, rows.py, reader.py)."""

from __future__ import annotations

import decimal
import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_postgres_upsert.errors import InputLineError
from target_postgres_upsert.reader import NumberedReader, RecordMessage
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.types import PgType, ValueKind, pg_type_for, value_kinds
from target_postgres_upsert.values import (
    NULL,
    InvalidValueError,
    escape_copy_text,
    json_text,
    make_converter,
    parse_copy_line,
)

S = ValueKind


@given(st.text())
def test_copy_escaping_round_trips_every_text_but_nul(text: str) -> None:
    escaped = escape_copy_text(text)
    assert "\t" not in escaped
    assert "\n" not in escaped
    assert "\r" not in escaped
    assert parse_copy_line(escaped) == [text.replace("\x00", "")]


def test_json_for_jsonb_drops_nul_even_when_nested_and_keeps_numbers_exact() -> None:
    value = {"a\x00": ["x\x00y", decimal.Decimal("12345678901234567890.5")], "b": None}
    assert json.loads(json_text(value)) == {"a": ["xy", 12345678901234567890.5], "b": None}
    assert "12345678901234567890.5" in json_text(value)


@pytest.mark.parametrize(
    ("kinds", "column", "value", "text"),
    [
        ({S.INTEGER}, PgType.TEXT, 5, "5"),
        ({S.BOOLEAN}, PgType.TEXT, False, "false"),
        ({S.INTEGER}, PgType.NUMERIC, 5, "5"),
        ({S.INTEGER}, PgType.BIGINT, decimal.Decimal("7.0"), "7"),
        ({S.STRING, S.INTEGER}, PgType.TEXT, 3, "3"),
        ({S.OBJECT}, PgType.TEXT, {"a": 1}, '{"a":1}'),
        ({S.STRING}, PgType.JSONB, "quoted", '"quoted"'),
        ({S.DATE}, PgType.TIMESTAMPTZ, "2024-01-02", "2024-01-02"),
        (set(), PgType.JSONB, [1, "x"], '[1,"x"]'),
    ],
)
def test_converters_render_for_the_actual_column_type(
    kinds: set[ValueKind], column: PgType, value: Any, text: str
) -> None:
    assert make_converter(frozenset(kinds), column)(value) == text


@pytest.mark.parametrize(
    ("kinds", "value", "reason"),
    [
        ({S.INTEGER}, "5", "expected an integer"),
        ({S.INTEGER}, 2**63, "does not fit a bigint"),
        ({S.DATE_TIME}, "2024-02-30T00:00:00Z", "date-time"),
        ({S.DATE}, "tomorrow", "date"),
        ({S.BOOLEAN}, "true", "true or false"),
        ({S.NUMBER}, "1.5", "number"),
        ({S.OBJECT}, [1], "object"),
    ],
)
def test_converters_refuse_values_their_schema_does_not_allow(
    kinds: set[ValueKind], value: Any, reason: str
) -> None:
    convert = make_converter(frozenset(kinds), pg_type_for(frozenset(kinds)))
    with pytest.raises(InvalidValueError, match=reason):
        convert(value)


SCHEMA: dict[str, Any] = {
    "Id": {"type": "string"},
    "Name": {"type": ["null", "string"]},
    "Seen": {"type": ["null", "string"], "format": "date-time"},
    "Born": {"type": ["null", "string"], "format": "date"},
    "Count": {"type": ["null", "integer"]},
    "Amount": {"type": ["null", "number"]},
    "Active": {"type": ["null", "boolean"]},
    "Doc": {"type": ["null", "object"]},
    "Mixed": {"type": ["null", "string", "integer"]},
}


def _formatter(schema: dict[str, Any] = SCHEMA) -> RowFormatter:
    specs = [ColumnSpec(p, value_kinds(s), pg_type_for(value_kinds(s))) for p, s in schema.items()]
    return RowFormatter(specs, ["Id"], extra_properties=("IsDeleted",))


def _fields(formatter: RowFormatter, record: dict[str, Any]) -> dict[str, str]:
    raw = msgspec.json.decode(json.dumps({"record": record}).encode(), type=dict[str, msgspec.Raw])[
        "record"
    ]
    fields, _ = formatter.fields(formatter.decode(raw))
    from_dict, _ = formatter.fields(formatter.convert(record))
    assert from_dict == fields  # the stream-map path gives the same fields
    return dict(zip(formatter.properties, fields, strict=True))


def test_a_record_becomes_fields_in_the_formatters_column_order() -> None:
    formatter = _formatter()
    fields = _fields(
        formatter,
        {
            "Id": "1",
            "Name": "tab\there\\",
            "Seen": "2024-01-02T03:04:05.000+0000",
            "Born": None,
            "Count": 12,
            "Amount": 0.1,
            "Active": True,
            "Doc": {"k": "v\x00"},
            "Mixed": 7,
            "Unknown": "ignored",
        },
    )
    assert fields == {
        "Id": "1",
        "Name": "tab\\there\\\\",
        "Seen": "2024-01-02T03:04:05.000+0000",
        "Born": NULL,
        "Count": "12",
        "Amount": "0.1",
        "Active": "t",
        "Doc": '{"k":"v"}',
        "Mixed": "7",
    }
    assert set(formatter.properties) == set(SCHEMA)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"Id": "1", "Count": "12"}, "property 'Count': expected int | null, got str"),
        ({"Id": "1", "Count": 2**63}, "property 'Count'"),
        ({"Id": "1", "Seen": "not a time"}, "property 'Seen'"),
        ({"Id": "1", "Born": "2023-02-29"}, "property 'Born'"),
        ({"Id": "1", "Active": 1}, "property 'Active'"),
        ({"Id": "1", "Amount": "abc"}, "property 'Amount'"),
        ({"Id": "1", "Doc": [1]}, "property 'Doc'"),
        ({"Id": "1", "Mixed": 1.5}, "property 'Mixed'"),
    ],
)
def test_a_bad_value_is_refused_with_a_reason_naming_its_property(
    record: dict[str, Any], reason: str
) -> None:
    formatter = _formatter()
    raw = msgspec.json.decode(json.dumps({"r": record}).encode(), type=dict[str, msgspec.Raw])["r"]
    with pytest.raises(InvalidValueError, match=reason):
        formatter.fields(formatter.decode(raw))


def test_keys_and_deletion_markers() -> None:
    formatter = _formatter()
    values = formatter.convert({"Name": "no id", "IsDeleted": True})
    fields, _ = formatter.fields(values)
    assert formatter.missing_key(fields) == "Id"
    assert formatter.extras(values) == [True]
    values = formatter.convert({"Id": "a\tb"})
    fields, _ = formatter.fields(values)
    assert formatter.missing_key(fields) is None
    assert formatter.key(fields) == "a\\tb"


def test_property_names_msgspec_cannot_name_still_work() -> None:
    formatter = _formatter({"Id": {"type": "string"}, 'q"uote\\d': {"type": "integer"}})
    assert _fields(formatter, {"Id": "1", 'q"uote\\d': 5}) == {"Id": "1", 'q"uote\\d': "5"}
    with pytest.raises(InvalidValueError, match='q"uote'):
        formatter.fields(formatter.convert({"Id": "1", 'q"uote\\d': "x"}))


def test_reader_numbers_lines_skips_blank_ones_and_names_the_bad_one() -> None:
    reader = NumberedReader()
    seen: list[tuple[int, Any]] = []
    callbacks = {
        "RECORD": lambda m: seen.append((reader.line_number, m)),
        "STATE": lambda m: seen.append((reader.line_number, m)),
    }
    text = '{"type": "STATE", "value": 1}\n\n{"type": "RECORD", "stream": "s", "record": {}}\n'
    counts = reader.process_lines(io.StringIO(text), callbacks)
    assert counts == {"STATE": 1, "RECORD": 1}
    assert seen[0] == (1, {"type": "STATE", "value": 1})
    assert seen[1][0] == 3
    assert isinstance(seen[1][1], RecordMessage)
    with pytest.raises(InputLineError, match="input line 2: not valid JSON"):
        NumberedReader().process_lines(io.StringIO('{"type": "STATE"}\n{oops\n'), callbacks)
    with pytest.raises(InputLineError, match="input line 1: unknown message type 'NOPE'"):
        NumberedReader().process_lines(io.StringIO('{"type": "NOPE"}\n'), callbacks)
