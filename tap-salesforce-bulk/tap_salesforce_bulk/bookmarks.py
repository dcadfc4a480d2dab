"""Where a run starts, how it splits into windows, and how far a finished job lets the bookmark go.

The rule that keeps every record: a bookmark only says "everything before this instant was read".
A job's snapshot is taken after the job was created, but a transaction can stamp a record's
SystemModstamp and commit later, so a job only vouches for instants older than its creation time
(on Salesforce's clock) minus ``lag_seconds``. Reads resume with ``>=`` the bookmark, so records
sharing the bookmark's instant are read again; the target's upsert makes that harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from tap_salesforce_bulk.salesforce.timestamps import (
    format_datetime,
    normalize_datetime,
    parse_datetime,
)
from tap_salesforce_bulk.soql import TimeWindow

MAX_WINDOWS = 2000


def starting_point(bookmark: str | None, start_date: str | None) -> str | None:
    """The later of the saved bookmark and ``start_date`` (both canonical strings)."""
    candidates = [normalize_datetime(v) for v in (bookmark, start_date) if v]
    return max(candidates) if candidates else None


def plan_windows(
    start: str | None,
    *,
    now: dt.datetime,
    window_days: float | None,
    earliest: Callable[[], str | None],
) -> list[TimeWindow]:
    """Consecutive ``[start, end)`` windows up to now; the last one is open-ended.

    Without ``window_days`` there is a single open window. ``earliest`` is asked for the oldest
    replication key value only when windows are wanted and there is no start.
    """
    if not window_days:
        return [TimeWindow(start, None)]
    first = start or earliest()
    if first is None:
        return [TimeWindow(None, None)]
    step = dt.timedelta(days=window_days)
    cursor = parse_datetime(first)
    windows: list[TimeWindow] = []
    while cursor + step < now and len(windows) < MAX_WINDOWS - 1:
        end = cursor + step
        windows.append(TimeWindow(format_datetime(cursor), format_datetime(end)))
        cursor = end
    windows.append(TimeWindow(format_datetime(cursor), None))
    return windows


def bookmark_after_job(window: TimeWindow, *, job_created: str, lag_seconds: float) -> str:
    """The bookmark once every record of ``window``'s job is emitted.

    Never past the job's creation minus the lag, never before the window's start.
    """
    vouched = format_datetime(parse_datetime(job_created) - dt.timedelta(seconds=lag_seconds))
    candidate = min(vouched, window.end) if window.end else vouched
    return max(candidate, window.start) if window.start else candidate
