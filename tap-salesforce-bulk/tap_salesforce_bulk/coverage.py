"""How far Salesforce vouches for each object this run: getUpdated's ``latestDateCovered``.

It is asked once per object per run, right before the object's first Bulk job is created. Every
transaction still open when that job takes its snapshot was then either already open when
getUpdated answered (so ``latestDateCovered`` is at or before its start), or began after the
call (so its stamps are at or after it, and at or after ``latestDateCovered``). A bookmark that
never passes ``latestDateCovered`` (see :func:`bookmarks.bookmark_after_job`) is therefore read
again from before every such row: reads resume with ``>=`` the bookmark. Asking after the job
was created would miss a transaction that committed in between.

Objects that describe calls not ``replicateable``, or whose getUpdated fails, keep the older
guard alone: the bookmark stays ``lag_seconds`` behind each job's creation.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import SalesforceError, SalesforceRetriableError
from tap_salesforce_bulk.salesforce.replication import latest_date_covered

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The tap's clock (UTC)."""
    return dt.datetime.now(dt.UTC)


class ReplicationCoverage:
    """``latestDateCovered`` per object, asked at most once per run."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        lag_seconds: float,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._client = client
        self._lag_seconds = lag_seconds
        self._clock = clock
        self._replicateable: dict[str, bool] = {}
        self._covered: dict[str, str | None] = {}

    def expect(self, object_name: str, *, replicateable: bool) -> None:
        """An object whose jobs move a bookmark: ask for it before its first job."""
        self._replicateable[object_name] = replicateable

    def before_job(self, object_name: str) -> None:
        """Called before every job is created; asks Salesforce only before an object's first."""
        if object_name in self._covered or object_name not in self._replicateable:
            return
        self._covered[object_name] = self._ask(object_name)

    def covered(self, object_name: str) -> str | None:
        """``latestDateCovered`` as asked this run, or None (not asked, or lag alone)."""
        return self._covered.get(object_name)

    def _ask(self, object_name: str) -> str | None:
        fallback = (
            f"its bookmark stays lag_seconds ({self._lag_seconds:g} s) behind each Bulk job's "
            "creation, so a transaction open longer than that can commit rows the next run "
            "does not read"
        )
        if not self._replicateable[object_name]:
            logger.info(
                "%s: not replicateable (describe), so getUpdated cannot say which transactions "
                "are still open; %s",
                object_name,
                fallback,
            )
            return None
        try:
            return latest_date_covered(self._client, object_name, now=self._clock())
        except (SalesforceError, SalesforceRetriableError, ValueError) as exc:
            logger.info("%s: getUpdated failed (%s); %s", object_name, exc, fallback)
            return None
