"""Each plugin declares exactly the SDK capabilities it honours, each one proved by a behaviour.

``HONOURED`` maps every capability a plugin declares (``--about``) to the test below that shows
the behaviour; ``LEFT_OUT`` says why each other SDK capability is not declared. The first tests
hold the declarations to these two tables (so a capability added to a plugin without a
behaviour test, or an SDK capability nobody decided about, fails); the rest are the behaviours,
run on the real CLIs against the emulator and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities, TargetCapabilities

from tests.fake_salesforce import FakeSalesforce
from tests.integration.batch_files import manifest_paths, sdk_batches
from tests.integration.conftest import (
    Db,
    TargetRun,
    jsonl,
    record,
    schema_message,
    state,
)
from tests.integration.tap_runner import run_tap, tap_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TAP = "tap-salesforce-bulk"
TARGET = "target-postgres-upsert"
ABOUT_TIMEOUT_SECONDS = 120

# The fields Meltano's `singer-sdk` log parser needs in every line (meltano/core/logging/parsers.py).
STRUCTURED_LOG_FIELDS = {"level", "pid", "logger_name", "ts", "thread_name", "app_name", "message"}
STRUCTURED_LOG_CONFIG = """\
version: 1
disable_existing_loggers: false
formatters:
  structured:
    (): singer_sdk.logging.StructuredFormatter
handlers:
  stderr:
    class: logging.StreamHandler
    formatter: structured
    stream: ext://sys.stderr
root:
  level: INFO
  handlers: [stderr]
"""

LEFT_OUT: dict[str, dict[str, str]] = {
    TAP: {
        "activate-version": (
            "the tap does not honour emit_activate_version_messages: an object stream's "
            "ACTIVATE_VERSION would make a target delete every row an incremental run did not "
            "re-read (its Id set streams send their own, marked x-singer-id-set)"
        ),
        "log-based": "Salesforce has no log-based replication through Bulk API 2.0",
        "properties": "the deprecated form of catalog, which the tap declares instead",
        "schema-flattening": (
            "every record is flat (Bulk API 2.0 cannot return compound fields), so there is "
            "nothing to flatten; the settings are not offered"
        ),
    },
    TARGET: {
        "validate-records": (
            "no validate_records setting: every value is always checked against its column "
            "type (bad records go to _sdc_rejected_records), never by JSON Schema validation"
        ),
    },
}


@cache
def about(plugin: str) -> dict[str, Any]:
    """``PLUGIN --about --format=json`` (run once per plugin)."""
    completed = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=ABOUT_TIMEOUT_SECONDS,
        check=True,
    )
    info: dict[str, Any] = json.loads(completed.stdout)
    return info


def sdk_capabilities(plugin: str) -> set[str]:
    """Every capability the SDK defines for a tap (or a target)."""
    kinds = [PluginCapabilities, TapCapabilities if plugin == TAP else TargetCapabilities]
    return {str(member.value) for kind in kinds for member in kind}


def structured_log_problems(stderr: str) -> list[str]:
    """Lines of ``stderr`` that Meltano's singer-sdk log parser would not read."""
    problems = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            problems.append(line)
            continue
        if not isinstance(data, dict) or not set(data) >= STRUCTURED_LOG_FIELDS:
            problems.append(line)
    return problems


# --- the tap's behaviours -----------------------------------------------------------------------


@pytest.fixture
def salesforce(make_fake_salesforce: Callable[..., FakeSalesforce]) -> FakeSalesforce:
    return make_fake_salesforce(contacts=300, accounts=30, seed=5)


def test_tap_about_lists_settings_with_secrets_marked() -> None:
    info = about(TAP)
    assert info["name"] == TAP
    properties = info["settings"]["properties"]
    assert properties["private_key"].get("secret") is True
    assert "objects" in properties


def test_tap_discover_prints_a_catalog_without_a_bulk_job(salesforce: FakeSalesforce) -> None:
    run = run_tap(tap_config(salesforce, objects=["Contact", "Account"]), args=("--discover",))
    streams = {s["tap_stream_id"]: s for s in json.loads(run.stdout)["streams"]}
    assert {"Contact", "Account"} <= set(streams)
    assert streams["Contact"]["replication_key"] == "SystemModstamp"
    assert salesforce.counters["jobs_created"] == 0


