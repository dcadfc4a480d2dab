"""The REST replication resources: which records were deleted, or updated, in a time window.

``GET /services/data/vXX.X/sobjects/{Object}/deleted/?start=...&end=...`` answers
``{"deletedRecords": [{"id", "deletedDate"}], "earliestDateAvailable", "latestDateCovered"}``
("sObject Get Deleted",
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getdeleted.htm,
whose rules defer to getDeleted() in the SOAP API guide,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted.htm):

* ``start``/``end`` are UTC date-times in ISO 8601 (``2013-05-05T00:00:00+00:00``, URL-encoded);
  "the API ignores the seconds portion" (12:30:15 is read as 12:30:00);
* start must precede end by more than one minute, else 400 ``INVALID_REPLICATION_DATE``, with
  the wording Salesforce uses ("startDate must be at least one minute greater than endDate",
  reported in https://github.com/restforce/restforce/issues/667);
* "results are returned for no more than 15 days previous to the day the call is executed":
  ``earliestDateAvailable`` is that bound (to the minute) and a start before it is refused with
  ``INVALID_REPLICATION_DATE``, the error getDeleted() gives once the log no longer reaches back;
* ``latestDateCovered`` is never after end: the end itself, or the current minute while the end
  lies in the future. Records deleted from start up to (not including) latestDateCovered are
  listed, so the next call can start at latestDateCovered without gaps or repeats;
* more than 600,000 ids: 400 ``EXCEEDED_ID_LIMIT``.

The delete log holds soft-deleted and hard-deleted (purged) records alike; ``deletedDate`` is the
SystemModstamp the deletion wrote ("obtained using the SystemModstamp system field",
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getdeleted_getdeletedresult.htm).

``GET /services/data/vXX.X/sobjects/{Object}/updated/?start=...&end=...`` answers
``{"ids": [...], "latestDateCovered"}`` ("sObject Get Updated",
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_getupdated.htm;
getUpdated() in the SOAP API guide,
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated.htm),
with the same parameter rules, and:

* "Results are returned for no more than 30 days previous to the day the call is executed": an
  earlier start is refused with ``INVALID_REPLICATION_DATE``;
* ids of live records whose SystemModstamp lies in ``[start, latestDateCovered)`` ("The call uses
  the SystemModstamp field to determine an object's add or change date"); more than 600,000:
  400 ``EXCEEDED_ID_LIMIT``;
* ``latestDateCovered`` is "less than or equal to endDate" and, "if Salesforce executes a
  long-running transaction on your instance, [...] the start time of that long-running
  transaction until it completes"
  (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm):
  here the end, the current minute, or the start of the oldest open transaction (``transactions``),
  whichever is earliest, to the minute;
* an object that describe calls not ``replicateable`` is refused (getUpdated needs
  ``replicateable`` true); Salesforce does not document the error, the emulator answers 400
  ``INVALID_TYPE_FOR_OPERATION``.
"""

from __future__ import annotations

import re

from tests.fake_salesforce.clock import parse_datetime_literal, rest_datetime
from tests.fake_salesforce.dataset import ObjectData, Snapshot
from tests.fake_salesforce.errors import SalesforceError

MS_PER_MINUTE = 60_000
RETENTION_MS = 15 * 86_400_000  # the delete log reaches back 15 days
UPDATED_RETENTION_MS = 30 * 86_400_000  # getUpdated reaches back 30 days
MAX_IDS = 600_000
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")  # +0000 -> +00:00


def parse_instant(name: str, text: str | None) -> int:
    """Epoch ms of a ``start``/``end`` parameter, seconds dropped."""
    if text is None or not text.strip():
        raise SalesforceError(400, "MISSING_ARGUMENT", f"Parameter '{name}' is required")
    moment = parse_datetime_literal(_COMPACT_OFFSET.sub(r"\1:\2", text.strip()))
    if moment is None:
        raise SalesforceError(
            400,
            "INVALID_REPLICATION_DATE",
            f"{name} must be an ISO 8601 date-time such as 2013-05-05T00:00:00+00:00: {text}",
        )
    return moment - moment % MS_PER_MINUTE


