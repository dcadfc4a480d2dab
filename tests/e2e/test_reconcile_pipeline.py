"""tap | target over the emulator: purges, formula drift and schema drift end up in PostgreSQL.

Each test changes the emulator's data the way incremental sync cannot see (purges, formulas that
change without SystemModstamp moving, a field added), runs ``tap-salesforce-bulk |
target-postgres-upsert`` again from the saved state, and compares the whole table with the
emulator's rows (``tests/torture/compare.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from tests.e2e.conftest import MeltanoProject
from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import pipe
from tests.torture.compare import compare_table, salesforce_types

CONTACTS = 2_000
PIPELINE = ("tap-salesforce-bulk", "target-postgres-upsert")
STATE_ID = "ci:tap-salesforce-bulk-to-target-postgres-upsert"


@dataclass
class Pipeline:
    """Runs ``tap | target`` with state files kept between runs."""

    sf: FakeSalesforce
    database_url: str
    schema: str
    directory: Path
    state: dict[str, Any] | None = None

    def run(self, tap: dict[str, Any] | None = None, **target: Any) -> tuple[str, str]:
        """One run from the saved state; returns (tap stderr, target stderr). Both must exit 0."""
        target_config = {
            "database_url": self.database_url,
            "default_target_schema": self.schema,
            **target,
        }
        tap_settings = {"page_size": 500, **(tap or {})}
        tap_log, target_log, state = pipe(
            self.sf, self.directory, target_config, state=self.state, **tap_settings
        )
        assert state is not None, "the target wrote no STATE"
        self.state = state
        return tap_log, target_log


@pytest.fixture
def sf(make_fake_salesforce: Any) -> FakeSalesforce:
    return make_fake_salesforce(contacts=CONTACTS, accounts=100, seed=5)  # type: ignore[no-any-return]


@pytest.fixture
def pipeline(sf: FakeSalesforce, database_url: str, pg_schema: str, tmp_path: Path) -> Pipeline:
    return Pipeline(sf, database_url, pg_schema, tmp_path)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(database_url)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def deleted_marks(conn: psycopg2.extensions.connection, schema: str) -> dict[str, Any]:
    """salesforce_id -> _sdc_deleted_at (None for live rows)."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT salesforce_id, _sdc_deleted_at FROM {}").format(
                sql.Identifier(schema, "contact")
            )
        )
        return dict(cur.fetchall())


