"""Side streams applied to their base stream's table: x-singer-patch and x-singer-id-set."""

from __future__ import annotations

import datetime
import json
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg2.extensions
from psycopg2 import sql

from tests.integration.conftest import (
    Db,
    TargetRun,
    jsonl,
    record,
    schema_message,
    start_target,
    state,
)

Run = Callable[..., TargetRun]
UTC = datetime.UTC
WAIT_SECONDS = 30
OLD = "2024-01-01T00:00:00.000Z"
NEW = "2030-01-01T00:00:00.000Z"  # changed after the Id list was taken
LIST_TAKEN = datetime.datetime(2025, 1, 1, tzinfo=UTC)
VERSION = int(LIST_TAKEN.timestamp() * 1000)
PROPERTIES: dict[str, Any] = {
    "Id": {"type": ["string"]},
    "FirstName": {"type": ["string", "null"]},
    "LastName": {"type": ["string", "null"]},
    "Score": {"type": ["number", "null"]},
    "Birthdate": {"type": ["string", "null"], "format": "date"},
    "Formula__c": {"type": ["string", "null"]},
    "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
}


def _ok(result: TargetRun) -> TargetRun:
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _base(stream: str = "Contact", properties: Mapping[str, Any] = PROPERTIES) -> dict[str, Any]:
    return schema_message(stream, properties, ["Id"])


def _patch_schema(
    base: str = "Contact", properties: Mapping[str, Any] = PROPERTIES
) -> dict[str, Any]:
    message = schema_message(f"{base}__patch", properties, ["Id"])
    message["schema"]["x-singer-patch"] = {"stream": base}
    return message


def _id_set_schema(base: str = "Contact", id_property: str = "Id") -> dict[str, Any]:
    message = schema_message(f"{base}__ids", {id_property: {"type": ["string"]}}, [id_property])
    message["schema"]["x-singer-id-set"] = {"stream": base, "stamp_property": "SystemModstamp"}
    return message


def _ids(ids: list[str], base: str = "Contact", version: int = VERSION) -> list[dict[str, Any]]:
    """The Id set's RECORDs, then the ACTIVATE_VERSION that closes it (as the tap sends them)."""
    return [
        *(record(f"{base}__ids", {"Id": i}, version=version) for i in ids),
        {"type": "ACTIVATE_VERSION", "stream": f"{base}__ids", "version": version},
    ]


def _people(stream: str = "Contact") -> list[dict[str, Any]]:
    return [
        record(stream, {"Id": "003A", "FirstName": "Ann", "LastName": "Ash", "Score": 1,
                        "Formula__c": "f-A", "SystemModstamp": OLD}),
        record(stream, {"Id": "003B", "FirstName": "Bob", "LastName": "Birch", "Score": 2,
                        "Formula__c": "f-B", "SystemModstamp": OLD}),
        record(stream, {"Id": "003C", "FirstName": "Cy", "LastName": "Cedar", "Score": 3,
                        "Formula__c": "f-C", "SystemModstamp": NEW}),
        record(stream, {"Id": "003D", "FirstName": "Di", "LastName": "Dogwood", "Score": 4,
                        "Formula__c": "f-D", "SystemModstamp": None}),
        record(stream, {"Id": "003E", "FirstName": "Ed", "LastName": "Elm", "Score": 5,
                        "Formula__c": "f-E", "SystemModstamp": OLD,
                        "_sdc_deleted_at": "2024-05-01T00:00:00Z"}),
    ]  # fmt: skip


def _by_id(db: Db, table: str = "contact") -> dict[str, dict[str, Any]]:
    return {r["salesforce_id"]: r for r in db.rows(table)}


# --- patches ----------------------------------------------------------------------------------


