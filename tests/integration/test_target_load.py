"""Loading: upserts, duplicates, schema evolution, exact text, instants, names, any tap's shapes."""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from tests.integration.conftest import (
    Db,
    TargetRun,
    jsonl,
    record,
    schema_message,
    singer_file,
    state,
)

Run = Callable[..., TargetRun]


def _ok(result: TargetRun) -> TargetRun:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_load_then_upsert_changes_only_changed_rows(run: Run, db: Db) -> None:
    first = _ok(run(singer_file("contact_initial.jsonl")))
    assert first.states == [
        {"bookmarks": {"Contact": {"replication_key_value": "2024-01-03T10:00:00.000+0000"}}}
    ]
    before = {r["salesforce_id"]: r for r in db.select("xmin::text AS xmin, *", "contact")}
    assert len(before) == 3

    second = _ok(run(singer_file("contact_changed.jsonl")))
    assert second.states[-1]["bookmarks"]["Contact"]["replication_key_value"].startswith("2024-02")
    after = {r["salesforce_id"]: r for r in db.select("xmin::text AS xmin, *", "contact")}
    assert sorted(after) == [
        "003000000000000001",
        "003000000000000002",
        "003000000000000003",
        "003000000000000004",
    ]
    # Unchanged row: not rewritten at all (same tuple version, same metadata).
    assert after["003000000000000001"]["xmin"] == before["003000000000000001"]["xmin"]
    assert (
        after["003000000000000001"]["_sdc_received_at"]
        == before["003000000000000001"]["_sdc_received_at"]
    )
    changed = after["003000000000000002"]
    assert changed["xmin"] != before["003000000000000002"]["xmin"]
    assert changed["first_name"] == "Second2"
    assert changed["annual_revenue"] == decimal.Decimal("12345678901234567890.123456789")
    assert changed["last_modified_date"] == datetime.datetime(2024, 2, 2, 10, tzinfo=datetime.UTC)
    # Rows the second run did not mention keep their values.
    assert after["003000000000000003"] == before["003000000000000003"]
    assert after["003000000000000004"]["address"] == {"city": "Zürich", "zip": 4}
    assert after["003000000000000004"]["tags"] == ["a", "t4"]


def test_contact_columns_are_typed_from_the_schema(run: Run, db: Db) -> None:
    _ok(run(singer_file("contact_initial.jsonl")))
    columns = db.columns("contact")
    assert columns["salesforce_id"] == "text"
    assert columns["birthdate"] == "date"
    assert columns["last_modified_date"] == "timestamp with time zone"
    assert columns["number_of_employees"] == "bigint"
    assert columns["annual_revenue"] == "numeric"
    assert columns["is_deleted"] == "boolean"
    assert columns["tags"] == "jsonb"
    assert columns["address"] == "jsonb"
    assert {
        "_sdc_extracted_at",
        "_sdc_received_at",
        "_sdc_batched_at",
        "_sdc_deleted_at",
        "_sdc_sequence",
        "_sdc_table_version",
        "_sdc_sync_started_at",
    } <= set(columns)
    key = db.query(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
        " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
        (f'"{db.schema}".contact',),
    )
    assert [r["attname"] for r in key] == ["salesforce_id"]


def test_duplicate_keys_in_one_batch_keep_the_last_record(run: Run, db: Db) -> None:
    result = _ok(run(singer_file("duplicates_in_batch.jsonl")))
    assert result.states == [{"done": True}]
    items = db.rows("item", order_by="id")
    assert [(r["id"], r["name"], r["qty"]) for r in items] == [(1, "last", 3), (2, "only", 5)]
    lines = db.select("order_id, line_no, sku", "line", order_by="1, 2")
    assert [tuple(r.values()) for r in lines] == [("A", 1, "new"), ("A", 2, "keep")]


def test_schema_changes_add_and_widen_columns_without_losing_values(run: Run, db: Db) -> None:
    _ok(run(singer_file("schema_change.jsonl")))
    columns = db.columns("evolving")
    assert columns["amount"] == "text"  # bigint -> numeric -> text
    assert columns["code"] == "text"
    assert columns["flag"] == "text"
    assert columns["day"] == "timestamp with time zone"
    assert columns["note"] == "text"
    assert columns["gone"] == "text"  # never dropped
    rows = {r["id"]: r for r in db.rows("evolving")}
    assert rows[1]["amount"] == "ten"
    assert rows[1]["code"] == "70"
    assert rows[1]["flag"] == "yes"
    assert rows[1]["gone"] == "kept"  # absent from the last schema: the old value stays
    assert rows[2]["amount"] == "2.5"
    assert rows[2]["code"] == "8"
    assert rows[2]["flag"] == "false"
    assert rows[2]["day"] == datetime.datetime(2024, 5, 7, tzinfo=datetime.UTC)
    assert rows[3]["gone"] is None
    assert rows[3]["code"] == "X-9"