def tables(conn: psycopg2.extensions.connection, schema: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        return {row[0] for row in cur.fetchall()}


def assert_equal(comparison: Any) -> None:
    assert comparison.exact, "\n".join(comparison.summary())


@pytest.mark.e2e
def test_purged_and_deleted_records_are_marked_and_the_rest_equals_salesforce(
    pipeline: Pipeline, sf: FakeSalesforce, conn: psycopg2.extensions.connection
) -> None:
    pipeline.run()
    ids = [row["Id"] for row in sf.truth("Contact")]
    purged = sf.purge_records("Contact", ids[:40])
    deleted = sf.delete_records("Contact", ids[40:60])
    first_marks = deleted_marks(conn, pipeline.schema)
    assert all(mark is None for mark in first_marks.values())

    _, log = pipeline.run({"reconcile": ["deletes"]})
    marks = deleted_marks(conn, pipeline.schema)
    assert {i for i, mark in marks.items() if mark is not None} == set(purged + deleted)
    assert {i for i, mark in marks.items() if mark is None} == {
        str(row["Id"]) for row in sf.truth("Contact")
    }
    types = salesforce_types(sf)
    live = list(sf.truth("Contact"))
    assert_equal(compare_table(conn, pipeline.schema, live, types, stale_ok=purged + deleted))
    assert "marked deleted 60 rows" in log
    assert tables(conn, pipeline.schema) == {"contact"}

    # Another pass finds nothing new; the marks keep their first time.
    pipeline.run({"reconcile": ["deletes"]})
    assert deleted_marks(conn, pipeline.schema) == marks


@pytest.mark.e2e
def test_with_hard_delete_purged_records_leave_the_table(
    pipeline: Pipeline, sf: FakeSalesforce, conn: psycopg2.extensions.connection
) -> None:
    pipeline.run(hard_delete=True)
    ids = [row["Id"] for row in sf.truth("Contact")]
    sf.purge_records("Contact", ids[:25])
    sf.delete_records("Contact", ids[25:30])
    pipeline.run({"reconcile": ["deletes"]}, hard_delete=True)
    assert_equal(compare_table(conn, pipeline.schema, sf.truth("Contact"), salesforce_types(sf)))


@pytest.mark.e2e
def test_formula_fields_are_refreshed_and_nothing_else_changes(
    pipeline: Pipeline, sf: FakeSalesforce, conn: psycopg2.extensions.connection
) -> None:
    pipeline.run({"reconcile": ["formula_fields"]})
    changed = sf.recalculate_formulas("Contact", count=200)
    types = salesforce_types(sf)
    stale = compare_table(conn, pipeline.schema, sf.truth("Contact"), types)
    assert stale.problem_count == len(changed), "the formulas changed in Salesforce only"
    sf.reset_counters()

    _, log = pipeline.run({"reconcile": ["formula_fields"]})
    assert_equal(compare_table(conn, pipeline.schema, sf.truth("Contact"), types))
    queries = sf.counters["queries"]
    assert "SELECT Id, Provider_Summary__c FROM Contact" in queries
    assert sf.counters["rows_served"] < CONTACTS + 100, "no full reload"
    assert f"{len(changed)} rows updated (provider_summary__c)" in log
    assert tables(conn, pipeline.schema) == {"contact"}


@pytest.mark.e2e
def test_a_field_added_in_salesforce_is_backfilled_and_a_removed_one_stays(
    pipeline: Pipeline, sf: FakeSalesforce, conn: psycopg2.extensions.connection
) -> None:
    pipeline.run()
    sf.add_field(
        "Contact",
        "Preferred_Pharmacy__c",
        type="string",
        values=["CVS", "Walgreens", "Rite Aid", None],
    )
    sf.reset_counters()
    pipeline.run()
    types = salesforce_types(sf)
    assert "Preferred_Pharmacy__c" in types
    assert_equal(compare_table(conn, pipeline.schema, sf.truth("Contact"), types))
    main_query, *side = sf.counters["queries"]
    assert "WHERE SystemModstamp >= " in main_query
    assert side == ["SELECT Id, Preferred_Pharmacy__c FROM Contact"]
    assert sf.counters["rows_served"] < CONTACTS + 100, "no full reload"

    def column(name: str) -> dict[str, Any]:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("SELECT salesforce_id, {} FROM {}").format(
                    sql.Identifier(name), sql.Identifier(pipeline.schema, "contact")
                )
            )
            return dict(cur.fetchall())

    schools, titles = column("medical_school__c"), column("title")
    sf.remove_field("Contact", "Medical_School__c")
    sf.hide_field("Contact", "Title")
    sf.update_records("Contact", count=10, fields={"Department": "Moved"})
    tap_log, log = pipeline.run()
    (warning,) = [line for line in log.splitlines() if "no longer sends" in line]
    assert "medical_school__c, title" in warning
    (tap_warning,) = [line for line in tap_log.splitlines() if "no longer described" in line]
    assert "Title, Medical_School__c are no longer described" in tap_warning
    assert column("medical_school__c") == schools, "the column and its values stay"
    assert column("title") == titles
    assert_equal(compare_table(conn, pipeline.schema, sf.truth("Contact"), salesforce_types(sf)))


@pytest.fixture
def clean_state(meltano_project: MeltanoProject) -> Iterator[None]:
    meltano_project.run("state", "clear", "--force", STATE_ID, check=False)
    yield
    meltano_project.run("state", "clear", "--force", STATE_ID, check=False)


@pytest.mark.e2e
@pytest.mark.usefixtures("clean_state")
def test_meltano_run_with_reconcile_deletes_marks_purged_rows(
    meltano_project: MeltanoProject,
    sf: FakeSalesforce,
    database_url: str,
    pg_schema: str,
    conn: psycopg2.extensions.connection,
) -> None:
    creds = sf.credentials
    env = {
        "TAP_SALESFORCE_BULK_AUTH_FLOW": "client_credentials",
        "TAP_SALESFORCE_BULK_LOGIN_URL": sf.url,
        "TAP_SALESFORCE_BULK_CLIENT_ID": creds.client_id,
        "TAP_SALESFORCE_BULK_CLIENT_SECRET": creds.client_secret,
        "TAP_SALESFORCE_BULK_LAG_SECONDS": "0",
        "TARGET_POSTGRES_UPSERT_DATABASE_URL": database_url,
        "TARGET_POSTGRES_UPSERT_DEFAULT_TARGET_SCHEMA": pg_schema,
    }
    meltano_project.run("run", *PIPELINE, env=env)
    purged = sf.purge_records("Contact", [row["Id"] for row in sf.truth("Contact")][:30])
    meltano_project.run(
        "run", *PIPELINE, env={**env, "TAP_SALESFORCE_BULK_RECONCILE": '["deletes"]'}
    )
    marks = deleted_marks(conn, pg_schema)
    assert {i for i, mark in marks.items() if mark is not None} == set(purged)
    assert {i for i, mark in marks.items() if mark is None} == {
        str(row["Id"]) for row in sf.truth("Contact")
    }
    assert tables(conn, pg_schema) == {"contact"}
