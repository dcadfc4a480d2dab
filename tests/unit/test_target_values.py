"""Record values -> checked stage rows -> COPY CSV (values, rows, db/copy_text, reader)."""

from __future__ import annotations

import decimal
import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_postgres_upsert.db.copy_text import (
    RowBuffer,
    copy_payload,
    decode_row,
    encode_row,
    split_rows,
)
from target_postgres_upsert.db.pg_types import PgType
from target_postgres_upsert.errors import InputLineError
from target_postgres_upsert.reader import NumberedReader, RecordMessage
from target_postgres_upsert.rows import ColumnSpec, RowFormatter
from target_postgres_upsert.types import ValueKind, pg_type_for, value_kinds
from target_postgres_upsert.values import InvalidValueError, json_text, make_converter

S = ValueKind


def parse_copy_csv(data: bytes) -> list[list[str | None]]:
    """The rows PostgreSQL reads from ``data`` with FORMAT csv, QUOTE '"', ESCAPE '\\', NULL 'null'.

    A test oracle written from the COPY documentation: in a quoted field a backslash before a
    backslash or a quote takes it literally, and anything else (newlines too) is data; an
    unquoted ``null`` is NULL.
    """
    text = data.decode("utf-8")
    rows: list[list[str | None]] = []
    fields: list[str | None] = []
    i = 0
    while i < len(text):
        if text[i] == '"':
            value, i = [], i + 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '\\"':
                    i += 1
                value.append(text[i])
                i += 1
            fields.append("".join(value))
            i += 1
        else:
            end = min(j for j in (text.find(",", i), text.find("\n", i), len(text)) if j >= 0)
            field = text[i:end]
            fields.append(None if field == "null" else field)
            i = end
        if i < len(text) and text[i] == "\n":
            rows.append(fields)
            fields = []
        i += 1
    return rows


@given(st.text())
def test_copy_csv_round_trips_every_text_but_nul(text: str) -> None:
    rows = [encode_row((text, None, "x", 5))]
    data, removed = copy_payload(rows)
    assert parse_copy_csv(data) == [[text.replace("\x00", ""), None, "x", "5"]]
    assert removed == text.count("\x00")


def test_escaped_backslashes_before_escape_letters_stay_text() -> None:
    texts = ["\\u0000", "\\\\u0000x", "a\\nb", "\\", "\\\x00", 'q"\\"', "\\\n", "null", ""]
    data, removed = copy_payload([encode_row((t,)) for t in texts])
    assert parse_copy_csv(data) == [[t.replace("\x00", "")] for t in texts]
    assert removed == 1


def test_a_row_buffer_holds_rows_back_to_back_and_leaves_dropped_ones_out() -> None:
    buffer = RowBuffer()
    texts = ["a]\n[b", "x", 'q"', "last"]
    for i, text in enumerate(texts):
        assert buffer.append((i, text)) == i
    body, starts, kept = buffer.rows()
    assert kept == [0, 1, 2, 3]
    assert [decode_row(row) for row in split_rows(body, starts)] == [
        [i, t] for i, t in enumerate(texts)
    ]
    assert parse_copy_csv(copy_payload(body)[0]) == [[str(i), t] for i, t in enumerate(texts)]
    buffer.drop(0)
    buffer.drop(2)
    body, starts, kept = buffer.rows()
    assert kept == [1, 3]
    assert [decode_row(row) for row in split_rows(body, starts)] == [[1, "x"], [3, "last"]]
    assert parse_copy_csv(copy_payload(body)[0]) == [["1", "x"], ["3", "last"]]
    assert RowBuffer().rows() == (b"", [], [])
    assert copy_payload(b"") == (b"", 0)


def test_rows_decode_back_to_their_values() -> None:
    row = encode_row(("a\n", None, True, decimal.Decimal("12345678901234567890.5")))
    assert decode_row(row) == ["a\n", None, True, decimal.Decimal("12345678901234567890.5")]


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


def _raw(record: dict[str, Any]) -> msgspec.Raw:
    message = json.dumps({"record": record}).encode()
    return msgspec.json.decode(message, type=dict[str, msgspec.Raw])["record"]


def _copied(formatter: RowFormatter, record: dict[str, Any]) -> dict[str, str | None]:
    """What PostgreSQL reads for each column of ``record``, by the three ways in."""
    row = formatter.row(formatter.decode(_raw(record)))
    from_dict = formatter.row(formatter.convert(record))
    line = json.dumps({"type": "RECORD", "stream": "s", "record": record})
    assert formatter.envelope_decoder is not None
    decoded = formatter.envelope_decoder.decode(line)
    from_line = formatter.row(msgspec.structs.astuple(decoded.record))
    [fields] = parse_copy_csv(copy_payload([encode_row(row)])[0])
    for other in (from_dict, from_line):
        assert parse_copy_csv(copy_payload([encode_row(other)])[0]) == [fields]
    return dict(zip(formatter.properties, fields, strict=True))


