"""The quota guard: read ``/limits`` before creating jobs, and stop while there is budget left.

Salesforce counts these allocations over a rolling 24-hour window, so capacity comes back
gradually as older usage ages out; there is no single reset time to wait for.
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm

``/limits`` is only for users with the View Setup and Configuration permission. For a user
without it the guard reads DailyApiRequests from the ``Sforce-Limit-Info`` header every REST
response carries, and says once that the Bulk allocations go unwatched.
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import (
    QuotaGuardError,
    SalesforceApiError,
    is_permission_refusal,
)

logger = logging.getLogger(__name__)

# Allocations the tap spends, with what it spends of each per job.
WATCHED_LIMITS = ("DailyApiRequests", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB")
API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True)
class Allocation:
    """One ``/limits`` entry."""

    name: str
    maximum: int
    remaining: int

    @property
    def used_percent(self) -> float:
        """Share of the allocation already used."""
        return 100.0 * (self.maximum - self.remaining) / self.maximum if self.maximum else 0.0


def parse_limits(body: Mapping[str, Any]) -> dict[str, Allocation]:
    """The watched allocations present in a ``/limits`` response."""
    found: dict[str, Allocation] = {}
    for name in WATCHED_LIMITS:
        entry = body.get(name)
        if isinstance(entry, Mapping) and "Max" in entry and "Remaining" in entry:
            found[name] = Allocation(name, int(entry["Max"]), int(entry["Remaining"]))
    return found


def parse_limit_info(header: str | None) -> dict[str, Allocation]:
    """DailyApiRequests from a ``Sforce-Limit-Info: api-usage=used/max`` header."""
    match = API_USAGE.search(header or "")
    if match is None:
        return {}
    used, maximum = int(match.group(1)), int(match.group(2))
    return {"DailyApiRequests": Allocation("DailyApiRequests", maximum, maximum - used)}


def exhausted_allocation(
    allocations: Mapping[str, Allocation], max_usage_percent: float
) -> Allocation | None:
    """The first allocation at or above the budget, or with nothing left at all."""
    return next(
        (
            a
            for a in allocations.values()
            if a.remaining <= 0 or a.used_percent >= max_usage_percent
        ),
        None,
    )


def quota_message(allocation: Allocation, max_usage_percent: float) -> str:
    """What stopped the tap, and when it can go on."""
    return (
        f"Stopped before creating a Bulk query job: {allocation.name} has {allocation.remaining:,} "
        f"of {allocation.maximum:,} left ({allocation.used_percent:.0f}% used; "
        f"max_api_usage_percent is {max_usage_percent:g}). Salesforce counts it over a rolling "
        "24-hour window, so capacity returns as older usage ages out; the state written so far "
        "is resumable, so rerun later (or raise max_api_usage_percent)"
    )


class QuotaGuard:
    """Checks the org's allocations before each job the tap creates."""

    def __init__(self, client: SalesforceClient, max_usage_percent: float) -> None:
        self._client = client
        self.max_usage_percent = max_usage_percent
        self.last_seen: dict[str, Allocation] = {}
        self.refusal: str | None = None  # why /limits cannot be read, once it was refused

    def read(self) -> dict[str, Allocation]:
        """GET /limits, or DailyApiRequests from the last response header when it is refused."""
        if self.refusal is None:
            try:
                self.last_seen = parse_limits(self._client.get_json("limits"))
                return self.last_seen
            except SalesforceApiError as exc:
                if not is_permission_refusal(exc):
                    raise
                failure = exc.failure
                self.refusal = f"HTTP {failure.status} {failure.error_code or ''}".strip()
                logger.warning(
                    "Salesforce refused /limits (%s): the user lacks the View Setup and "
                    "Configuration permission, so the quota guard watches only DailyApiRequests "
                    "(from the Sforce-Limit-Info header); DailyBulkV2QueryJobs and "
                    "DailyBulkV2QueryFileStorageMB go unchecked",
                    self.refusal,
                )
        self.last_seen = parse_limit_info(self._client.last_limit_info)
        return self.last_seen

    def check_before_job(self) -> None:
        """Raise :class:`QuotaGuardError` when a job would eat into the reserved budget."""
        allocations = self.read()
        exhausted = exhausted_allocation(allocations, self.max_usage_percent)
        if exhausted is not None:
            raise QuotaGuardError(quota_message(exhausted, self.max_usage_percent))
        api = allocations.get("DailyApiRequests")
        if api is not None:
            logger.debug("DailyApiRequests: %d of %d left", api.remaining, api.maximum)