def test_widening_keeps_numbers_exact(run: Run, db: Db) -> None:
    messages = jsonl(
        schema_message(
            "m", {"id": {"type": "integer"}, "n": {"type": ["integer", "null"]}}, ["id"]
        ),
        record("m", {"id": 1, "n": 9007199254740993}),
        schema_message("m", {"id": {"type": "integer"}, "n": {"type": ["number", "null"]}}, ["id"]),
        record("m", {"id": 2, "n": 0.1}),
    )
    _ok(run(messages))
    assert db.columns("m")["n"] == "numeric"
    values = {r["id"]: r["n"] for r in db.rows("m")}
    assert values == {1: decimal.Decimal("9007199254740993"), 2: decimal.Decimal("0.1")}


def test_text_with_special_characters_is_stored_exactly(run: Run, db: Db) -> None:
    result = _ok(run(singer_file("special_text.jsonl")))
    assert result.states == [{"n": 12}]
    rows = {r["id"]: r for r in db.rows("notes")}
    expected = {
        "lf": "line one\nline two",
        "crlf": "line one\r\nline two",
        "cr": "a\rb",
        "quotes": "single ' double \" both '\"",
        "tab": "col1\tcol2",
        "backslash": "C:\\path\\to\\file \\N \\t \\\\",
        "null_marker": "\\N",
        "unicode": "Grüße 中文 עברית 🎉 \u2028 end",
        "nul": "beforeafter",  # PostgreSQL text cannot hold NUL: removed, and counted in the log
        "empty": "",
        "spaces": "  padded  ",
        "csv": "a,b;c|d",
    }
    assert {k: r["body"] for k, r in rows.items()} == expected
    assert {k: r["doc"] for k, r in rows.items()} == {
        k: {"text": v, "list": [v]} for k, v in expected.items()
    }
    assert "Removed 2 NUL characters" in result.stderr


def test_instants_with_offsets_do_not_depend_on_time_zones(run: Run, db: Db) -> None:
    # The target's session would default to New York (PGTZ), the reading session is Auckland.
    _ok(run(singer_file("timestamps.jsonl"), env={"PGTZ": "America/New_York"}))
    with db.conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'Pacific/Auckland'")
    rows = db.select(
        "id, extract(epoch FROM at)::numeric AS epoch, day::text AS day, clock::text AS clock",
        "events",
        order_by="id",
    )
    instant = datetime.datetime(2024, 3, 10, 6, 30, tzinfo=datetime.UTC).timestamp()
    assert [r["epoch"] for r in rows] == [
        decimal.Decimal(int(instant)),
        decimal.Decimal(int(instant)),
        decimal.Decimal(int(instant)) + decimal.Decimal("0.123456"),
        decimal.Decimal(int(instant)),  # no offset: read as UTC
        decimal.Decimal(int(instant)),
    ]
    assert [r["day"] for r in rows] == [
        "2024-02-29",
        "1999-12-31",
        "2000-01-01",
        "2024-03-10",
        None,
    ]
    assert [r["clock"] for r in rows] == ["23:59:59.5", "00:00:00", "12:30:00", "06:30:00", None]


def test_column_names_are_snake_case_short_and_distinct(run: Run, db: Db) -> None:
    result = _ok(run(singer_file("naming.jsonl")))
    assert db.tables() == {"contact_history"}
    row = db.rows("contact_history")[0]
    assert row["salesforce_id"] == "003X"
    assert row["npi__c"] == "npi"
    assert row["mailing_postal_code"] == "8001"
    assert row["last_cu_request_date"] == datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    # FirstName and first_name both map to first_name: the exact name keeps it, the other is
    # stored under a hashed name; nothing is lost.
    assert row["first_name"] == "from first_name"
    assert sorted(v for k, v in row.items() if k.startswith("first_name_")) == ["from FirstName"]
    assert all(len(name.encode()) <= 63 for name in row)
    values = set(row.values())
    assert {"alpha", "beta", "long", "weird", "unicode", "kept in a suffixed column"} <= values
    assert row['weird"; drop table x; --'] == "weird"
    assert row["straße名前"] == "unicode"
    assert "would share column" in result.stderr