def test_a_record_becomes_a_row_in_the_formatters_column_order() -> None:
    formatter = _formatter()
    fields = _copied(
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
        "Name": "tab\there\\",
        "Seen": "2024-01-02T03:04:05.000+0000",
        "Born": None,
        "Count": "12",
        "Amount": "0.1",
        "Active": "true",
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
        ({"Id": "1", "Active": "false"}, "property 'Active'"),
        ({"Id": "1", "Doc": [1]}, "property 'Doc'"),
        ({"Id": "1", "Mixed": 1.5}, "property 'Mixed'"),
        ({"Id": 1}, "property 'Id'"),
    ],
)
def test_a_bad_value_is_refused_with_a_reason_naming_its_property(
    record: dict[str, Any], reason: str
) -> None:
    formatter = _formatter()
    with pytest.raises(InvalidValueError, match=reason):
        formatter.row(formatter.decode(_raw(record)))
    with pytest.raises(InvalidValueError, match=reason):
        formatter.row(formatter.convert(record))


def test_numbers_pass_as_their_json_text_for_postgresql_to_check() -> None:
    formatter = _formatter()

    def amount(raw_record: bytes) -> str | None:
        row = formatter.row(formatter.decode(msgspec.Raw(raw_record)))
        [fields] = parse_copy_csv(copy_payload([encode_row(row)])[0])
        return dict(zip(formatter.properties, fields, strict=True))["Amount"]

    exact = "12345678901234567890.123456789e-3"
    assert amount(b'{"Id": "1", "Amount": ' + exact.encode() + b"}") == exact
    # Not a number: it passes here, numeric's input refuses it and the loader rejects the row.
    assert amount(b'{"Id": "1", "Amount": "abc"}') == "abc"


def test_keys_and_deletion_markers() -> None:
    formatter = _formatter()
    values = formatter.convert({"Name": "no id", "IsDeleted": True})
    row = formatter.row(values)
    assert formatter.missing_key(row) == "Id"
    assert formatter.extras(values) == [True]
    row = formatter.row(formatter.convert({"Id": "a\tb"}))
    assert formatter.missing_key(row) is None
    assert formatter.key(row) == "a\tb"


def test_a_number_key_is_decoded_as_a_value() -> None:
    schema = {"k": {"type": "number"}, "v": {"type": ["number", "null"]}}
    formatter = RowFormatter(
        [ColumnSpec(p, value_kinds(s), pg_type_for(value_kinds(s))) for p, s in schema.items()],
        ["k"],
    )
    one = formatter.row(formatter.decode(_raw({"k": 1.0, "v": 2})))
    other = formatter.row(formatter.decode(_raw({"k": 1, "v": 3})))
    assert formatter.key(one) == formatter.key(other)  # 1.0 and 1 are one key in PostgreSQL
    assert formatter.missing_key(formatter.row(formatter.decode(_raw({"v": 1})))) == "k"


def test_property_names_msgspec_cannot_name_still_work() -> None:
    formatter = _formatter({"Id": {"type": "string"}, 'q"uote\\d': {"type": "integer"}})
    assert formatter.envelope_decoder is None  # such streams take the dict path
    row = formatter.row(formatter.decode(_raw({"Id": "1", 'q"uote\\d': 5})))
    assert list(row) == ["1", 5]
    with pytest.raises(InvalidValueError, match='q"uote'):
        formatter.row(formatter.convert({"Id": "1", 'q"uote\\d': "x"}))


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


def test_reader_decodes_records_of_the_fast_stream_whole_and_the_rest_generally() -> None:
    formatter = _formatter()
    assert formatter.envelope_decoder is not None
    reader = NumberedReader()
    fast: list[int] = []
    general: list[int] = []
    reader.use_fast_path(
        "s", formatter.envelope_decoder.decode, lambda m: fast.append(reader.line_number)
    )
    callbacks = {
        "RECORD": lambda m: general.append(reader.line_number),
        "STATE": lambda m: general.append(reader.line_number),
    }
    lines = [
        {"type": "RECORD", "stream": "s", "record": {"Id": "1"}},
        {"type": "RECORD", "stream": "other", "record": {"Id": "2"}},
        {"type": "RECORD", "stream": "s", "record": {"Id": "3", "Count": "bad"}},
        {"type": "STATE", "value": {"stream": "s"}},
        {"type": "RECORD", "stream": "s", "record": {"Id": "5"}},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    counts = reader.process_lines(io.StringIO(text), callbacks)
    assert fast == [1, 5]
    assert general == [2, 3, 4]  # another stream, a value the typed decoder refuses, a STATE
    assert counts == {"RECORD": 4, "STATE": 1}
