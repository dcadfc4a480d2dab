"""Without Meltano: state files across runs, and the tap piped into third-party Singer targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
from psycopg2 import sql

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import TAP, tap_config

ROOT = Path(__file__).resolve().parents[2]
TARGET = str(Path(sys.executable).parent / "target-postgres-upsert")
PIPE_TIMEOUT_SECONDS = 600


def third_party(name: str, requirement: str, executable: str) -> str:
    """A third-party Singer plugin from PyPI in its own venv under .tools/ (installed once)."""
    venv = ROOT / ".tools" / name
    binary = venv / "bin" / executable
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *requirement.split()],
            check=True,
            capture_output=True,
        )
    return str(binary)


def pipe(tap_args: list[str], target_args: list[str], cwd: Path) -> str:
    """``tap ... | target ...``; returns the target's stdout. Both must exit 0."""
    tap = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd)
    target = subprocess.run(
        target_args,
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=PIPE_TIMEOUT_SECONDS,
        check=False,
    )
    assert tap.stdout is not None
    tap.stdout.close()
    assert tap.wait(timeout=60) == 0, "the tap failed"
    assert target.returncode == 0, target.stderr[-3000:]
    return target.stdout


def write(path: Path, value: dict[str, Any]) -> str:
    path.write_text(json.dumps(value))
    return str(path)


def table(database_url: str, schema: str, table_name: str = "contact") -> dict[str, str | None]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT salesforce_id, title FROM {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table_name)
            )
        )
        return dict(cur.fetchall())


@pytest.mark.e2e
def test_state_files_drive_three_incremental_runs(
    make_fake_salesforce: Any, database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    sf: FakeSalesforce = make_fake_salesforce(contacts=3_000, accounts=50, seed=21)
    tap_json = write(tmp_path / "tap.json", tap_config(sf, page_size=1000))
    target_json = write(
        tmp_path / "target.json",
        {"database_url": database_url, "default_target_schema": pg_schema},
    )
    state_args: list[str] = []
    for run, changes in enumerate((0, 30, 7), start=1):
        changed = (
            sf.update_records("Contact", count=changes, fields={"Title": f"run {run}"})
            if changes
            else []
        )
        sf.reset_counters()
        out = pipe(
            [TAP, "--config", tap_json, *state_args], [TARGET, "--config", target_json], tmp_path
        )
        last_line = out.strip().splitlines()[-1]
        state_file = tmp_path / "state.json"
        state_file.write_text(last_line)  # the last STATE line is the new state file
        state_args = ["--state", str(state_file)]
        loaded = table(database_url, pg_schema)
        assert loaded == {row["Id"]: row["Title"] for row in sf.truth("Contact")}
        assert all(loaded[i] == f"run {run}" for i in changed)
        if run > 1:
            assert sf.counters["rows_served"] < 100, f"run {run} read only what changed"
        bookmark = json.loads(last_line)["bookmarks"]["Contact"]
        assert bookmark["replication_key_value"]
        assert bookmark["bulk_job"]["id"] is None


@pytest.mark.e2e
def test_tap_output_loads_into_target_jsonl(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    target_jsonl = third_party("target-jsonl", "target-jsonl==0.1.4", "target-jsonl")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    tap_json = write(tmp_path / "tap.json", tap_config(fake_salesforce))
    target_json = write(
        tmp_path / "target.json", {"destination_path": str(out_dir), "do_timestamp_file": False}
    )
    pipe([TAP, "--config", tap_json], [target_jsonl, "--config", target_json], tmp_path)
    lines = (out_dir / "Contact.jsonl").read_text().splitlines()
    ids = {json.loads(line)["Id"] for line in lines}
    assert ids == {row["Id"] for row in fake_salesforce.truth("Contact")}


@pytest.mark.e2e
def test_tap_output_loads_into_meltanolabs_target_postgres(
    fake_salesforce: FakeSalesforce, database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    target = third_party(
        "meltanolabs-target-postgres", "meltanolabs-target-postgres==0.8.1", "target-postgres"
    )
    url = urlsplit(database_url)
    tap_json = write(tmp_path / "tap.json", tap_config(fake_salesforce))
    target_json = write(
        tmp_path / "target.json",
        {
            "host": url.hostname,
            "port": url.port or 5432,
            "user": url.username or "postgres",
            "password": url.password or "",
            "database": url.path.lstrip("/"),
            "default_target_schema": pg_schema,
        },
    )
    pipe([TAP, "--config", tap_json], [target, "--config", target_json], tmp_path)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL('SELECT "Id", "Title" FROM {}."Contact"').format(sql.Identifier(pg_schema))
        )
        loaded = dict(cur.fetchall())
    assert loaded == {row["Id"]: row["Title"] for row in fake_salesforce.truth("Contact")}


@pytest.mark.e2e
def test_tap_parquet_batches_load_into_meltanolabs_target_postgres(
    fake_salesforce: FakeSalesforce, database_url: str, pg_schema: str, tmp_path: Path
) -> None:
    """The batch lane's parquet files, read by the SDK's own batch reader in another target.

    pyarrow is installed beside it: the SDK reads parquet batches only with its [parquet] extra.
    """
    target = third_party(
        "meltanolabs-target-postgres-parquet",
        "meltanolabs-target-postgres==0.8.1 pyarrow==26.0.1",
        "target-postgres",
    )
    url = urlsplit(database_url)
    files = tmp_path / "batches"
    batch_config = {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": str(files)},
        "batch_size": 500,
    }
    tap_json = write(
        tmp_path / "tap.json",
        tap_config(fake_salesforce, page_size=700, batch_config=batch_config),
    )
    target_json = write(
        tmp_path / "target.json",
        {
            "host": url.hostname,
            "port": url.port or 5432,
            "user": url.username or "postgres",
            "password": url.password or "",
            "database": url.path.lstrip("/"),
            "default_target_schema": pg_schema,
        },
    )
    pipe([TAP, "--config", tap_json], [target, "--config", target_json], tmp_path)
    assert any(files.iterdir()), "the tap wrote parquet files (this target keeps them)"
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                'SELECT "Id", "Title", "HasOptedOutOfEmail", "Birthdate", "SystemModstamp" '
                'FROM {}."Contact"'
            ).format(sql.Identifier(pg_schema))
        )
        loaded = {row[0]: row[1:] for row in cur.fetchall()}
    truth = {
        row["Id"]: (
            row["Title"],
            row["HasOptedOutOfEmail"] == "true",
            row["Birthdate"],
            row["SystemModstamp"],
        )
        for row in fake_salesforce.truth("Contact")
    }
    assert loaded.keys() == truth.keys()
    for record_id, (title, opted_out, birthdate, stamp) in loaded.items():
        want = truth[record_id]
        assert (title, opted_out) == want[:2], record_id
        assert (birthdate.isoformat() if birthdate else None) == want[2], record_id
        assert stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] == want[3][:23], record_id
