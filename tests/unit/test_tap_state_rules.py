"""Bookmark, window, retry and quota rules of the tap (pure functions)."""

from __future__ import annotations

import datetime as dt
import itertools

from tap_salesforce_bulk.bookmarks import (
    bookmark_after_job,
    plan_windows,
    skipped_by_start_date,
    starting_point,
)
from tap_salesforce_bulk.salesforce.limits import Allocation, exhausted_allocation, quota_message
from tap_salesforce_bulk.salesforce.replication import coverage_window
from tap_salesforce_bulk.salesforce.retry import parse_retry_after, retry_delay_seconds
from tap_salesforce_bulk.soql import TimeWindow

NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)


def test_bookmark_never_passes_job_creation_minus_lag() -> None:
    window = TimeWindow("2026-11-01T00:00:00.000Z", None)
    after = bookmark_after_job(window, job_created="2026-11-28T12:00:00.000Z", lag_seconds=300)
    assert after == "2026-11-28T11:55:00.000Z"


def test_bookmark_of_a_closed_window_is_its_end_when_old_enough() -> None:
    window = TimeWindow("2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z")
    after = bookmark_after_job(window, job_created="2026-11-28T12:00:00+0000", lag_seconds=300)
    assert after == "2026-02-01T00:00:00.000Z"


def test_bookmark_never_moves_backwards_past_the_window_start() -> None:
    window = TimeWindow("2026-11-28T11:59:00.000Z", None)
    after = bookmark_after_job(window, job_created="2026-11-28T12:00:00.000Z", lag_seconds=300)
    assert after == "2026-11-28T11:59:00.000Z"


def test_bookmark_never_passes_latest_date_covered() -> None:
    # A transaction open since 11:40 holds the bookmark there, whatever the lag allows.
    window = TimeWindow("2026-11-01T00:00:00.000Z", None)
    after = bookmark_after_job(
        window,
        job_created="2026-11-28T12:00:00.000Z",
        lag_seconds=300,
        covered="2026-11-28T11:40:00.000+0000",
    )
    assert after == "2026-11-28T11:40:00.000Z"


def test_latest_date_covered_later_than_the_lag_limit_changes_nothing() -> None:
    window = TimeWindow("2026-11-01T00:00:00.000Z", None)
    after = bookmark_after_job(
        window,
        job_created="2026-11-28T12:00:00.000Z",
        lag_seconds=300,
        covered="2026-11-28T11:59:00.000Z",
    )
    assert after == "2026-11-28T11:55:00.000Z"


def test_latest_date_covered_holds_even_windows_that_start_after_it() -> None:
    # Windows after the first start at the previous window's end; a transaction open since
    # before that start can still commit rows stamped there.
    window = TimeWindow("2026-11-20T00:00:00.000Z", "2026-11-27T00:00:00.000Z")
    after = bookmark_after_job(
        window,
        job_created="2026-11-28T12:00:00.000Z",
        lag_seconds=300,
        covered="2026-11-15T08:00:00.000Z",
    )
    assert after == "2026-11-15T08:00:00.000Z"
    without = bookmark_after_job(window, job_created="2026-11-28T12:00:00.000Z", lag_seconds=300)
    assert without == "2026-11-27T00:00:00.000Z"


def test_get_updated_window_is_whole_minutes_just_before_now() -> None:
    start, end = coverage_window(dt.datetime(2026, 11, 28, 12, 34, 56, 789_000, tzinfo=dt.UTC))
    assert end == dt.datetime(2026, 11, 28, 12, 34, tzinfo=dt.UTC)
    assert start == dt.datetime(2026, 11, 28, 12, 32, tzinfo=dt.UTC)


def test_relative_start_date_never_moves_the_start_past_a_saved_bookmark() -> None:
    bookmark = "2026-11-10T00:00:00.000Z"
    week_ago = "2026-11-21T12:00:00.000Z"  # start_date 7d on 2026-11-28
    assert starting_point(bookmark, week_ago, start_date_relative=True) == bookmark
    assert skipped_by_start_date(bookmark, week_ago, start_date_relative=True) is None
    # Without state it still bounds the run; a newer bookmark still wins over it.
    assert starting_point(None, week_ago, start_date_relative=True) == week_ago
    newer = "2026-11-27T00:00:00.000Z"
    assert starting_point(newer, week_ago, start_date_relative=True) == newer


def test_absolute_start_date_past_the_bookmark_wins_and_is_reported() -> None:
    bookmark = "2026-11-10T00:00:00.000Z"
    assert starting_point(bookmark, "2026-11-21") == "2026-11-21T00:00:00.000Z"
    assert skipped_by_start_date(bookmark, "2026-11-21") == (bookmark, "2026-11-21T00:00:00.000Z")
    assert skipped_by_start_date(bookmark, "2026-11-01") is None
    assert skipped_by_start_date(None, "2026-11-21") is None


def test_start_is_the_later_of_bookmark_and_start_date() -> None:
    assert (
        starting_point("2026-01-01T00:00:00Z", "2025-01-01T00:00:00.000Z")
        == "2026-01-01T00:00:00.000Z"
    )
    assert starting_point(None, "2025-01-01") == "2025-01-01T00:00:00.000Z"
    assert starting_point(None, None) is None


def test_windows_cover_history_without_gaps_and_end_open() -> None:
    windows = plan_windows(
        "2026-11-20T00:00:00.000Z", now=NOW, window_days=3, earliest=lambda: None
    )
    assert [w.start for w in windows] == [
        "2026-11-20T00:00:00.000Z",
        "2026-11-23T00:00:00.000Z",
        "2026-11-26T00:00:00.000Z",
    ]
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert windows[-1].end is None


def test_windows_start_at_the_earliest_record_when_there_is_no_start() -> None:
    asked: list[bool] = []

    def earliest() -> str:
        asked.append(True)
        return "2026-11-27T00:00:00.000Z"

    windows = plan_windows(None, now=NOW, window_days=2, earliest=earliest)
    assert asked == [True]
    assert windows == [TimeWindow("2026-11-27T00:00:00.000Z", None)]
    assert plan_windows(None, now=NOW, window_days=None, earliest=earliest) == [TimeWindow()]
    assert len(asked) == 1


def test_retry_waits_grow_are_capped_and_honour_retry_after() -> None:
    waits = [retry_delay_seconds(n, rng=lambda: 1.0) for n in range(1, 10)]
    assert waits == sorted(waits)
    assert max(waits) == 60.0
    assert retry_delay_seconds(1, 30.0, rng=lambda: 0.0) == 30.0
    assert retry_delay_seconds(1, None, rng=lambda: 0.0) > 0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == 10.0
    assert parse_retry_after("soon") is None


def test_quota_guard_stops_at_the_budget_and_says_which_limit() -> None:
    allocations = {
        "DailyApiRequests": Allocation("DailyApiRequests", 15000, 3000),
        "DailyBulkV2QueryJobs": Allocation("DailyBulkV2QueryJobs", 10000, 9000),
    }
    exhausted = exhausted_allocation(allocations, 80.0)
    assert exhausted is not None
    assert exhausted.name == "DailyApiRequests"
    assert exhausted_allocation(allocations, 90.0) is None
    assert "rolling 24-hour" in quota_message(exhausted, 80.0)
    no_jobs = {"DailyBulkV2QueryJobs": Allocation("DailyBulkV2QueryJobs", 10000, 0)}
    assert exhausted_allocation(no_jobs, 100.0) is not None
