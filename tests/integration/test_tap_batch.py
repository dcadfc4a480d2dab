"""The tap's batch lane (``batch_config``): BATCH files with the record lane's guarantees.

Real tap over HTTP against the emulator; the tables are loaded by the real target into the test's
PostgreSQL schema and compared with the emulator's rows (``tests/torture/compare.py``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from tap_salesforce_bulk.batch_files import LEFTOVER_AGE_SECONDS, PENDING_FILES_MAX
from tests.fake_salesforce import FakeSalesforce, faults
from tests.integration.batch_lane import (
    JSONL_GZ,
    PARQUET,
    batch_config,
    batch_paths,
    batch_records,
    file_records,
)
from tests.integration.conftest import Db
from tests.integration.tap_checks import mismatches
from tests.integration.tap_runner import TAP, TARGET, TapRun, pipe, run_tap, tap_config
from tests.torture.compare import compare_table, salesforce_types

ENCODINGS = [PARQUET, JSONL_GZ]
ENCODING_IDS = ["parquet", "jsonl.gz"]
STREAMED = {"max_parallel_downloads": 1}
PREFETCHED = {"max_parallel_downloads": 3}


def assert_exact_files(run: TapRun, sf: FakeSalesforce) -> None:
    """Every Salesforce row in the run's files exactly once, with the record lane's values."""
    records = batch_records(run)
    ids = [r["Id"] for r in records]
    assert len(ids) == len(set(ids)), "no row in two files"
    props = run.schema("Contact")["schema"]["properties"]
    assert mismatches(records, sf.truth("Contact"), props) == []
    assert not run.records("Contact"), "no RECORD lines in the batch lane"


@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODING_IDS)
def test_batch_lane_loads_a_table_equal_to_salesforce(
    fake_salesforce: FakeSalesforce,
    encoding: dict[str, str],
    tmp_path: Path,
    database_url: str,
    pg_schema: str,
    pg_conn: psycopg2.extensions.connection,
) -> None:
    sf = fake_salesforce
    files = tmp_path / "batches"
    target = {"database_url": database_url, "default_target_schema": pg_schema}
    config = batch_config(files, encoding, batch_size=300)
    _, target_log, state = pipe(sf, tmp_path, target, page_size=700, batch_config=config)
    comparison = compare_table(pg_conn, pg_schema, sf.truth("Contact"), salesforce_types(sf))
    assert comparison.exact, "\n".join(comparison.summary())
    assert "BATCH file" in target_log  # the target loaded files, not records
    assert state is not None
    assert state["bookmarks"]["Contact"]["replication_key_value"]
    assert list(files.iterdir()) == [], "every file removed once loaded, no .part file left"

    # Incremental: only what changed, again as files.
    changed = sf.update_records("Contact", count=25, fields={"Title": "Batch lane"})
    pipe(sf, tmp_path, target, state=state, page_size=700, batch_config=config)
    comparison = compare_table(pg_conn, pg_schema, sf.truth("Contact"), salesforce_types(sf))
    assert comparison.exact, "\n".join(comparison.summary())
    titled = Db(pg_conn, pg_schema).query(
        sql.SQL("SELECT salesforce_id FROM {} WHERE title = %s").format(
            sql.Identifier(pg_schema, "contact")
        ),
        ("Batch lane",),
    )
    assert {row["salesforce_id"] for row in titled} == set(changed)


@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODING_IDS)
def test_files_hold_at_most_batch_size_rows_and_never_span_pages(
    fake_salesforce: FakeSalesforce, encoding: dict[str, str], tmp_path: Path
) -> None:
    sf = fake_salesforce
    config = batch_config(tmp_path, encoding, batch_size=300)
    run = run_tap(tap_config(sf, page_size=700, batch_config=config, **STREAMED))
    assert_exact_files(run, sf)
    sizes = [len(file_records(p)) for p in batch_paths(run.messages)]
    # Pages of 700 rows: 300 + 300 + 100 per page, the last page whatever is left.
    assert max(sizes) == 300
    assert sizes[:3] == [300, 300, 100]
    # STATE after a page names the next page only once that page's files are all named.
    named = 0
    for message in run.messages:
        if message["type"] == "BATCH":
            named += len(file_records(Path(message["manifest"][0].removeprefix("file://"))))
        elif message["type"] == "STATE":
            job = message["value"]["bookmarks"].get("Contact", {}).get("bulk_job")
            if job and job.get("locator"):
                assert job["records_before"] == named


def test_parquet_types_equal_the_record_lane_row_for_row(
    make_fake_salesforce: Callable[..., FakeSalesforce],
    tmp_path: Path,
    database_url: str,
    pg_conn: psycopg2.extensions.connection,
) -> None:
    """Type_Zoo__c (every odd type) and Contact through both lanes into two schemas: equal."""
    sf = make_fake_salesforce(contacts=400, accounts=20, type_zoo=300, seed=9)
    objects = ["Type_Zoo__c", "Contact"]
    schemas = {}
    for lane, extra in (
        ("record", {}),
        ("parquet", {"batch_config": batch_config(tmp_path / "p", PARQUET, 70)}),
        ("jsonl", {"batch_config": batch_config(tmp_path / "j", JSONL_GZ, 70)}),
    ):
        schema = schemas[lane] = f"t_{uuid.uuid4().hex[:10]}_{lane}"
        with pg_conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        target = {"database_url": database_url, "default_target_schema": schema}
        (tmp_path / lane).mkdir()
        pipe(sf, tmp_path / lane, target, objects=objects, page_size=150, **extra)
    try:
        db = {lane: Db(pg_conn, schema) for lane, schema in schemas.items()}
        for table in ("type_zoo__c", "contact"):
            columns = db["record"].columns(table)
            data = [c for c in columns if not c.startswith("_sdc_")]
            expected = db["record"].select(", ".join(f'"{c}"' for c in data), table, "1")
            assert len(expected) > 100
            for lane in ("parquet", "jsonl"):
                assert db[lane].columns(table) == columns, f"{lane}: {table} column types"
                rows = db[lane].select(", ".join(f'"{c}"' for c in data), table, "1")
                assert rows == expected, f"{lane}: {table} rows differ from the record lane"
    finally:
        with pg_conn.cursor() as cur:
            for schema in schemas.values():
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


@pytest.mark.parametrize("mode", [STREAMED, PREFETCHED], ids=["streamed", "prefetched"])
@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODING_IDS)
def test_broken_page_bodies_lose_and_repeat_no_row(
    make_fake_salesforce: Callable[..., FakeSalesforce],
    encoding: dict[str, str],
    mode: dict[str, int],
    tmp_path: Path,
) -> None:
    # Pages of 5,000 rows (about 6.5 MB): the break at 5 MB comes after pyarrow's first 4 MiB
    # block of the page went to files.
    sf = make_fake_salesforce(contacts=12_000, accounts=10, gzip=False)
    sf.inject(faults.MalformedCsv(on="results", nth=1))
    sf.inject(faults.DropConnection(on="results", nth=3, after_bytes=5_000_000))
    sf.inject(faults.ReorderedPage(on="results", nth=4))  # the second fetch of that page
    sf.inject(faults.ShortPage(on="results", nth=5, missing_rows=3))
    config = batch_config(tmp_path, encoding, batch_size=2_000)
    run = run_tap(tap_config(sf, page_size=5_000, batch_config=config, **mode))
    fired = sf.counters["faults_fired"]
    if mode is PREFETCHED:  # downloads run ahead: which request meets which fault varies
        assert {"DropConnection", "MalformedCsv"} <= set(fired)
    else:
        assert fired == {"MalformedCsv": 1, "DropConnection": 1, "ReorderedPage": 1, "ShortPage": 1}
        # The dropped page broke after rows were in files (a prefetched page breaks while it
        # is spooled, before any row is read).
        breaks = [line for line in run.stderr.splitlines() if "broke off after" in line]
        assert len(breaks) == 2  # the malformed page and the dropped connection
        assert any("after 0 rows" not in b for b in breaks), "a break came after rows were sent"
    assert_exact_files(run, sf)


@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODING_IDS)
def test_a_page_short_of_its_announced_rows_stops_the_run(
    fake_salesforce: FakeSalesforce, encoding: dict[str, str], tmp_path: Path
) -> None:
    sf = fake_salesforce
    sf.inject(faults.ShortPage(on="results", nth=2, missing_rows=2, times=50))
    config = batch_config(tmp_path, encoding)
    run = run_tap(tap_config(sf, page_size=500, batch_config=config, **STREAMED), check=False)
    assert run.returncode != 0
    assert "held 498 rows but Sforce-NumberOfRecords said 500" in run.stderr
    assert run.last_state is not None
    job = run.last_state["bookmarks"]["Contact"]["bulk_job"]
    assert job["records_before"] == 500, "the STATE stays before the short page"


def _kill_after_state_with_locator(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    """Run the tap, SIGKILL it once a STATE names a locator; that STATE and the files named
    before it (what a target would have loaded and committed)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        process = subprocess.Popen(
            [TAP, "--config", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        files: list[Path] = []
        for line in process.stdout:
            message = json.loads(line)
            files += batch_paths([message])
            if message["type"] == "STATE":
                job = message["value"]["bookmarks"].get("Contact", {}).get("bulk_job")
                if job and job.get("locator") and job["records_before"] >= 600:
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=60)
                    return message["value"], files
        process.wait(timeout=60)
    raise AssertionError("the tap never saved a job locator")


@pytest.mark.parametrize("encoding", ENCODINGS, ids=ENCODING_IDS)
def test_killed_batch_run_resumes_from_the_saved_locator(
    fake_salesforce: FakeSalesforce, encoding: dict[str, str], tmp_path: Path
) -> None:
    sf = fake_salesforce
    config = tap_config(
        sf, page_size=200, batch_config=batch_config(tmp_path, encoding, 150), **STREAMED
    )
    state, before_files = _kill_after_state_with_locator(config)
    saved = state["bookmarks"]["Contact"]["bulk_job"]
    before = [r["Id"] for p in before_files for r in file_records(p)]
    assert len(before) == saved["records_before"], "the STATE covers exactly the files named"
    resumed = run_tap(config, state=state)
    assert f"resuming Bulk job {saved['id']} from locator {saved['locator']}" in resumed.stderr
    after = [r["Id"] for r in batch_records(resumed)]
    truth = {str(row["Id"]) for row in sf.truth("Contact")}
    assert set(before) | set(after) == truth
    assert len(after) == len(truth) - saved["records_before"], "no row read twice"
    final = resumed.last_state
    assert final is not None
    assert final["bookmarks"]["Contact"]["bulk_job"]["id"] is None


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        (
            {"stream_maps": {"Contact": {"Email": "__NULL__"}}},
            "cannot be combined with stream_maps",
        ),
        ({"flattening_enabled": True}, "cannot be combined with flattening_enabled"),
    ],
    ids=["stream_maps", "flattening"],
)
def test_stream_maps_or_flattening_with_batch_config_stop_at_start(
    fake_salesforce: FakeSalesforce, tmp_path: Path, setting: dict[str, Any], words: str
) -> None:
    sf = fake_salesforce
    config = tap_config(sf, batch_config=batch_config(tmp_path, PARQUET), **setting)
    run = run_tap(config, check=False)
    assert run.returncode != 0
    assert words in run.stderr
    assert "Traceback" not in run.stderr
    assert sf.counters["jobs_created"] == 0
    assert not run.messages


