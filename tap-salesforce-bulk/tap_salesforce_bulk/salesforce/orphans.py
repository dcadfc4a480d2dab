"""Jobs created behind a lost answer: which listed jobs are orphans of a retried create.

A ``POST jobs/query`` that timed out or answered 5xx may still have created its job; the retry
creates a second one. Nobody would read, abort or delete the first: it runs to the end and counts
against the org's 10,000 query jobs a day. Once a retried create succeeds, the jobs of the same
user and object created since the first attempt, that the tap does not track, are the orphans.
The job list cannot be filtered by user, object or date, and comes in no particular order.
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_all_jobs.htm
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from tap_salesforce_bulk.salesforce.timestamps import parse_datetime

if TYPE_CHECKING:
    from tap_salesforce_bulk.salesforce.bulk import JobInfo

# createdDate is Salesforce's clock, the time since the first attempt is ours: a little slack
# for the second the first job's createdDate may be rounded into.
ORPHAN_WINDOW_SLACK_SECONDS = 2.0


def orphans_of(
    created: JobInfo,
    listed: Iterable[JobInfo],
    *,
    tracked: Collection[str],
    seconds_since_first_attempt: float,
) -> list[JobInfo]:
    """The listed jobs a retried create left behind: same user and object as ``created``,
    created since its first attempt (Salesforce's clock, from ``created``'s own createdDate),
    neither ``created`` nor any job the tap tracks."""
    if not (created.created_date and created.created_by_id and created.object_name):
        return []
    since = parse_datetime(created.created_date) - dt.timedelta(
        seconds=seconds_since_first_attempt + ORPHAN_WINDOW_SLACK_SECONDS
    )
    return [
        job
        for job in listed
        if job.id != created.id
        and job.id not in tracked
        and job.created_by_id == created.created_by_id
        and job.object_name == created.object_name
        and job.created_date is not None
        and parse_datetime(job.created_date) >= since
    ]
