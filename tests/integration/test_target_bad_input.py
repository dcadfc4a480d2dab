"""Bad input never costs good data: rejects, fail mode, broken streams, secrets in errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg2.extensions
import pytest
from psycopg2 import sql

from tests.integration.conftest import (
    TARGET_BIN,
    Db,
    TargetRun,
    jsonl,
    record,
    run_target,
    schema_message,
    singer_file,
    state,
)

Run = Callable[..., TargetRun]


def _one_line_error(result: TargetRun) -> str:
    """The run failed with exactly one ERROR log line and no traceback; return that line."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(result.errors) == 1, result.stderr[-3000:]
    return result.errors[0]


def test_records_that_fail_their_schema_are_rejected_and_the_run_goes_on(run: Run, db: Db) -> None:
    result = run(singer_file("bad_records.jsonl"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"n": 9}]
    loaded = db.rows("lead", order_by="salesforce_id")
    assert [(r["salesforce_id"], r["name"]) for r in loaded] == [
        ("L1", "good one"),
        ("L8", "good two"),
    ]
    assert loaded[1]["employees"] == 9223372036854775807
    rejects = db.rejects()
    lines = singer_file("bad_records.jsonl").read_text(encoding="utf-8").splitlines()
    by_line = {r["line_number"]: r for r in rejects}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 10]
    for number, reject in by_line.items():
        assert reject["stream"] == "Lead"
        assert reject["raw_message"] == lines[number - 1]  # the input line, verbatim
    assert "Birthdate" in by_line[3]["reason"]
    assert "date" in by_line[3]["reason"]
    assert "Employees" in by_line[4]["reason"]
    assert "Id" in by_line[5]["reason"]
    assert "Id" in by_line[6]["reason"]
    assert "SeenAt" in by_line[7]["reason"]
    assert "Active" in by_line[8]["reason"]
    assert "Employees" in by_line[10]["reason"]


def test_fail_mode_stops_after_committing_what_came_before(run: Run, db: Db) -> None:
    props = {"id": {"type": "integer"}, "n": {"type": ["integer", "null"]}}
    messages = jsonl(
        schema_message("T", props, ["id"]),
        record("T", {"id": 1, "n": 1}),
        state({"at": 1}),
        record("T", {"id": 2, "n": 2}),
        record("T", {"id": 3, "n": "three"}),  # line 5
        record("T", {"id": 4, "n": 4}),
        state({"at": 4}),
    )
    result = run(messages, on_invalid_record="fail")
    error = _one_line_error(result)
    assert "input line 5" in error
    assert "'n'" in error
    assert result.states == [{"at": 1}]
    assert [r["id"] for r in db.rows("t", order_by="id")] == [1, 2]
    assert db.rejects() == []


def test_fail_mode_stops_on_a_missing_key(run: Run, db: Db) -> None:
    messages = jsonl(
        schema_message("T", {"id": {"type": "integer"}}, ["id"]),
        record("T", {"id": 1}),
        record("T", {}),
    )
    error = _one_line_error(run(messages, on_invalid_record="fail"))
    assert "input line 3" in error
    assert "key property 'id'" in error
    assert [r["id"] for r in db.rows("t")] == [1]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("not_json.jsonl", "input line 6: not valid JSON"),
        ("unknown_type.jsonl", "input line 6: unknown message type 'BOOKMARK'"),
        ("record_before_schema.jsonl", "input line 6: RECORD for stream 'Other' before its SCHEMA"),
    ],
)
def test_a_broken_stream_ends_the_run_after_committing_what_came_before(
    run: Run, db: Db, name: str, problem: str
) -> None:
    result = run(singer_file(name))
    error = _one_line_error(result)
    assert problem in error
    # Records 1-3 came before the bad line: committed. The STATE after record 2 is safe and
    # emitted; the one after the bad line is not.
    assert [r["id"] for r in db.rows("thing", order_by="id")] == [1, 2, 3]
    assert result.states == [{"n": 2}]


