"""What an adopting data engineer does, outside this repository, with the real ``meltano``.

A new Meltano project is made with ``meltano init`` in a temporary directory; both plugins are
added from the Hub-style definitions in ``hub/`` (``meltano add --from-ref``), installed from
this repository by a ``git+file://`` URL with ``#subdirectory=`` as a user would from its git
URL. Like any git URL it installs the committed code (HEAD), not uncommitted changes: commit
before running this file locally (CI runs on a clean checkout). Then:

* one pipeline runs against the emulator: the table holds Salesforce's data, and the column of
  ``Contact.NPI__c`` carries its label and help text as a comment;
* the README's scaling layout runs side by side: one inherited extractor and one job per object
  (Contact, Account and the custom object ``License__c``), state kept in a shared state backend
  (``state_backend.uri: file://...``), all three jobs at once into one database, plus a second,
  overlapping run of the Contact job from a second worker (a copy of the project sharing the
  installed plugins and the state backend, as a second machine of an orchestrator would: two runs
  of one extractor in one project directory share Meltano's catalog file,
  https://github.com/meltano/meltano/issues/8763). Every run must succeed, every table must equal
  the emulator's data, and each saved state must be a safe bookmark: an incremental run after
  more changes in Salesforce reads only those and makes the tables equal again.

Added time: about 40 s for the project and the two installs (uv caches the dependencies), then
about 2 minutes for the runs on 2 busy cores (Meltano's own start-up, four times at once, is
most of it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg2 import sql

from tests.e2e.conftest import meltano_executable
from tests.fake_salesforce import FakeSalesforce

ROOT = Path(__file__).resolve().parents[2]
MELTANO_TIMEOUT_SECONDS = 900
PLUGINS = {
    "tap-salesforce-bulk": ("extractor", ROOT / "hub" / "extractors" / "tap-salesforce-bulk.yml"),
    "target-postgres-upsert": ("loader", ROOT / "hub" / "loaders" / "target-postgres-upsert.yml"),
}
# One inherited extractor (and so one state ID) and one job per object, as the README shows.
JOBS = {"contact": "Contact", "account": "Account", "license": "License__c"}
TABLES = {"Contact": "contact", "Account": "account", "License__c": "license__c"}


@dataclass
class Project:
    """A Meltano project made from nothing, and how to run ``meltano`` in it."""

    path: Path
    executable: str
    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        return [self.executable, *args]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            self.command(*args),
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=MELTANO_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, (
            f"meltano {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr[-6000:]}"
        )
        return completed


def definition_for_this_checkout(source: Path, destination: Path) -> Path:
    """The Hub definition with ``pip_url`` pointing at this repository through ``git+file://``."""
    definition = yaml.safe_load(source.read_text())
    subdirectory = definition["pip_url"].rsplit("#subdirectory=", 1)[1]
    definition["pip_url"] = f"git+file://{ROOT}#subdirectory={subdirectory}"
    destination.write_text(yaml.safe_dump(definition, sort_keys=False))
    return destination


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """``meltano init``, both plugins added from ``hub/``, one inherited extractor and job per
    object; outside the repository."""
    base = tmp_path_factory.mktemp("adopter")
    assert ROOT not in base.parents, "the project must live outside the repository"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TAP_SALESFORCE_", "TARGET_POSTGRES_UPSERT_", "MELTANO_"))
        and key != "VIRTUAL_ENV"
    }
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    Project(base, meltano_executable(), env).run("init", "salesforce-project", "--no-usage-stats")
    project = Project(base / "salesforce-project", meltano_executable(), env)
    for name, (plugin_type, hub_file) in PLUGINS.items():
        ref = definition_for_this_checkout(hub_file, base / hub_file.name)
        project.run("add", "--plugin-type", plugin_type, name, "--from-ref", str(ref))

    # The README's scaling layout, written as a user would write it in meltano.yml.
    meltano_yml = project.path / "meltano.yml"
    config = yaml.safe_load(meltano_yml.read_text())
    for job, sobject in JOBS.items():
        config["plugins"]["extractors"].append(
            {
                "name": f"tap-salesforce-{job}",
                "inherit_from": "tap-salesforce-bulk",
                "config": {"objects": [sobject]},
                "select": [f"{sobject}.*"],
            }
        )
    # State where every worker finds it (an S3 or GCS URI in production).
    config["state_backend"] = {"uri": f"file://{base / 'shared-state'}"}
    config["jobs"] = [
        {"name": f"{job}-to-postgres", "tasks": [f"tap-salesforce-{job} target-postgres-upsert"]}
        for job in JOBS
    ]
    meltano_yml.write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def settings(sf: FakeSalesforce, database_url: str, schema: str) -> dict[str, str]:
    """The environment a user would put in the project's ``.env``."""
    creds = sf.credentials
    return {
        "TAP_SALESFORCE_BULK_AUTH_FLOW": "jwt",
        "TAP_SALESFORCE_BULK_LOGIN_URL": sf.url,
        "TAP_SALESFORCE_BULK_CLIENT_ID": creds.client_id,
        "TAP_SALESFORCE_BULK_USERNAME": creds.username,
        "TAP_SALESFORCE_BULK_PRIVATE_KEY": creds.private_key_pem,
        "TAP_SALESFORCE_BULK_LAG_SECONDS": "0",
        "TARGET_POSTGRES_UPSERT_DATABASE_URL": database_url,
        "TARGET_POSTGRES_UPSERT_DEFAULT_TARGET_SCHEMA": schema,
    }


def table_rows(conn: Any, schema: str, table: str) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT salesforce_id, system_modstamp FROM {}").format(
                sql.Identifier(schema, table)
            )
        )
        return list(cur.fetchall())


