"""Where a run starts, how it splits into windows, and how far a finished job lets the bookmark go.

The rule that keeps every record: a bookmark only says "everything before this instant was read".
A job's snapshot is taken after the job was created, but a transaction can stamp a record's
SystemModstamp and commit later, so a job only vouches for instants before both

* getUpdated's ``latestDateCovered`` for the object, asked just before its first job this run: the
  start of the oldest transaction Salesforce still has open (see ``coverage.py``), and
* the job's creation time (on Salesforce's clock) minus ``lag_seconds``, a margin for what
  getUpdated cannot vouch for (objects not replicateable, a refused call).

Reads resume with ``>=`` the bookmark, so records sharing the bookmark's instant are read again;
the target's upsert makes that harmless.
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


def starting_point(
    bookmark: str | None, start_date: str | None, *, start_date_relative: bool = False
) -> str | None:
    """Where a run starts: the later of the saved bookmark and ``start_date``, except that a
    relative ``start_date`` (``7d``) never moves the start past a saved bookmark.

    A relative start date bounds a run without state; a pipeline paused for longer than it must
    still read what changed since its bookmark. An absolute one is a date the user wrote, so it
    wins (and :func:`skipped_by_start_date` says what that skips).
    """
    if bookmark and start_date_relative:
        return normalize_datetime(bookmark)
    candidates = [normalize_datetime(v) for v in (bookmark, start_date) if v]
    return max(candidates) if candidates else None


def skipped_by_start_date(
    bookmark: str | None, start_date: str | None, *, start_date_relative: bool = False
) -> tuple[str, str] | None:
    """``(bookmark, start)`` when ``start_date`` moves the start past the saved bookmark."""
    if not bookmark or not start_date:
        return None
    start = starting_point(bookmark, start_date, start_date_relative=start_date_relative)
    saved = normalize_datetime(bookmark)
    return (saved, start) if start and start > saved else None


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


def bookmark_after_job(
    window: TimeWindow, *, job_created: str, lag_seconds: float, covered: str | None = None
) -> str:
    """The bookmark once every record of ``window``'s job is emitted.

    Never past the window's end nor the job's creation minus the lag, and not moved back before
    the window's start for the lag's sake; but never past ``covered`` (getUpdated's
    ``latestDateCovered``) either, even when that is before the window's start: a transaction
    open since then can still commit rows stamped there.
    """
    vouched = format_datetime(parse_datetime(job_created) - dt.timedelta(seconds=lag_seconds))
    candidate = min(vouched, window.end) if window.end else vouched
    if window.start:
        candidate = max(candidate, window.start)
    return min(candidate, normalize_datetime(covered)) if covered else candidate
