"""Org limits as ``/services/data/vXX.X/limits`` reports them, counted down as the emulator is used.

Names and maxima: DailyApiRequests, DailyBulkV2QueryJobs (10,000 per 24 h) and
DailyBulkV2QueryFileStorageMB (1 TB = 976,562 MB), per "Bulk API 2.0 limits"
(https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_common_limits.htm)
and the REST "Limits" resource
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm).
Like a real org's answer (SwiftlySalesforce's captured ``MockLimits.json``, see
/work/shared/real-salesforce/PROVENANCE.md), some entries also hold per-connected-app entries
(``"DailyBulkApiBatches": {"Max": .., "Remaining": .., "Dataloader Bulk": {"Max": 0, ...}}``) and
``PermissionSets`` holds ``CreateCustom``: a client must not take every key of an entry for a
number.
"""

from __future__ import annotations

import threading

DEFAULT_LIMITS_MAX = {
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyApiRequests": 1_000_000,
    "DailyAsyncApexExecutions": 250_000,
    "DailyBulkApiBatches": 15_000,
    "DailyBulkV2QueryFileStorageMB": 976_562,
    "DailyBulkV2QueryJobs": 10_000,
    "DataStorageMB": 1_024,
    "FileStorageMB": 2_048,
    "HourlyODataCallout": 10_000,
    "SingleEmail": 5_000,
}


# Entries nested inside a limit, with their maximum, as the real org's answer has them.
NESTED_ENTRIES: dict[str, dict[str, int]] = {
    "DailyBulkApiBatches": {"Ant Migration Tool": 0, "Dataloader Bulk": 0, "Dataloader Partner": 0},
    "DailyStreamingApiEvents": {"Ant Migration Tool": 0, "Dataloader Bulk": 0},
    "PermissionSets": {"CreateCustom": 1_000},
}
DEFAULT_LIMITS_MAX["DailyStreamingApiEvents"] = 10_000
DEFAULT_LIMITS_MAX["PermissionSets"] = 1_500


class Limits:
    """Mutable org limits: ``{"Max": n, "Remaining": m}`` per name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {
            name: {"Max": mx, "Remaining": mx} for name, mx in DEFAULT_LIMITS_MAX.items()
        }

    def set(self, name: str, max: int | None = None, remaining: int | None = None) -> None:
        """Change a limit's Max and/or Remaining (creating it if unknown)."""
        with self._lock:
            entry = self._values.setdefault(name, {"Max": max or 0, "Remaining": max or 0})
            if max is not None:
                entry["Max"] = max
            if remaining is not None:
                entry["Remaining"] = remaining

    def remaining(self, name: str) -> int:
        """What is left of a limit."""
        with self._lock:
            return self._values[name]["Remaining"]

    def take(self, name: str, amount: int = 1) -> bool:
        """Consume ``amount``; False (and nothing consumed) when the limit is exhausted."""
        with self._lock:
            entry = self._values[name]
            if entry["Remaining"] <= 0:
                return False
            entry["Remaining"] = max(0, entry["Remaining"] - amount)
            return True

    def as_json(self) -> dict[str, dict[str, object]]:
        """The body of the limits resource."""
        with self._lock:
            body: dict[str, dict[str, object]] = {
                name: dict(entry) for name, entry in sorted(self._values.items())
            }
        for name, nested in NESTED_ENTRIES.items():
            if name in body:
                body[name].update({app: {"Max": mx, "Remaining": mx} for app, mx in nested.items()})
        return body

    def __getitem__(self, name: str) -> dict[str, int]:
        with self._lock:
            return dict(self._values[name])