def test_patch_updates_only_the_columns_each_record_holds(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    before = _by_id(db)
    result = _ok(
        run(
            jsonl(
                _patch_schema(),
                record("Contact__patch", {"Id": "003A", "Formula__c": "f-A2"}),
                record("Contact__patch", {"Id": "003B", "LastName": "Beech", "Formula__c": None}),
                record("Contact__patch", {"Id": "003C", "Formula__c": "f-C"}),  # no change
                state({"patched": True}),
            )
        )
    )
    assert result.states == [{"patched": True}]
    after = _by_id(db)
    assert after["003A"]["formula__c"] == "f-A2"
    assert after["003B"]["last_name"] == "Beech"
    assert after["003B"]["formula__c"] is None, "a null that is sent is written"
    for key, row in after.items():
        untouched = {"formula__c", "last_name"} if key in {"003A", "003B"} else set()
        assert {c: v for c, v in row.items() if c not in untouched} == {
            c: v for c, v in before[key].items() if c not in untouched
        }, key
    assert db.tables() == {"contact"}, "no table of the patch stream's own"
    (line,) = [ln for ln in result.stderr.splitlines() if "Patched" in ln]
    assert "3 records, 2 rows updated" in line


def test_patch_never_inserts_rows_the_table_lacks(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    _ok(
        run(
            jsonl(
                _patch_schema(),
                record("Contact__patch", {"Id": "003Z", "Formula__c": "ghost"}),
                record("Contact__patch", {"Id": "003A", "Formula__c": "kept"}),
            )
        )
    )
    rows = _by_id(db)
    assert sorted(rows) == ["003A", "003B", "003C", "003D", "003E"]
    assert rows["003A"]["formula__c"] == "kept"


def test_patch_in_the_same_run_as_its_base_stream_applies_after_the_base_rows(
    run: Run, db: Db
) -> None:
    _ok(
        run(
            jsonl(
                _base(),
                *_people(),
                _patch_schema(),
                *(record("Contact__patch", {"Id": f"003{c}", "Formula__c": c}) for c in "ABCDE"),
            ),
            batch_size_rows=2,
        )
    )
    assert {k: r["formula__c"] for k, r in _by_id(db).items()} == {f"003{c}": c for c in "ABCDE"}


def test_patch_rejects_bad_values_and_applies_the_rest(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    result = _ok(
        run(
            jsonl(
                _patch_schema(),
                record("Contact__patch", {"Id": "003A", "Score": "not a number"}),
                record("Contact__patch", {"Id": "003B", "Score": 20.5}),
                record("Contact__patch", {"Id": "003C", "Birthdate": "2024-W01-1"}),  # PG refuses
                record("Contact__patch", {"Id": "003D", "Birthdate": "1980-02-03"}),
                record("Contact__patch", {"Formula__c": "no key"}),
            )
        )
    )
    rows = _by_id(db)
    assert rows["003A"]["score"] == 1
    assert rows["003B"]["score"] == 20.5
    assert rows["003C"]["birthdate"] is None
    assert rows["003D"]["birthdate"] == datetime.date(1980, 2, 3)
    rejects = db.rejects()
    assert [r["stream"] for r in rejects] == ["Contact__patch"] * 3
    reasons = " / ".join(r["reason"] for r in rejects)
    assert "'Score'" in reasons
    assert "'Id'" in reasons
    assert "PostgreSQL refused the row" in reasons
    assert "3 rejected" in result.stderr


def test_patch_adds_a_column_the_table_lacks_and_fills_it(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    wider = {**PROPERTIES, "Pharmacy__c": {"type": ["string", "null"]}}
    _ok(
        run(
            jsonl(
                _patch_schema(properties=wider),
                *(record("Contact__patch", {"Id": f"003{c}", "Pharmacy__c": c}) for c in "ABCDE"),
            )
        )
    )
    assert "pharmacy__c" in db.columns("contact")
    assert {k: r["pharmacy__c"] for k, r in _by_id(db).items()} == {f"003{c}": c for c in "ABCDE"}


# --- Id sets ----------------------------------------------------------------------------------


def test_id_set_marks_rows_missing_from_it_that_did_not_change_since(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    result = _ok(run(jsonl(_id_set_schema(), *_ids(["003A"]), state({"swept": 1}))))
    assert result.states == [{"swept": 1}]
    rows = _by_id(db)
    assert rows["003A"]["_sdc_deleted_at"] is None, "in the set"
    assert rows["003B"]["_sdc_deleted_at"] is not None, "purged"
    assert rows["003C"]["_sdc_deleted_at"] is None, "changed after the list was taken"
    assert rows["003D"]["_sdc_deleted_at"] is not None, "no stamp: purged"
    assert rows["003E"]["_sdc_deleted_at"] == datetime.datetime(2024, 5, 1, tzinfo=UTC)
    assert db.tables() == {"contact"}, "the set is dropped once applied"
    (line,) = [ln for ln in result.stderr.splitlines() if "Id set" in ln and "Ids;" in ln]
    assert "1 Ids; marked deleted 2 rows" in line


def test_id_set_with_hard_delete_deletes_the_rows(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people()), hard_delete=True))
    _ok(run(jsonl(_id_set_schema(), *_ids(["003A"])), hard_delete=True))
    assert sorted(_by_id(db)) == ["003A", "003C"]


def test_an_empty_id_set_marks_every_older_row(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    _ok(run(jsonl(_id_set_schema(), *_ids([]))))
    assert {k for k, r in _by_id(db).items() if r["_sdc_deleted_at"] is None} == {"003C"}


def test_id_set_without_activate_version_marks_nothing(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    result = _ok(run(jsonl(_id_set_schema(), *_ids(["003A"])[:-1])))
    assert all(r["_sdc_deleted_at"] is None for k, r in _by_id(db).items() if k != "003E")
    assert "ended without ACTIVATE_VERSION" in result.stderr
    assert db.tables() == {"contact"}


def test_id_set_is_not_applied_when_activate_version_is_switched_off(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    result = _ok(
        run(jsonl(_id_set_schema(), *_ids(["003A"])), process_activate_version_messages=False)
    )
    assert all(r["_sdc_deleted_at"] is None for k, r in _by_id(db).items() if k != "003E")
    assert "Ignoring ACTIVATE_VERSION for 'Contact__ids'" in result.stderr


def test_ids_left_by_a_killed_run_do_not_count_in_the_next_one(
    run: Run, db: Db, target_config: dict[str, Any], tmp_path: Path
) -> None:
    _ok(run(jsonl(_base(), *_people())))
    proc = start_target({**target_config, "max_batch_age_seconds": 1}, tmp_path)
    assert proc.stdin is not None
    ids = _ids(["003A", "003B", "003D"])[:-1]
    proc.stdin.write(jsonl(_id_set_schema(), *ids, state({"n": 1})).encode())
    assert _read_state(proc) == {"n": 1}  # the Ids before it are committed
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=WAIT_SECONDS)
    (leftover,) = db.tables() - {"contact"}
    assert leftover.startswith("_sdc_ids_contact")
    assert len(db.rows(leftover)) == 3
    # The rerun's list (same version) lacks 003B and 003D: they are marked all the same.
    _ok(run(jsonl(_id_set_schema(), *_ids(["003A"]))))
    assert {k for k, r in _by_id(db).items() if r["_sdc_deleted_at"] is None} == {"003A", "003C"}
    assert db.tables() == {"contact"}


# --- both, names, unknown bases, STATE --------------------------------------------------------


def test_names_with_percent_and_quote_work(run: Run, db: Db) -> None:
    stream = 'Pa%t"ient'
    properties = {**PROPERTIES, 'Sc%ore"s': {"type": ["string", "null"]}}
    people = [record(stream, {**r["record"], 'Sc%ore"s': "old"}) for r in _people(stream)]
    _ok(run(jsonl(_base(stream, properties), *people)))
    _ok(
        run(
            jsonl(
                _patch_schema(stream, properties),
                record(f"{stream}__patch", {"Id": "003A", 'Sc%ore"s': "new %s %% '"}),
                _id_set_schema(stream),
                *_ids(["003A", "003C"], base=stream),
            )
        )
    )
    table = 'pa%t"ient'
    assert db.tables() == {table}
    rows = _by_id(db, table)
    assert rows["003A"]['sc%ore"s'] == "new %s %% '"
    assert rows["003B"]['sc%ore"s'] == "old"
    assert {k for k, r in rows.items() if r["_sdc_deleted_at"] is None} == {"003A", "003C"}


def test_side_streams_of_a_stream_not_in_this_run_use_its_table(run: Run, db: Db) -> None:
    _ok(run(jsonl(_base(), *_people())))
    _ok(
        run(
            jsonl(
                _id_set_schema(),
                *_ids(["003A", "003B", "003D"]),
                _patch_schema(),
                record("Contact__patch", {"Id": "003B", "Formula__c": "later"}),
            )
        )
    )
    rows = _by_id(db)
    assert rows["003B"]["formula__c"] == "later"
    assert {k for k, r in rows.items() if r["_sdc_deleted_at"] is None} == {
        "003A",
        "003B",
        "003C",
        "003D",
    }


def test_side_streams_without_a_table_are_skipped_with_a_warning(run: Run, db: Db) -> None:
    result = _ok(
        run(
            jsonl(
                _patch_schema("Ghost"),
                record("Ghost__patch", {"Id": "1", "Formula__c": "x"}),
                _id_set_schema("Ghost"),
                *_ids(["1"], base="Ghost"),
                state({"done": True}),
            )
        )
    )
    assert result.states == [{"done": True}]
    assert db.tables() == set()
    warnings = [ln for ln in result.stderr.splitlines() if "WARNING" in ln]
    assert any("Ghost__patch" in w and "does not exist" in w for w in warnings)
    assert any("Ghost__ids" in w and "does not exist" in w for w in warnings)


def test_state_after_side_streams_waits_for_their_commit(
    run: Run,
    db: Db,
    target_config: dict[str, Any],
    tmp_path: Path,
    pg_conn: psycopg2.extensions.connection,
) -> None:
    _ok(run(jsonl(_base(), *_people())))
    locker = psycopg2.connect(target_config["database_url"])
    with locker.cursor() as cur:  # holds every write to the table until rollback
        cur.execute(
            sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(db.schema, "contact"))
        )
    proc = start_target(target_config, tmp_path)
    assert proc.stdin is not None
    proc.stdin.write(
        jsonl(
            state({"n": 0}),
            _patch_schema(),
            record("Contact__patch", {"Id": "003A", "Formula__c": "patched"}),
            state({"n": 1}),
            _id_set_schema(),
            *_ids(["003A"]),
            state({"n": 2}),
        ).encode()
    )
    proc.stdin.flush()
    assert _read_state(proc) == {"n": 0}
    time.sleep(2)
    assert not _line_waiting(proc), "a STATE came out while its rows could not be committed"
    locker.rollback()
    proc.stdin.close()
    proc.stdin = None  # closed; communicate() must not flush it
    out, err = proc.communicate(timeout=WAIT_SECONDS)
    assert proc.returncode == 0, err.decode()[-3000:]
    assert [json.loads(line) for line in out.decode().splitlines()] == [{"n": 1}, {"n": 2}]
    rows = _by_id(db)
    assert rows["003A"]["formula__c"] == "patched"
    assert rows["003B"]["_sdc_deleted_at"] is not None
    locker.close()


def _line_waiting(proc: subprocess.Popen[bytes]) -> bool:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 0)
    return bool(ready)


def _read_state(proc: subprocess.Popen[bytes]) -> Any:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], WAIT_SECONDS)
    assert ready, "no STATE within the timeout"
    return json.loads(proc.stdout.readline())