def test_tap_catalog_selects_streams_and_fields(salesforce: FakeSalesforce) -> None:
    config = tap_config(salesforce, objects=["Contact", "Account"])
    catalog = json.loads(run_tap(config, args=("--discover",)).stdout)
    wanted = {"Id", "LastName", "SystemModstamp"}
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            crumb = item["breadcrumb"]
            if not crumb:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "Contact"
            else:
                item["metadata"]["selected"] = crumb[1] in wanted
    run = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in run.messages if m["type"] == "RECORD"} == {"Contact"}
    assert {frozenset(r) for r in run.records("Contact")} == {frozenset(wanted)}


def test_tap_state_resumes_from_the_bookmark(salesforce: FakeSalesforce) -> None:
    config = tap_config(salesforce)
    first = run_tap(config)
    assert len(first.records("Contact")) == len(list(salesforce.truth("Contact")))
    changed = salesforce.update_records("Contact", count=5, fields={"Title": "Moved"})
    second = run_tap(config, state=first.last_state)
    ids = {r["Id"] for r in second.records("Contact")}
    assert set(changed) <= ids
    assert len(ids) < len(first.records("Contact")) // 2, "only what changed since the bookmark"


def test_tap_test_flag_reads_one_record_per_stream_without_a_bulk_job(
    salesforce: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(salesforce, objects=["Contact", "Account"]), args=("--test",))
    assert len(run.records("Contact")) == 1
    assert len(run.records("Account")) == 1
    assert salesforce.counters["jobs_created"] == 0


def test_tap_stream_maps_rename_drop_and_add_properties(salesforce: FakeSalesforce) -> None:
    maps = {"Contact": {"__alias__": "people", "Email": "__NULL__", "contact_id": "Id"}}
    run = run_tap(tap_config(salesforce, stream_maps=maps))
    records = run.records("people")
    assert len(records) == len(list(salesforce.truth("Contact")))
    assert all("Email" not in r and r["contact_id"] == r["Id"] for r in records)


