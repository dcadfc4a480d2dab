"""getUpdated, asked only for ``latestDateCovered``: how far Salesforce vouches that nothing is
still being written.

A long transaction (Apex, flows, large DML, data loads) stamps SystemModstamp when it writes and
commits later, so its rows appear with stamps older than any query that ran in between. For
exactly this case the replication resource returns ``latestDateCovered``: "If Salesforce executes
a long-running transaction on your instance, the value in this field is the start time of that
long-running transaction until it completes"
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm).

``GET /services/data/vXX.X/sobjects/{Object}/updated/?start=...&end=...``
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm)
ignores seconds, wants ``start`` at least a minute before ``end`` and no more than 30 days back,
and answers ``EXCEEDED_ID_LIMIT`` above 600,000 ids; a window of a couple of minutes ending now
keeps the Id list small and the call cheap.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.timestamps import format_datetime, normalize_datetime

COVERAGE_WINDOW_MINUTES = 2  # how far back the window starts: only the Id list's size depends on it


def coverage_window(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``start`` and ``end`` for getUpdated: the whole minutes just before ``now``."""
    end = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    return end - dt.timedelta(minutes=COVERAGE_WINDOW_MINUTES), end


def _parameter(moment: dt.datetime) -> str:
    # The documented form, YYYY-MM-DDThh:mm:ss+hh:mm (requests URL-encodes the "+").
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def latest_date_covered(client: SalesforceClient, object_name: str, *, now: dt.datetime) -> str:
    """``latestDateCovered`` of ``object_name`` for a short window ending ``now`` (canonical).

    Salesforce promises a value "less than or equal to endDate"; without one, the end itself is
    covered. Raises the client's errors (a refused object, an exhausted retry) and ValueError for
    a value that is not a date-time.
    """
    start, end = coverage_window(now)
    body: Any = client.get_json(
        f"sobjects/{object_name}/updated/", {"start": _parameter(start), "end": _parameter(end)}
    )
    value = body.get("latestDateCovered") if isinstance(body, dict) else None
    end_text = format_datetime(end)
    return min(normalize_datetime(str(value)), end_text) if value else end_text
