"""The real ``meltano run`` over the emulator and PostgreSQL: full, incremental, full refresh."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from tests.e2e.conftest import MeltanoProject
from tests.fake_salesforce import FakeSalesforce
from tests.torture.compare import compare_table, salesforce_types

PIPELINE = ("tap-salesforce-bulk", "target-postgres-upsert")
STATE_ID = "ci:tap-salesforce-bulk-to-target-postgres-upsert"


@pytest.fixture
def salesforce(make_fake_salesforce: object) -> FakeSalesforce:
    return make_fake_salesforce(contacts=5_000, accounts=100, seed=11)  # type: ignore[operator, no-any-return]


@pytest.fixture
def settings(salesforce: FakeSalesforce, database_url: str, pg_schema: str) -> dict[str, str]:
    creds = salesforce.credentials
    return {
        "TAP_SALESFORCE_BULK_AUTH_FLOW": "jwt",
        "TAP_SALESFORCE_BULK_LOGIN_URL": salesforce.url,
        "TAP_SALESFORCE_BULK_CLIENT_ID": creds.client_id,
        "TAP_SALESFORCE_BULK_USERNAME": creds.username,
        "TAP_SALESFORCE_BULK_PRIVATE_KEY": creds.private_key_pem,
        "TAP_SALESFORCE_BULK_LAG_SECONDS": "0",
        "TAP_SALESFORCE_BULK_PAGE_SIZE": "1000",
        "TARGET_POSTGRES_UPSERT_DATABASE_URL": database_url,
        "TARGET_POSTGRES_UPSERT_DEFAULT_TARGET_SCHEMA": pg_schema,
    }


@pytest.fixture
def clean_state(meltano_project: MeltanoProject) -> Iterator[None]:
    meltano_project.run("state", "clear", "--force", STATE_ID, check=False)
    yield
    meltano_project.run("state", "clear", "--force", STATE_ID, check=False)


def rows(conn: psycopg2.extensions.connection, schema: str) -> dict[str, str | None]:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT salesforce_id, title FROM {}.contact").format(sql.Identifier(schema))
        )
        return dict(cur.fetchall())


@pytest.mark.e2e
@pytest.mark.usefixtures("clean_state")
def test_meltano_full_then_incremental_then_full_refresh(
    meltano_project: MeltanoProject,
    salesforce: FakeSalesforce,
    settings: dict[str, str],
    pg_conn: psycopg2.extensions.connection,
    pg_schema: str,
) -> None:
    truth = {row["Id"]: row["Title"] for row in salesforce.truth("Contact")}

    meltano_project.run("run", *PIPELINE, env=settings)
    assert rows(pg_conn, pg_schema) == truth
    assert salesforce.counters["rows_served"] == len(truth)

    changed = salesforce.update_records(
        "Contact", count=40, fields={"Title": "Changed in Salesforce"}
    )
    salesforce.reset_counters()
    meltano_project.run("run", *PIPELINE, env=settings)
    (soql,) = salesforce.counters["queries"]
    assert "WHERE SystemModstamp >= " in soql
    assert salesforce.counters["rows_served"] < 100, "the second run reads only what changed"
    loaded = rows(pg_conn, pg_schema)
    assert all(loaded[i] == "Changed in Salesforce" for i in changed)
    assert len(loaded) == len(truth)

    state = json.loads(meltano_project.run("state", "get", STATE_ID).stdout)
    contact = state["singer_state"]["bookmarks"]["Contact"]
    assert contact["replication_key"] == "SystemModstamp"
    assert contact["replication_key_value"].endswith("Z")
    assert contact["bulk_job"]["id"] is None

    # Twice in a row: a full refresh merges its STATE messages into the stored state, so the
    # second merges a job object onto what the first left (Meltano 4.4 crashed on a bare null).
    for _ in range(2):
        salesforce.reset_counters()
        meltano_project.run("run", "--full-refresh", *PIPELINE, env=settings)
        assert salesforce.counters["rows_served"] == len(truth)
        assert "WHERE" not in salesforce.counters["queries"][0]
    state = json.loads(meltano_project.run("state", "get", STATE_ID).stdout)
    assert state["singer_state"]["bookmarks"]["Contact"]["bulk_job"]["id"] is None


@pytest.mark.e2e
def test_meltano_config_test_passes_and_fails_clearly(
    meltano_project: MeltanoProject, settings: dict[str, str], salesforce: FakeSalesforce
) -> None:
    ok = meltano_project.run("config", "test", "tap-salesforce-bulk", env=settings)
    assert "Plugin configuration is valid" in ok.stdout
    bad_key = salesforce.credentials.private_key_pem.replace("A", "B", 5)
    bad = meltano_project.run(
        "config",
        "test",
        "tap-salesforce-bulk",
        env={
            **settings,
            "TAP_SALESFORCE_BULK_USERNAME": "nobody@example.org",
            "TAP_SALESFORCE_BULK_PRIVATE_KEY": bad_key,
        },
        check=False,
    )
    assert bad.returncode != 0
    output = bad.stdout + bad.stderr
    assert "refused the jwt login" in output or "private_key" in output
    assert bad_key.splitlines()[1] not in output


@pytest.mark.e2e
@pytest.mark.usefixtures("clean_state")
def test_meltano_run_in_the_batch_lane_full_then_incremental(
    meltano_project: MeltanoProject,
    salesforce: FakeSalesforce,
    settings: dict[str, str],
    pg_conn: psycopg2.extensions.connection,
    pg_schema: str,
    tmp_path: Path,
) -> None:
    """``batch_config`` set through Meltano's environment: the tap sends jsonl.gz BATCH files
    (parquet needs the [parquet] extras in pip_url, which this project does not install)."""
    files = tmp_path / "batches"
    batch = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": str(files)},
        "batch_size": 400,
    }
    env = {**settings, "TAP_SALESFORCE_BULK_BATCH_CONFIG": json.dumps(batch)}
    first = meltano_project.run("run", *PIPELINE, env=env)
    assert "BATCH file" in first.stderr, "the target loaded files"
    types = salesforce_types(salesforce)
    comparison = compare_table(pg_conn, pg_schema, salesforce.truth("Contact"), types)
    assert comparison.exact, "\n".join(comparison.summary())

    changed = salesforce.update_records("Contact", count=40, fields={"Title": "Batch lane"})
    salesforce.reset_counters()
    meltano_project.run("run", *PIPELINE, env=env)
    assert salesforce.counters["rows_served"] < 100, "the second run reads only what changed"
    comparison = compare_table(pg_conn, pg_schema, salesforce.truth("Contact"), types)
    assert comparison.exact, "\n".join(comparison.summary())
    assert all(rows(pg_conn, pg_schema)[i] == "Batch lane" for i in changed)
    assert list(files.iterdir()) == [], "each file removed once its rows were committed"