def test_a_record_that_is_not_an_object_is_a_broken_stream(run: Run, db: Db) -> None:
    messages = jsonl(
        schema_message("T", {"id": {"type": "integer"}}, ["id"]),
        {"type": "RECORD", "stream": "T", "record": [1, 2]},
    )
    assert "input line 2" in _one_line_error(run(messages))


def test_a_connection_error_is_one_line_and_never_shows_the_password(
    tmp_path: Path, pg_schema: str
) -> None:
    secret = "S3cr3t-pw-9f8e"
    config = {
        "database_url": f"postgresql://someone:{secret}@127.0.0.1:1/test",
        "default_target_schema": pg_schema,
    }
    messages = jsonl(schema_message("T", {"id": {"type": "integer"}}, ["id"]))
    result = run_target(config, messages, tmp_path)
    error = _one_line_error(result)
    assert "cannot connect to PostgreSQL" in error
    assert secret not in result.stderr
    assert secret not in result.stdout


def test_discrete_settings_work_and_the_password_is_not_logged(
    tmp_path: Path, pg_schema: str, db: Db, database_url: str
) -> None:
    secret = "an0ther-S3cret"
    parts = psycopg2.extensions.parse_dsn(database_url)
    config: dict[str, Any] = {
        "host": parts.get("host", "127.0.0.1"),
        "port": int(parts.get("port", 5432)),
        "user": parts.get("user", "postgres"),
        "password": secret,  # trust authentication ignores it; it must still never be shown
        "database": parts.get("dbname", "test"),
        "sslmode": "disable",
        "default_target_schema": pg_schema,
    }
    messages = jsonl(
        schema_message("T", {"id": {"type": "integer"}}, ["id"]), record("T", {"id": 7})
    )
    result = run_target(config, messages, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["id"] for r in db.rows("t")] == [7]
    assert secret not in result.stderr


def test_about_marks_secrets_and_shows_no_values() -> None:
    about = subprocess.run(
        [str(TARGET_BIN), "--about", "--format=json"], capture_output=True, check=True, text=True
    )
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert settings["database_url"].get("secret") is True
    assert settings["password"].get("secret") is True
    assert settings["default_target_schema"]["default"] == "public"
    assert settings["key_column_map"]["default"] == {"Id": "salesforce_id"}
    assert settings["on_invalid_record"]["default"] == "reject"
    assert "load_method" not in settings  # not honoured, so not offered


def test_rows_postgresql_refuses_are_isolated_and_the_rest_of_the_batch_loads(
    run: Run, db: Db
) -> None:
    # A table made by someone else: its varchar(5) is stricter than the stream's schema, and an
    # ISO week date passes Python's check but not PostgreSQL's. Only those rows are rejected.
    db.execute(
        sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, code varchar(5), day date)").format(
            sql.Identifier(db.schema, "legacy")
        )
    )
    props = {
        "id": {"type": "integer"},
        "code": {"type": ["string", "null"]},
        "day": {"type": ["string", "null"], "format": "date"},
    }
    good = [record("legacy", {"id": i, "code": f"c{i}", "day": "2024-01-02"}) for i in range(50)]
    messages = jsonl(
        schema_message("legacy", props, ["id"]),
        *good[:20],
        record("legacy", {"id": 100, "code": "far too long", "day": None}),  # line 22
        *good[20:40],
        record("legacy", {"id": 101, "code": "ok", "day": "2024-W01-1"}),  # line 43
        *good[40:],
        state({"n": 52}),
    )
    result = run(messages, add_record_metadata=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"n": 52}]
    assert [r["id"] for r in db.select("id", "legacy", order_by="id")] == list(range(50))
    rejects = db.rejects()
    assert [r["line_number"] for r in rejects] == [22, 43]
    assert all(r["reason"].startswith("PostgreSQL refused the row") for r in rejects)
    assert "character varying(5)" in rejects[0]["reason"]
    assert json.loads(rejects[0]["raw_message"])["code"] == "far too long"
    assert db.columns("legacy")["code"] == "character varying(5)"  # someone else's type: kept