def _check_window(start: int, end: int, now_ms: int, retention_ms: int) -> int:
    """The earliest start allowed (to the minute); a window breaking the rules is refused."""
    if end - start < MS_PER_MINUTE:
        raise SalesforceError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must be at least one minute greater than endDate",
        )
    earliest = now_ms - retention_ms
    earliest -= earliest % MS_PER_MINUTE
    if start < earliest:
        raise SalesforceError(
            400,
            "INVALID_REPLICATION_DATE",
            f"startDate is before the earliest date available: {rest_datetime(earliest)}",
        )
    return earliest


def get_deleted(
    data: ObjectData | None, snapshot: Snapshot, start: int, end: int, now_ms: int
) -> dict[str, object]:
    """The response body for a window already parsed by ``parse_instant``."""
    earliest = _check_window(start, end, now_ms, RETENTION_MS)
    covered = min(end, now_ms - now_ms % MS_PER_MINUTE)
    found = deletions(data, snapshot, start, covered) if data is not None else []
    if len(found) > MAX_IDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"More than {MAX_IDS} ids found; choose start and end dates closer together",
        )
    id_of = data.ids.id_of if data is not None else str
    return {
        "deletedRecords": [
            {"id": id_of(row), "deletedDate": rest_datetime(ms)} for ms, row in found
        ],
        "earliestDateAvailable": rest_datetime(earliest),
        "latestDateCovered": rest_datetime(covered),
    }


def deletions(data: ObjectData, snapshot: Snapshot, start: int, stop: int) -> list[tuple[int, int]]:
    """``(deletedDate ms, row)`` of every row deleted in ``[start, stop)``, oldest first."""
    found = [
        (change.deleted_ms, row)
        for row, change in snapshot.overlay.items()
        if change.deleted
        and change.deleted_ms is not None
        and start <= change.deleted_ms < stop
        and row < snapshot.total_rows
    ]
    # Generated rows deleted before any change: their deletion is their base SystemModstamp,
    # which never decreases with the row number, so the window is a row range.
    first = data.stamps.rows_at_or_after(start)
    last = data.stamps.rows_at_or_after(stop)
    for row in range(first, last):
        if row not in snapshot.overlay and data.base_deleted(row):
            ms = data.base_typed("SystemModstamp", row)
            assert isinstance(ms, int)
            found.append((ms, row))
    found.sort()
    return found


def get_updated(
    data: ObjectData | None,
    snapshot: Snapshot,
    start: int,
    end: int,
    now_ms: int,
    *,
    oldest_open_ms: int | None,
) -> dict[str, object]:
    """The getUpdated response body; ``oldest_open_ms`` is when the oldest open transaction began."""
    _check_window(start, end, now_ms, UPDATED_RETENTION_MS)
    covered = min(end, now_ms - now_ms % MS_PER_MINUTE)
    if oldest_open_ms is not None:
        covered = min(covered, oldest_open_ms - oldest_open_ms % MS_PER_MINUTE)
    found = updates(data, snapshot, start, covered) if data is not None else []
    if len(found) > MAX_IDS:
        raise SalesforceError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"More than {MAX_IDS} ids found; choose start and end dates closer together",
        )
    id_of = data.ids.id_of if data is not None else str
    return {"ids": [id_of(row) for row in found], "latestDateCovered": rest_datetime(covered)}


def updates(data: ObjectData, snapshot: Snapshot, start: int, stop: int) -> list[int]:
    """Rows not deleted whose SystemModstamp lies in ``[start, stop)``, oldest first."""
    found = [
        (change.modstamp_ms, row)
        for row, change in snapshot.overlay.items()
        if not change.deleted and start <= change.modstamp_ms < stop and row < snapshot.total_rows
    ]
    first = data.stamps.rows_at_or_after(start)
    last = data.stamps.rows_at_or_after(stop)
    for row in range(first, last):
        if row not in snapshot.overlay and not data.base_deleted(row):
            ms = data.base_typed("SystemModstamp", row)
            assert isinstance(ms, int)
            found.append((ms, row))
    found.sort()
    return [row for _, row in found]