def test_tap_structured_logging_is_json_meltano_can_parse(
    salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    log_config = tmp_path / "logging.yml"
    log_config.write_text(STRUCTURED_LOG_CONFIG)
    run = run_tap(tap_config(salesforce), env={"SINGER_SDK_LOG_CONFIG": str(log_config)})
    assert run.records("Contact")
    assert run.stderr.strip()
    assert not structured_log_problems(run.stderr)


def test_tap_batch_config_sends_files_a_target_loads(
    salesforce: FakeSalesforce, tmp_path: Path, run: Callable[..., TargetRun], db: Db
) -> None:
    files = tmp_path / "files"
    encoding = {"format": "jsonl", "compression": "gzip"}
    batch_config = {"encoding": encoding, "storage": {"root": str(files)}, "batch_size": 100}
    tap = run_tap(tap_config(salesforce, page_size=150, batch_config=batch_config))
    assert not tap.records("Contact")
    batches = [m for m in tap.messages if m["type"] == "BATCH"]
    live = len(list(salesforce.truth("Contact")))
    pages = [min(150, live - start) for start in range(0, live, 150)]
    assert len(batches) == sum(-(-rows // 100) for rows in pages), "files of <= 100 rows per page"
    assert all(m["encoding"] == encoding for m in batches)
    assert run(tap.stdout).returncode == 0
    ids = {row["salesforce_id"] for row in db.select("salesforce_id", "contact")}
    assert ids == {row["Id"] for row in salesforce.truth("Contact")}
    assert not any(files.iterdir()), "the target removed the files once loaded"


# --- the target's behaviours --------------------------------------------------------------------

THING = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}


def test_target_about_lists_settings_with_secrets_marked() -> None:
    info = about(TARGET)
    assert info["name"] == TARGET
    assert info["settings"]["properties"]["password"].get("secret") is True


def test_target_stream_maps_rename_the_table_and_drop_a_column(
    run: Callable[..., TargetRun], db: Db
) -> None:
    messages = jsonl(
        schema_message("things", {**THING, "secret": {"type": ["string", "null"]}}, ["id"]),
        record("things", {"id": 1, "name": "a", "secret": "s"}),
    )
    maps = {"things": {"__alias__": "renamed", "secret": "__NULL__"}}
    assert run(messages, stream_maps=maps).returncode == 0
    assert db.tables() == {"renamed"}
    assert "secret" not in db.columns("renamed")


def test_target_schema_flattening_makes_columns_of_nested_properties(
    run: Callable[..., TargetRun], db: Db
) -> None:
    nested = {"type": "object", "properties": {"city": {"type": "string"}}}
    messages = jsonl(
        schema_message("things", {**THING, "address": nested}, ["id"]),
        record("things", {"id": 1, "name": "a", "address": {"city": "Lyon"}}),
    )
    assert run(messages, flattening_enabled=True, flattening_max_depth=1).returncode == 0
    assert db.select("address__city", "things") == [{"address__city": "Lyon"}]


def test_target_structured_logging_is_json_meltano_can_parse(
    run: Callable[..., TargetRun], tmp_path: Path
) -> None:
    log_config = tmp_path / "logging.yml"
    log_config.write_text(STRUCTURED_LOG_CONFIG)
    messages = jsonl(schema_message("things", THING, ["id"]), record("things", {"id": 1}))
    result = run(messages, env={"SINGER_SDK_LOG_CONFIG": str(log_config)})
    assert result.returncode == 0
    assert result.stderr.strip()
    assert not structured_log_problems(result.stderr)


def test_target_activate_version_marks_rows_of_older_versions(
    run: Callable[..., TargetRun], db: Db
) -> None:
    messages = jsonl(
        schema_message("things", THING, ["id"]),
        record("things", {"id": 1}, version=1),
        record("things", {"id": 2}, version=1),
        {"type": "ACTIVATE_VERSION", "stream": "things", "version": 1},
        record("things", {"id": 2}, version=2),
        {"type": "ACTIVATE_VERSION", "stream": "things", "version": 2},
    )
    assert run(messages).returncode == 0
    rows = db.select("id, _sdc_deleted_at IS NOT NULL AS gone", "things", order_by="id")
    assert rows == [{"id": 1, "gone": True}, {"id": 2, "gone": False}]


def test_target_soft_delete_keeps_the_row_with_a_deletion_time(
    run: Callable[..., TargetRun], db: Db
) -> None:
    schema = {**THING, "IsDeleted": {"type": "boolean"}}
    messages = jsonl(
        schema_message("things", schema, ["id"]),
        record("things", {"id": 1, "IsDeleted": False}),
        record("things", {"id": 2, "IsDeleted": True}),
    )
    assert run(messages).returncode == 0
    rows = db.select("id, _sdc_deleted_at IS NOT NULL AS gone", "things", order_by="id")
    assert rows == [{"id": 1, "gone": False}, {"id": 2, "gone": True}]


def test_target_hard_delete_removes_the_row(run: Callable[..., TargetRun], db: Db) -> None:
    schema = {**THING, "IsDeleted": {"type": "boolean"}}
    first = jsonl(
        schema_message("things", schema, ["id"]),
        record("things", {"id": 1, "IsDeleted": False}),
        record("things", {"id": 2, "IsDeleted": False}),
    )
    assert run(first, hard_delete=True).returncode == 0
    second = jsonl(
        schema_message("things", schema, ["id"]), record("things", {"id": 2, "IsDeleted": True})
    )
    assert run(second, hard_delete=True).returncode == 0
    assert db.select("id", "things") == [{"id": 1}]


def test_target_schema_setting_creates_and_loads_that_schema(
    run: Callable[..., TargetRun], db: Db, pg_schema: str
) -> None:
    other = f"{pg_schema}_other"
    try:
        messages = jsonl(schema_message("things", THING, ["id"]), record("things", {"id": 7}))
        assert run(messages, default_target_schema=other).returncode == 0
        assert Db(db.conn, other).select("id", "things") == [{"id": 7}]
        assert "things" not in db.tables()
    finally:
        db.execute(f'DROP SCHEMA IF EXISTS "{other}" CASCADE')


def test_target_datatype_failsafe_loads_schemas_it_cannot_type(
    run: Callable[..., TargetRun], db: Db
) -> None:
    properties = {
        "id": {"type": "integer"},
        "shape": {"type": ["geometry", "null"]},  # not a JSON Schema type
        "anything": {},  # no type at all
        "linked": {"$ref": "#/definitions/elsewhere"},  # a reference we do not follow
    }
    messages = jsonl(
        schema_message("things", properties, ["id"]),
        record("things", {"id": 1, "shape": "POINT(1 2)", "anything": {"a": [1]}, "linked": 5}),
        state({"done": True}),
    )
    result = run(messages)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.states == [{"done": True}]
    assert db.rejects() == []
    row = db.select("shape, anything, linked", "things")
    assert row == [{"shape": "POINT(1 2)", "anything": {"a": [1]}, "linked": 5}]


def test_target_batch_loads_the_files_a_batch_message_names(
    run: Callable[..., TargetRun], db: Db, tmp_path: Path
) -> None:
    things = [{"id": n, "name": f"thing {n}"} for n in range(1, 4)]
    batches = sdk_batches(tmp_path / "batches", "things", things, fmt="jsonl")
    schema = {**THING, "name": {"type": ["string", "null"]}}
    messages = jsonl(schema_message("things", schema, ["id"]), *batches, state({"done": True}))
    result = run(messages)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.states == [{"done": True}]
    assert db.select("id, name", "things", order_by="id") == things
    assert not any(path.exists() for path in manifest_paths(batches))  # removed once committed


# --- the declarations ---------------------------------------------------------------------------

HONOURED: dict[str, dict[str, Callable[..., None]]] = {
    TAP: {
        "about": test_tap_about_lists_settings_with_secrets_marked,
        "discover": test_tap_discover_prints_a_catalog_without_a_bulk_job,
        "catalog": test_tap_catalog_selects_streams_and_fields,
        "state": test_tap_state_resumes_from_the_bookmark,
        "test": test_tap_test_flag_reads_one_record_per_stream_without_a_bulk_job,
        "batch": test_tap_batch_config_sends_files_a_target_loads,
        "stream-maps": test_tap_stream_maps_rename_drop_and_add_properties,
        "structured-logging": test_tap_structured_logging_is_json_meltano_can_parse,
    },
    TARGET: {
        "about": test_target_about_lists_settings_with_secrets_marked,
        "stream-maps": test_target_stream_maps_rename_the_table_and_drop_a_column,
        "schema-flattening": test_target_schema_flattening_makes_columns_of_nested_properties,
        "structured-logging": test_target_structured_logging_is_json_meltano_can_parse,
        "activate-version": test_target_activate_version_marks_rows_of_older_versions,
        "soft-delete": test_target_soft_delete_keeps_the_row_with_a_deletion_time,
        "hard-delete": test_target_hard_delete_removes_the_row,
        "target-schema": test_target_schema_setting_creates_and_loads_that_schema,
        "datatype-failsafe": test_target_datatype_failsafe_loads_schemas_it_cannot_type,
        "batch": test_target_batch_loads_the_files_a_batch_message_names,
    },
}


@pytest.mark.parametrize("plugin", [TAP, TARGET])
def test_declared_capabilities_are_exactly_those_with_a_behaviour_test(plugin: str) -> None:
    declared = set(about(plugin)["capabilities"])
    proved = set(HONOURED[plugin])
    assert declared == proved, (
        f"{plugin} declares {sorted(declared - proved)} without a behaviour test here, "
        f"and has behaviour tests for {sorted(proved - declared)} it does not declare"
    )


@pytest.mark.parametrize("plugin", [TAP, TARGET])
def test_every_sdk_capability_is_declared_or_left_out_with_a_reason(plugin: str) -> None:
    undecided = sdk_capabilities(plugin) - set(HONOURED[plugin]) - set(LEFT_OUT[plugin])
    assert not undecided, (
        f"singer-sdk defines {sorted(undecided)}: declare them in {plugin} with a behaviour test, "
        "or add them to LEFT_OUT with the reason"
    )
    both = set(HONOURED[plugin]) & set(LEFT_OUT[plugin])
    assert not both, f"{sorted(both)} are both honoured and left out for {plugin}"


def meltano_capabilities(path: Path, plugin: str) -> list[str]:
    """The ``capabilities`` a meltano.yml gives a plugin."""
    project: Mapping[str, Any] = yaml.safe_load(path.read_text())
    for plugins in project["plugins"].values():
        for entry in plugins:
            if entry["name"] == plugin:
                return list(entry.get("capabilities", []))
    raise AssertionError(f"{path} has no plugin named {plugin}")


@pytest.mark.parametrize("plugin", [TAP, TARGET])
def test_meltano_yml_declares_the_plugins_capabilities(plugin: str) -> None:
    declared = meltano_capabilities(ROOT / "meltano.yml", plugin)
    assert sorted(declared) == sorted(about(plugin)["capabilities"]), (
        f"meltano.yml gives {plugin} {sorted(declared)}; --about says "
        f"{sorted(about(plugin)['capabilities'])}"
    )
