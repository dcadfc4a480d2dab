"""What one tap run shares between its streams: settings, the Salesforce client, the job pipeline.

Streams get this object, not the Tap: it is all they need from the run, and it keeps the stream
modules free of the tap module (no import cycle).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tap_salesforce_bulk.batch_config import parse_batch_config
from tap_salesforce_bulk.coverage import ReplicationCoverage
from tap_salesforce_bulk.jobs import JobPipeline, JobRequest
from tap_salesforce_bulk.outcomes import ObjectOutcomes
from tap_salesforce_bulk.salesforce.auth import SalesforceAuthenticator
from tap_salesforce_bulk.salesforce.bulk import BulkApi
from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.limits import QuotaGuard
from tap_salesforce_bulk.settings import TapSettings


def fields_digest(fields: Sequence[str], operation: str) -> str:
    """A short fingerprint of a query's shape, so a saved job is only resumed for the same query."""
    return hashlib.sha256(f"{operation}:{','.join(fields)}".encode()).hexdigest()[:16]


class SyncRuntime:
    """Settings checked at once; the client connects lazily on first use (no HTTP here)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.started_at = dt.datetime.now(dt.UTC)
        self.settings = TapSettings.from_config(config, now=self.started_at)
        #: The batch lane's settings (``batch_config``); None: RECORD lines.
        self.batch = parse_batch_config(config)
        # TLS certificates are always checked; REQUESTS_CA_BUNDLE points requests at a
        # corporate CA when a proxy re-signs traffic.
        self.auth = SalesforceAuthenticator(
            self.settings.credentials,
            login_url=self.settings.login_url,
            api_version=self.settings.api_version,
        )
        self.client = SalesforceClient(self.auth)
        self.bulk = BulkApi(self.client)
        self.guard = QuotaGuard(self.client, self.settings.max_api_usage_percent)
        self.coverage = ReplicationCoverage(self.client, lag_seconds=self.settings.lag_seconds)
        self._planner: Callable[[], Sequence[JobRequest]] = list
        self._pipeline: JobPipeline | None = None
        self.outcomes = ObjectOutcomes()

    def plan_jobs_with(self, planner: Callable[[], Sequence[JobRequest]]) -> None:
        """Name what lists the run's jobs; it is asked once, when the first stream needs a job."""
        self._planner = planner

    @property
    def pipeline(self) -> JobPipeline:
        """The job pipeline: every job of the run planned on first use, so Salesforce runs
        jobs ahead while the tap reads; jobs left over at exit are aborted and deleted."""
        if self._pipeline is None:
            pipeline = JobPipeline(
                self.bulk,
                self.guard,
                self.settings.max_parallel_jobs,
                before_create=self.coverage.before_job,
            )
            pipeline.plan(self._planner())
            atexit.register(pipeline.close)
            self._pipeline = pipeline
        return self._pipeline