def test_a_row_postgresql_refuses_stops_the_run_in_fail_mode(run: Run, db: Db) -> None:
    props = {"id": {"type": "integer"}, "day": {"type": ["string", "null"], "format": "date"}}
    messages = jsonl(
        schema_message("t", props, ["id"]),
        record("t", {"id": 1, "day": "2024-01-02"}),
        record("t", {"id": 2, "day": "2024-W01-1"}),
        state({"n": 2}),
    )
    error = _one_line_error(run(messages, on_invalid_record="fail"))
    assert "input line 3" in error
    assert "PostgreSQL refused" in error
    assert db.rejects() == []
    assert [r["id"] for r in db.select("id", "t")] == [1]  # the other rows of its batch


def test_keys_equal_as_values_but_not_as_text_keep_the_last_record(run: Run, db: Db) -> None:
    props = {"at": {"type": "string", "format": "date-time"}, "v": {"type": "string"}}
    messages = jsonl(
        schema_message("k", props, ["at"]),
        record("k", {"at": "2024-01-01T00:00:00Z", "v": "first"}),
        record("k", {"at": "2024-01-01T01:00:00+01:00", "v": "second"}),
        record("k", {"at": "2024-01-02T00:00:00Z", "v": "other"}),
    )
    result = run(messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [r["v"] for r in db.select("v", "k", order_by="at")] == ["second", "other"]
    assert db.rejects() == []


def test_a_value_that_is_not_a_number_is_rejected_naming_its_column(run: Run, db: Db) -> None:
    # Numbers pass to PostgreSQL as the tap wrote them; numeric's input is the check.
    props = {"id": {"type": "integer"}, "amount": {"type": ["number", "null"]}}
    messages = (
        jsonl(
            schema_message("n", props, ["id"]),
            record("n", {"id": 1, "amount": 1.5}),
            record("n", {"id": 2, "amount": "abc"}),  # line 3
            record("n", {"id": 3, "amount": {"x": 1, "y": [2, 3]}}),  # line 4
            record("n", {"id": 4, "amount": "2.25"}),  # a decimal in a string is accepted
            state({"n": 4}),
        )
        + '{"type": "RECORD", "stream": "n", "record": {"id": 5, "amount": 12345678901234567890.123456789}}\n'
        + jsonl(state({"n": 5}))
    )
    result = run(messages)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.states == [{"n": 5}]
    loaded = db.select("id, amount::text AS amount", "n", order_by="id")
    assert [(r["id"], r["amount"]) for r in loaded] == [
        (1, "1.5"),
        (4, "2.25"),
        (5, "12345678901234567890.123456789"),
    ]
    rejects = db.rejects()
    assert [r["line_number"] for r in rejects] == [3, 4]
    assert 'invalid input syntax for type numeric: "abc" (column amount)' in rejects[0]["reason"]
    assert json.loads(rejects[0]["raw_message"])["amount"] == "abc"
    assert json.loads(rejects[1]["raw_message"])["amount"] == {"x": 1, "y": [2, 3]}


def test_a_reject_names_the_property_as_the_record_spells_it(run: Run, db: Db) -> None:
    # Found by the torture suite's hypothesis streams: the column is folded to lower case ('Ü' ->
    # 'ü') and msgspec's quoting was stripped with the property's own backticks.
    props = {
        "id": {"type": "integer"},
        "Betrag_Ü": {"type": ["number", "null"]},
        "n`um": {"type": ["integer", "null"]},
    }
    messages = jsonl(
        schema_message("u", props, ["id"]),
        record("u", {"id": 1, "Betrag_Ü": 1.5, "n`um": 1}),
        record("u", {"id": 2, "Betrag_Ü": "abc", "n`um": 2}),  # line 3: PostgreSQL refuses
        record("u", {"id": 3, "Betrag_Ü": 2.5, "n`um": True}),  # line 4: the schema refuses
    )
    result = run(messages)
    assert result.returncode == 0, result.stderr[-3000:]
    reasons = {r["line_number"]: r["reason"] for r in db.rejects()}
    assert "(property 'Betrag_Ü', column betrag_ü)" in reasons[3]
    assert reasons[4].startswith("property 'n`um': expected int | null, got bool")
