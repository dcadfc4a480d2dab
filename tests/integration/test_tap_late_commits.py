"""Late commits: a row written by a long transaction appears with an old SystemModstamp once it
commits; the bookmark never passes getUpdated's latestDateCovered, so the next run reads it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.faults import HttpError
from tests.integration.tap_runner import run_tap, tap_config

LATE_TITLE = "Committed twenty minutes late"


def _default_config(sf: FakeSalesforce, **overrides: Any) -> dict[str, Any]:
    """The tap's defaults (lag_seconds 300), not the test runner's lag 0."""
    config = tap_config(sf, **overrides)
    if "lag_seconds" not in overrides:
        del config["lag_seconds"]
    return config


def _bookmark(state: dict[str, Any] | None, stream: str = "Contact") -> str:
    assert state is not None
    return str(state["bookmarks"][stream]["replication_key_value"])


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _minute(ms: int) -> str:
    moment = dt.datetime.fromtimestamp((ms - ms % 60_000) / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_row_committed_twenty_minutes_late_is_read_by_the_next_run(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    started = sf.clock.now_ms() - 20 * 60_000
    transaction = sf.begin_transaction(started)
    (late,) = sf.update_records(
        "Contact", count=1, fields={"Title": LATE_TITLE}, transaction=transaction
    )
    config = _default_config(sf)
    first = run_tap(config)
    assert all(r["Title"] != LATE_TITLE for r in first.records("Contact"))
    sf.commit_transaction(transaction)
    second = run_tap(config, state=first.last_state)
    titles = {r["Id"]: r["Title"] for r in second.records("Contact")}
    assert titles.get(late) == LATE_TITLE
    assert len(titles) < 50, "the second run still reads only what changed"
    # The transaction was open when getUpdated answered: the bookmark waited at its start.
    assert _bookmark(first.last_state) <= _minute(started)
    # Once nothing is open the bookmark moves on to the lag's limit again.
    assert _bookmark(second.last_state) > _bookmark(first.last_state)


def test_get_updated_is_asked_once_per_object_per_run_before_its_first_job(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    run_tap(tap_config(sf, objects=["Contact", "Account"], window_days=365, max_parallel_jobs=2))
    kinds = sf.counters["requests_by_kind"]
    assert isinstance(kinds, dict)
    assert kinds["updated"] == 2, "one getUpdated per object, however many windows"


def test_objects_not_replicateable_fall_back_to_the_lag_with_one_info_line(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    sf.set_replicateable("Account", False)
    started = sf.clock.now_ms() - 20 * 60_000
    transaction = sf.begin_transaction(started)
    before = sf.clock.now_ms()
    run = run_tap(_default_config(sf, objects=["Contact", "Account"]))
    after = sf.clock.now_ms()
    sf.rollback_transaction(transaction)
    assert run.stderr.count("Account: not replicateable") == 1
    assert "Contact: not replicateable" not in run.stderr
    assert sf.counters["requests_by_kind"]["updated"] == 1  # type: ignore[index]
    # Account: job creation minus 300 s, not held back by the open transaction; Contact: held.
    assert _iso(before - 300_000) <= _bookmark(run.last_state, "Account") <= _iso(after - 300_000)
    assert _bookmark(run.last_state, "Contact") <= _minute(started)


def test_get_updated_refused_falls_back_to_the_lag_with_one_info_line(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    sf.inject(
        HttpError(
            on="updated",
            status=400,
            error_code="EXCEEDED_ID_LIMIT",
            message="More than 600000 ids found",
            times=5,
        )
    )
    before = sf.clock.now_ms()
    run = run_tap(_default_config(sf))
    after = sf.clock.now_ms()
    assert run.stderr.count("Contact: getUpdated failed") == 1
    assert "EXCEEDED_ID_LIMIT" in run.stderr
    assert "lag_seconds (300 s)" in run.stderr
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))
    assert _iso(before - 300_000) <= _bookmark(run.last_state) <= _iso(after - 300_000)