def assert_tables_equal_salesforce(
    conn: Any, schema: str, sf: FakeSalesforce, objects: list[str]
) -> None:
    """Each object's table holds exactly Salesforce's rows (no row lost, none twice), current."""
    for sobject in objects:
        rows = table_rows(conn, schema, TABLES[sobject])
        ids = [row[0] for row in rows]
        assert len(ids) == len(set(ids)), f"{sobject}: a row is duplicated"
        truth = {
            row["Id"]: dt.datetime.fromisoformat(str(row["SystemModstamp"]))
            for row in sf.truth(sobject)
        }
        assert set(ids) == set(truth), f"{sobject}: rows lost or extra"
        stale = [i for i, stamp in rows if stamp != truth[i]]
        assert not stale, f"{sobject}: {len(stale)} rows hold an older version, e.g. {stale[:3]}"


def column_comment(conn: Any, schema: str, table: str, column: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT col_description(c.oid, a.attnum) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attname = %s",
            (schema, table, column),
        )
        row = cur.fetchone()
    return row[0] if row else None


@pytest.mark.e2e
def test_plugins_added_from_hub_definitions_run_in_a_fresh_project(
    project: Project,
    make_fake_salesforce: Any,
    database_url: str,
    pg_schema: str,
    pg_conn: Any,
) -> None:
    sf = make_fake_salesforce(contacts=2_000, accounts=20, seed=21)
    added = yaml.safe_load((project.path / "meltano.yml").read_text())["plugins"]
    tap = next(p for p in added["extractors"] if p["name"] == "tap-salesforce-bulk")
    assert tap["pip_url"] == f"git+file://{ROOT}#subdirectory=tap-salesforce-bulk"
    assert "test" in tap["capabilities"]
    assert next(s for s in tap["settings"] if s["name"] == "private_key")["sensitive"] is True

    project.run(
        "run",
        "tap-salesforce-bulk",
        "target-postgres-upsert",
        env=settings(sf, database_url, pg_schema),
    )

    assert_tables_equal_salesforce(pg_conn, pg_schema, sf, ["Contact"])
    comment = column_comment(pg_conn, pg_schema, "contact", "npi__c")
    assert comment is not None
    assert comment.startswith("NPI Number: ")


def second_worker(project: Project, path: Path) -> Project:
    """Another worker running the same project: its own directory and Meltano system database,
    the same plugins (installed once, linked here) and the same state backend."""
    path.mkdir()
    (path / "meltano.yml").write_text((project.path / "meltano.yml").read_text())
    (path / ".meltano").mkdir()
    for kind in ("extractors", "loaders"):
        (path / ".meltano" / kind).symlink_to(project.path / ".meltano" / kind)
    return Project(path, project.executable, project.env)


def start_job(
    project: Project, job: str, env: dict[str, str], log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            project.command("run", *extra, job),
            cwd=project.path,
            env={**project.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def bookmark(project: Project, job: str, sobject: str, env: dict[str, str]) -> str:
    """The ``SystemModstamp`` bookmark Meltano saved for the job's object."""
    state_id = f"dev:tap-salesforce-{job}-to-target-postgres-upsert"
    state = json.loads(project.run("state", "get", state_id, env=env).stdout)
    stream = state["singer_state"]["bookmarks"][sobject]
    return str(stream["replication_key_value"])


@pytest.mark.e2e
def test_three_jobs_and_an_overlapping_run_load_one_database_side_by_side(
    project: Project,
    make_fake_salesforce: Any,
    database_url: str,
    pg_schema: str,
    pg_conn: Any,
    tmp_path: Path,
) -> None:
    sf = make_fake_salesforce(contacts=2_500, accounts=600, licenses=1_500, seed=22)
    # Small batches: each run commits many transactions, interleaved with the other runs'.
    env = {**settings(sf, database_url, pg_schema), "TARGET_POSTGRES_UPSERT_BATCH_SIZE_ROWS": "200"}
    started_at = dt.datetime.fromtimestamp(sf.clock.now_ms() / 1000, dt.UTC)
    runs = {
        job: start_job(project, f"{job}-to-postgres", env, tmp_path / f"{job}.log") for job in JOBS
    }
    time.sleep(1.0)  # the next run of the Contact job starts while the first one is running
    worker = second_worker(project, tmp_path / "worker2")
    runs["contact again"] = start_job(
        worker, "contact-to-postgres", env, tmp_path / "contact-again.log"
    )
    for name, proc in runs.items():
        proc.wait(timeout=MELTANO_TIMEOUT_SECONDS)
        log = (tmp_path / f"{name.replace(' ', '-')}.log").read_text()
        assert proc.returncode == 0, f"{name} failed:\n{log[-6000:]}"
        assert "PostgreSQL refused" not in log

    assert_tables_equal_salesforce(pg_conn, pg_schema, sf, list(JOBS.values()))
    now = dt.datetime.fromtimestamp(sf.clock.now_ms() / 1000, dt.UTC)
    saved = dt.datetime.fromisoformat(bookmark(project, "contact", "Contact", env))
    # getUpdated's latestDateCovered is whole minutes and caps the bookmark (late commits), so a
    # bookmark of this sync lies at or after the minute the sync began in.
    began_minute = started_at.replace(second=0, microsecond=0)
    assert began_minute <= saved <= now, f"bookmark {saved} is not from this sync"

    # The saved bookmark is safe: the next run picks up what changed since, and only that.
    changed = sf.update_records("Contact", count=30, fields={"Title": "Changed after the runs"})
    sf.reset_counters()
    project.run("run", "contact-to-postgres", env=env)
    assert len(changed) <= sf.counters["rows_served"] < 500, "an incremental run, not a full one"
    assert_tables_equal_salesforce(pg_conn, pg_schema, sf, list(JOBS.values()))