def test_preserve_naming_and_a_custom_key_column(run: Run, db: Db) -> None:
    messages = jsonl(
        schema_message(
            "Account", {"Id": {"type": "string"}, "AccountNumber": {"type": "string"}}, ["Id"]
        ),
        record("Account", {"Id": "001", "AccountNumber": "A-1"}),
    )
    _ok(run(messages, column_naming="preserve", key_column_map={"Id": "sf_id"}))
    assert db.tables() == {"Account"}
    assert db.rows("Account")[0]["sf_id"] == "001"
    assert db.rows("Account")[0]["AccountNumber"] == "A-1"


def test_streams_from_any_tap_composite_keys_keyless_nested(run: Run, db: Db) -> None:
    long_stream = 'Ünïcode stream; with "quotes" ' + "s" * 200
    messages = jsonl(
        schema_message(
            "events",
            {
                "ts": {"type": "string", "format": "date-time"},
                "payload": {},
                "n": {"type": ["number", "integer", "null"]},
            },
        ),
        record(
            "events", {"ts": "2024-01-01T00:00:00Z", "payload": {"a": [1, {"b": None}]}, "n": 1}
        ),
        record("events", {"ts": "2024-01-01T00:00:00Z", "payload": "just text", "n": 1.5}),
        schema_message(
            "order_lines",
            {"order": {"type": "integer"}, "line": {"type": "integer"}, "sku": {"type": "string"}},
            ["order", "line"],
        ),
        record("order_lines", {"order": 1, "line": 1, "sku": "x"}),
        record("order_lines", {"order": 1, "line": 2, "sku": "y"}),
        schema_message(long_stream, {"k": {"type": "string"}}, ["k"]),
        record(long_stream, {"k": "v"}),
        state({"ok": 1}),
    )
    _ok(run(messages, add_record_metadata=False))
    events = db.rows("events")
    assert len(events) == 2  # no key: appended
    assert [e["payload"] for e in events] == [{"a": [1, {"b": None}]}, "just text"]
    assert db.columns("events")["n"] == "numeric"
    assert set(db.columns("events")) == {
        "ts",
        "payload",
        "n",
        "_sdc_deleted_at",
        "_sdc_table_version",
    }
    assert [(r["order"], r["line"]) for r in db.rows("order_lines", order_by="line")] == [
        (1, 1),
        (1, 2),
    ]
    long_tables = [t for t in db.tables() if t.startswith("ünïcode")]
    assert len(long_tables) == 1
    assert len(long_tables[0].encode()) <= 63
    assert db.rows(long_tables[0]) == [
        {"k": "v", "_sdc_deleted_at": None, "_sdc_table_version": None}
    ]


def test_a_second_run_of_the_same_input_converges(run: Run, db: Db) -> None:
    _ok(run(singer_file("contact_initial.jsonl")))
    first: list[dict[str, Any]] = db.rows("contact", order_by="salesforce_id")
    _ok(run(singer_file("contact_initial.jsonl")))
    assert db.rows("contact", order_by="salesforce_id") == first


def test_stream_maps_and_flattening_apply_before_loading(run: Run, db: Db) -> None:
    messages = jsonl(
        schema_message(
            "Thing",
            {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "dims": {"type": "object", "properties": {"w": {"type": "integer"}}},
            },
            ["id"],
        ),
        record("Thing", {"id": 1, "name": "a", "dims": {"w": 3}}),
        record("Thing", {"id": 2, "name": "b", "dims": {"w": 4}}),
        record("Thing", {"id": 3, "name": "drop me", "dims": {"w": 5}}),
    )
    stream_maps = {
        "Thing": {
            "__alias__": "renamed",
            "__filter__": "name != 'drop me'",
            "name_upper": "name.upper()",
        }
    }
    _ok(run(messages, stream_maps=stream_maps, flattening_enabled=True, flattening_max_depth=1))
    rows = db.rows("renamed", order_by="id")
    assert [(r["id"], r["name_upper"], r["dims__w"]) for r in rows] == [(1, "A", 3), (2, "B", 4)]
    assert "thing" not in db.tables()


def test_two_streams_that_map_to_one_table_get_two_tables(run: Run, db: Db) -> None:
    props = {"id": {"type": "integer"}}
    messages = jsonl(
        schema_message("Order", props, ["id"]),
        record("Order", {"id": 1}),
        schema_message("order", props, ["id"]),
        record("order", {"id": 2}),
    )
    result = _ok(run(messages))
    tables = sorted(db.tables())
    assert len(tables) == 2
    assert tables[0] == "order"
    assert tables[1].startswith("order_")
    assert {r["id"] for t in tables for r in db.select("id", t)} == {1, 2}
    assert "map to the same table" in result.stderr
