"""What one tap run shares between its streams: settings, the Salesforce client, the job pipeline."""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tap_salesforce_bulk.auth import SalesforceAuthenticator
from tap_salesforce_bulk.bookmarks import DEFAULT_LAG_SECONDS
from tap_salesforce_bulk.bulk import BulkApi
from tap_salesforce_bulk.client import SalesforceClient
from tap_salesforce_bulk.config import positive_number, resolve_start_date
from tap_salesforce_bulk.errors import SettingError
from tap_salesforce_bulk.jobs import JobPipeline, JobRequest
from tap_salesforce_bulk.limits import DEFAULT_MAX_API_USAGE_PERCENT, QuotaGuard

logger = logging.getLogger(__name__)

DEFAULT_MAX_WAIT_SECONDS = 3600.0
DEFAULT_MAX_PARALLEL_JOBS = 3
DEFAULT_MAX_PARALLEL_DOWNLOADS = 3
MAX_PAGE_SIZE = 1_000_000


def _positive_int(config: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{name}: '{value}' must be a whole number of at least 1"
        raise SettingError(msg)
    return value


@dataclass(frozen=True)
class SyncSettings:
    """The extraction settings, validated once."""

    start_date: str | None
    include_deleted: bool
    page_size: int | None
    max_wait_seconds: float
    lag_seconds: float
    window_days: float | None
    max_parallel_jobs: int
    max_parallel_downloads: int
    max_api_usage_percent: float
    reconcile: tuple[str, ...]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, now: dt.datetime) -> SyncSettings:
        """Validate and default every extraction setting; errors name the setting."""
        page_size = _positive_int(config, "page_size", None)
        if page_size is not None and page_size > MAX_PAGE_SIZE:
            msg = f"page_size: {page_size} is above {MAX_PAGE_SIZE:,}; leave it unset to let Salesforce choose"
            raise SettingError(msg)
        lag = config.get("lag_seconds", DEFAULT_LAG_SECONDS)
        if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
            msg = f"lag_seconds: '{lag}' must be a number of seconds, 0 or more"
            raise SettingError(msg)
        usage = positive_number(config, "max_api_usage_percent", DEFAULT_MAX_API_USAGE_PERCENT)
        if usage > 100:
            msg = f"max_api_usage_percent: {usage:g} is above 100"
            raise SettingError(msg)
        window = config.get("window_days")
        return cls(
            start_date=resolve_start_date(config.get("start_date"), now=now),
            include_deleted=bool(config.get("include_deleted", False)),
            page_size=page_size,
            max_wait_seconds=positive_number(config, "max_wait_time", DEFAULT_MAX_WAIT_SECONDS),
            lag_seconds=float(lag),
            window_days=positive_number(config, "window_days", 1.0) if window else None,
            max_parallel_jobs=_positive_int(config, "max_parallel_jobs", DEFAULT_MAX_PARALLEL_JOBS)
            or DEFAULT_MAX_PARALLEL_JOBS,
            max_parallel_downloads=_positive_int(
                config, "max_parallel_downloads", DEFAULT_MAX_PARALLEL_DOWNLOADS
            )
            or DEFAULT_MAX_PARALLEL_DOWNLOADS,
            max_api_usage_percent=usage,
            reconcile=_reconcile_choices(config.get("reconcile")),
        )


def _reconcile_choices(value: Any) -> tuple[str, ...]:
    choices = ("deletes", "formula_fields")
    given = value or []
    if isinstance(given, str):
        given = [given]
    unknown = [v for v in given if v not in choices]
    if unknown:
        msg = f"reconcile: {unknown} are not reconcile passes; use any of {list(choices)}"
        raise SettingError(msg)
    return tuple(given)


def fields_digest(fields: Sequence[str], operation: str) -> str:
    """A short fingerprint of a query's shape, so a saved job is only resumed for the same query."""
    return hashlib.sha256(f"{operation}:{','.join(fields)}".encode()).hexdigest()[:16]


class SyncRuntime:
    """Lazily connects on first use; the tap itself never does HTTP at construction."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self.started_at = dt.datetime.now(dt.UTC)
        self.settings = SyncSettings.from_config(config, now=self.started_at)
        # TLS certificates are always checked; REQUESTS_CA_BUNDLE points requests at a
        # corporate CA when a proxy re-signs traffic.
        self.auth = SalesforceAuthenticator(config)
        self.client = SalesforceClient(self.auth)
        self.bulk = BulkApi(self.client)
        self.guard = QuotaGuard(self.client, self.settings.max_api_usage_percent)
        self._pipeline: JobPipeline | None = None

    @property
    def pipeline(self) -> JobPipeline | None:
        """The job pipeline, once planned."""
        return self._pipeline

    def start_pipeline(self, requests: Sequence[JobRequest]) -> JobPipeline:
        """Plan every job of the run; jobs left over at exit are aborted and deleted."""
        pipeline = JobPipeline(self.bulk, self.guard, self.settings.max_parallel_jobs)
        pipeline.plan(requests)
        self._pipeline = pipeline
        atexit.register(pipeline.close)
        return pipeline
