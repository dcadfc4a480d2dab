"""Archived Task and Event rows are live records: synced, and never marked deleted.

Salesforce's ``query`` leaves archived activities out; only ``queryAll`` returns them
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_queryall.htm).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.integration.conftest import Db, TargetRun
from tests.integration.tap_checks import mismatches
from tests.integration.tap_runner import run_tap, tap_config

ACTIVITIES = ("Task", "Event")


@pytest.fixture
def sf(make_fake_salesforce: Callable[..., FakeSalesforce]) -> FakeSalesforce:
    """An org with 600 tasks and 400 events, about a third of them archived."""
    return make_fake_salesforce(contacts=100, accounts=10, tasks=600, events=400)


def test_task_and_event_syncs_emit_archived_activities_and_no_deleted_ones(
    sf: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(sf, objects=list(ACTIVITIES)))
    for sobject in ACTIVITIES:
        records = run.records(sobject)
        truth = list(sf.truth(sobject))
        assert any(row["IsArchived"] == "true" for row in truth)
        properties = run.schema(sobject)["schema"]["properties"]
        assert mismatches(records, truth, properties) == []
        assert not any(record["IsDeleted"] for record in records)
    queries = [q for q in sf.counters["queries"] if " FROM Task" in q]
    assert queries
    assert all("WHERE IsDeleted = false" in q for q in queries)


def test_include_deleted_adds_the_deleted_activities_to_the_archived_ones(
    sf: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(sf, objects=["Task"], include_deleted=True))
    truth = list(sf.truth("Task", include_deleted=True))
    properties = run.schema("Task")["schema"]["properties"]
    assert mismatches(run.records("Task"), truth, properties) == []
    assert any(record["IsDeleted"] for record in run.records("Task"))


def test_reconcile_deletes_never_marks_archived_activities_deleted_in_postgresql(
    sf: FakeSalesforce, run: Callable[..., TargetRun], db: Db
) -> None:
    # A first run loads every task, archived ones included (queryAll), as a pipeline that
    # synced them before they were archived would have them.
    first = run_tap(tap_config(sf, objects=["Task"], include_deleted=True, page_size=250))
    assert run(first.stdout).returncode == 0
    second = run_tap(
        tap_config(sf, objects=["Task"], reconcile=["deletes"], page_size=250),
        state=first.last_state,
    )
    loaded = run(second.stdout)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    rows: list[dict[str, Any]] = db.select("salesforce_id, is_archived, _sdc_deleted_at", "task")
    live = {row["Id"] for row in sf.truth("Task")}
    assert live <= {row["salesforce_id"] for row in rows}
    assert any(row["is_archived"] for row in rows), "the org has archived tasks"
    marked = {row["salesforce_id"] for row in rows if row["_sdc_deleted_at"] is not None}
    assert not marked & live, f"{len(marked & live)} live (archived) tasks marked deleted"


def test_windows_start_at_the_oldest_activity_archived_ones_included(sf: FakeSalesforce) -> None:
    # The window plan starts at the oldest SystemModstamp a query finds; make an archived task
    # the oldest, so a plan from query (not queryAll) would start after it and never read it.
    archived = next(row for row in sf.truth("Task") if row["IsArchived"] == "true")
    sf.update_records("Task", ids=[str(archived["Id"])], system_modstamp="2020-01-01T00:00:00Z")
    oldest = min(sf.truth("Task"), key=lambda row: str(row["SystemModstamp"]))
    assert oldest["Id"] == archived["Id"]
    assert oldest["IsArchived"] == "true"
    run = run_tap(tap_config(sf, objects=["Task"], window_days=365))
    assert oldest["Id"] in {record["Id"] for record in run.records("Task")}
    assert len(run.records("Task")) == len(list(sf.truth("Task")))