def test_parquet_without_pyarrow_names_the_extra_to_install(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config = tap_config(fake_salesforce, batch_config=batch_config(tmp_path / "b", PARQUET))
    config_path.write_text(json.dumps(config))
    blocked = (
        "import sys; sys.modules['pyarrow'] = None; "  # as if the extra were not installed
        "from tap_salesforce_bulk.tap import TapSalesforceBulk; TapSalesforceBulk.cli()"
    )
    completed = subprocess.run(
        [sys.executable, "-c", blocked, "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0
    assert "pip install 'tap-salesforce-bulk[parquet]'" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert fake_salesforce.counters["jobs_created"] == 0


def test_side_streams_stay_records_and_reconcile_deletes_in_the_batch_lane(
    fake_salesforce: FakeSalesforce,
    tmp_path: Path,
    database_url: str,
    pg_schema: str,
    pg_conn: psycopg2.extensions.connection,
) -> None:
    sf = fake_salesforce
    target = {"database_url": database_url, "default_target_schema": pg_schema}
    config = batch_config(tmp_path / "files", PARQUET, 500)
    _, _, state = pipe(sf, tmp_path, target, page_size=700, batch_config=config)
    ids = [str(row["Id"]) for row in sf.truth("Contact")]
    purged = sf.purge_records("Contact", ids[:30])
    sf.add_field("Contact", "Loyalty_Tier__c", type="string", values=["Gold", "Silver", None])
    tap_log, _, _ = pipe(
        sf,
        tmp_path,
        target,
        state=state,
        page_size=700,
        batch_config=config,
        reconcile=["deletes"],
    )
    assert "re-reading Loyalty_Tier__c for every row (new fields)" in tap_log
    marked = Db(pg_conn, pg_schema).query(
        sql.SQL("SELECT salesforce_id FROM {} WHERE _sdc_deleted_at IS NOT NULL").format(
            sql.Identifier(pg_schema, "contact")
        )
    )
    assert {row["salesforce_id"] for row in marked} == set(purged)
    comparison = compare_table(
        pg_conn, pg_schema, sf.truth("Contact"), salesforce_types(sf), stale_ok=purged
    )
    assert comparison.exact, "\n".join(comparison.summary())


def test_files_waiting_for_the_target_stay_bounded(
    fake_salesforce: FakeSalesforce, tmp_path: Path, database_url: str, pg_schema: str
) -> None:
    """The tap writes a new file only while fewer than PENDING_FILES_MAX named files remain on
    disk (target-postgres-upsert removes each once its rows are committed)."""
    files = tmp_path / "files"
    config = tap_config(
        fake_salesforce, page_size=500, batch_config=batch_config(files, JSONL_GZ, batch_size=50)
    )
    (tmp_path / "tap.json").write_text(json.dumps(config))
    target = {"database_url": database_url, "default_target_schema": pg_schema}
    (tmp_path / "target.json").write_text(json.dumps(target))
    tap = subprocess.Popen(
        [TAP, "--config", str(tmp_path / "tap.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    loader = subprocess.Popen(
        [TARGET, "--config", str(tmp_path / "target.json")],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert tap.stdout is not None
    tap.stdout.close()
    most = 0
    while loader.poll() is None:
        if files.exists():
            most = max(most, len([p for p in files.iterdir() if not p.name.endswith(".part")]))
        time.sleep(0.01)
    assert tap.wait(timeout=60) == 0
    assert loader.returncode == 0
    assert 1 <= most <= PENDING_FILES_MAX, f"{most} files waited on disk at once"
    assert list(files.iterdir()) == []


def test_a_target_that_keeps_files_is_waited_for_once(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    config = batch_config(tmp_path, JSONL_GZ, batch_size=100)
    run = run_tap(tap_config(fake_salesforce, page_size=500, batch_config=config))
    assert len(batch_paths(run.messages)) > 2 * PENDING_FILES_MAX
    waits = [line for line in run.stderr.splitlines() if "removed no batch file" in line]
    assert len(waits) == 1, "one wait, then the run goes on without waiting"
    assert_exact_files(run, fake_salesforce)


def test_files_killed_runs_left_are_removed_once_a_day_old(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    """Crashes cannot fill the disk: the next run removes this tap's own files older than a day,
    and nothing else in the directory (a younger file may belong to a run still loading)."""
    files = tmp_path / "files"
    files.mkdir()
    stale = [
        files / "tap-salesforce-bulk--Contact-0123456789ab-00003.parquet",
        files / "tap-salesforce-bulk--Contact-0123456789ab-00004.parquet.part",
    ]
    young = files / "tap-salesforce-bulk--Contact-ba9876543210-00001.parquet"
    foreign = [files / "notes.parquet", files / "other-tap--Contact-0123456789ab-00001.parquet"]
    day_ago = time.time() - LEFTOVER_AGE_SECONDS - 60
    for path in [*stale, young, *foreign]:
        path.write_bytes(b"left by an earlier run")
        if path is not young:
            os.utime(path, (day_ago, day_ago))
    config = batch_config(files, PARQUET, batch_size=1000)
    run = run_tap(tap_config(fake_salesforce, page_size=1000, batch_config=config))
    assert not any(path.exists() for path in stale)
    assert young.exists()
    assert all(path.exists() for path in foreign)
    assert "Removed 2 batch file(s)" in run.stderr
    assert_exact_files(run, fake_salesforce)


# Reads the tap's output and removes the first file a BATCH names (as a target that loaded it).
# After the fifth BATCH the tap has PENDING_FILES_MAX files on disk and waits for a removal; the
# reader then dies, as a target killed while the tap waits.
_DYING_TARGET = """
import json, os, sys, time
seen = 0
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "BATCH":
        seen += 1
        if seen == 1:
            os.remove(message["manifest"][0].removeprefix("file://"))
        if seen == PENDING_FILES_MAX + 1:
            time.sleep(1.0)
            sys.exit(0)
"""


def test_the_tap_stops_at_once_when_the_target_dies_while_it_waits(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    """Waiting for the target to remove files, the tap writes nothing, so no broken pipe would
    tell it the target is gone: it looks, instead of waiting minutes for a dead target."""
    config = tap_config(
        fake_salesforce,
        page_size=500,
        batch_config=batch_config(tmp_path / "files", JSONL_GZ, batch_size=50),
    )
    (tmp_path / "tap.json").write_text(json.dumps(config))
    tap = subprocess.Popen(
        [TAP, "--config", str(tmp_path / "tap.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    script = _DYING_TARGET.replace("PENDING_FILES_MAX", str(PENDING_FILES_MAX))
    reader = subprocess.Popen([sys.executable, "-c", script], stdin=tap.stdout)
    assert tap.stdout is not None
    tap.stdout.close()
    assert reader.wait(timeout=60) == 0
    started = time.monotonic()
    _, stderr = tap.communicate(timeout=120)
    assert time.monotonic() - started < 20, "the tap waited for a target that was gone"
    assert tap.returncode == 1
    assert "The target stopped reading the tap's output" in stderr
    assert "Traceback" not in stderr
