"""The torture suite's batch-lane checks can fail: a STATE after a BATCH whose rows are not in
the table is caught, the tee keeps every named file although the reader deletes it at once, and
a run that leaves its files or names one twice is a problem."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql

from tests.torture.claims import state_claim_problems
from tests.torture.lanes import BatchLedger
from tests.torture.pipeline import BATCH_TEE

STAMP = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def _parquet(path: Path, ids: list[str]) -> Path:
    table = pa.table(
        {
            "Id": ids,
            "SystemModstamp": pa.array([STAMP] * len(ids), pa.timestamp("ms", tz="UTC")),
            "IsDeleted": [False] * len(ids),
        }
    )
    pq.write_table(table, path)
    return path


def _batch(path: Path) -> str:
    message = {"type": "BATCH", "stream": "Contact", "encoding": {"format": "parquet"}}
    return json.dumps({**message, "manifest": [path.as_uri()]}) + "\n"


def _state(n: int) -> str:
    return json.dumps({"type": "STATE", "value": {"n": n}}) + "\n"


def test_a_state_after_batch_rows_missing_from_the_table_is_a_problem(
    tmp_path: Path, pg_conn: psycopg2.extensions.connection, pg_schema: str
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    first = _parquet(archive / "a-00001.parquet", ["003A", "003B"])
    second = _parquet(archive / "a-00002.parquet", ["003C"])
    tap_out = tmp_path / "tap.out"
    tap_out.write_text(_batch(first) + _state(1) + _batch(second) + _state(2))
    table = sql.Identifier(pg_schema, "contact")
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE TABLE {} (salesforce_id text, system_modstamp timestamptz)").format(
                table
            )
        )
        cur.execute(
            sql.SQL("INSERT INTO {} VALUES ('003A', %s), ('003B', %s)").format(table),
            (STAMP, STAMP),
        )

    def problems(state: int) -> list[str]:
        return state_claim_problems(
            pg_conn, pg_schema, tap_out, [{"n": state}], batch_archive=archive
        )

    assert problems(1) == []
    found = problems(2)
    assert len(found) == 1
    assert "003C" in found[0]
    second.unlink()  # a file the tee did not keep cannot be vouched for
    assert problems(2) == [
        "cannot check the STATE's claims: BATCH file a-00002.parquet was not kept by the batch tee"
    ]


def test_the_tee_keeps_each_named_file_before_the_reader_can_delete_it(tmp_path: Path) -> None:
    root = tmp_path / "batches"
    root.mkdir()
    files = [_parquet(root / f"f-{n}.parquet", [f"003{n}"]) for n in range(3)]
    lines = "".join(_batch(f) + _state(n) for n, f in enumerate(files))
    deleting_reader = (
        "import json, sys, pathlib\n"
        "for line in sys.stdin:\n"
        "    m = json.loads(line)\n"
        "    for u in m.get('manifest', []): pathlib.Path(u[7:]).unlink()\n"
        "    sys.stdout.write(line)\n"
    )
    tee = subprocess.Popen(
        [sys.executable, str(BATCH_TEE), str(tmp_path / "tap.out"), str(tmp_path / "archive")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert tee.stdin is not None
    tee.stdin.write(lines.encode())  # a few hundred bytes: the pipe holds them
    tee.stdin.close()
    reader = subprocess.run(
        [sys.executable, "-c", deleting_reader],
        stdin=tee.stdout,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert tee.wait(timeout=30) == 0
    assert reader.stdout == lines
    assert (tmp_path / "tap.out").read_text() == lines
    assert list(root.iterdir()) == []
    kept = sorted(p.name for p in (tmp_path / "archive").iterdir())
    assert kept == [f.name for f in files]


def test_the_ledger_flags_files_left_by_a_successful_run_and_files_named_twice(
    tmp_path: Path,
) -> None:
    root = tmp_path / "batches"
    root.mkdir()
    ledger = BatchLedger(root)
    ledger.start_run()
    left_by_a_kill = _parquet(root / "k-00001.parquet", ["003K"])
    tap_out = tmp_path / "tap.out"
    tap_out.write_text(_batch(left_by_a_kill) + _state(1))
    assert ledger.check_run(False, tap_out) == []  # a killed run may leave its files

    ledger.start_run()
    _parquet(root / "r-00001.parquet", ["003R"])  # this run's file, never removed
    tap_out.write_text(_batch(left_by_a_kill) + _state(2))
    found = ledger.check_run(True, tap_out)
    assert found == [
        "BATCH file k-00001.parquet named twice (loaded again after a rerun)",
        "a successful run left 1 batch files: r-00001.parquet",
    ]
    assert ledger.left() == ["k-00001.parquet", "r-00001.parquet"]
