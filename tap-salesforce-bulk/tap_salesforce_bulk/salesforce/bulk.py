"""Bulk API 2.0 query job lifecycle: create, poll, results, abort, delete. One method per call.

https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import (
    BulkJobError,
    SalesforceApiError,
    SalesforceError,
    SalesforceRetriableError,
)
from tap_salesforce_bulk.salesforce.orphans import orphans_of
from tap_salesforce_bulk.salesforce.retry import retrying
from tap_salesforce_bulk.salesforce.timestamps import format_datetime, parse_datetime

logger = logging.getLogger(__name__)

POLL_FIRST_INTERVAL_SECONDS = 0.25
POLL_MAX_INTERVAL_SECONDS = 15.0
POLL_GROWTH = 1.5
# resultPages (parallel result URLs) exists from API 58.0 on.
# https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_parallel_job_results.htm
RESULT_PAGES_MIN_API_VERSION = 58.0
LAST_PAGE_LOCATOR = "null"  # Salesforce sends the literal string "null" on the last page
JOB_LIST_MAX_PAGES = 1_000  # 1,000 jobs a page: far more than 7 days of the daily 10,000


class JobState(StrEnum):
    """Bulk 2.0 job states."""

    OPEN = "Open"
    UPLOAD_COMPLETE = "UploadComplete"
    IN_PROGRESS = "InProgress"
    JOB_COMPLETE = "JobComplete"
    FAILED = "Failed"
    ABORTED = "Aborted"


TERMINAL_STATES = frozenset({JobState.JOB_COMPLETE, JobState.FAILED, JobState.ABORTED})


class Operation(StrEnum):
    """``queryAll`` also returns deleted and archived records."""

    QUERY = "query"
    QUERY_ALL = "queryAll"


@dataclass(frozen=True)
class JobInfo:
    """The fields of a job's info the tap acts on."""

    id: str
    state: JobState | str
    created_date: str | None
    records_processed: int | None
    error_message: str | None
    api_version: str | None
    object_name: str | None = None
    created_by_id: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> JobInfo:
        """Parse the JSON Salesforce returns for a job."""
        state = str(body.get("state", ""))
        created = body.get("createdDate")
        processed = body.get("numberRecordsProcessed")
        version = body.get("apiVersion")
        return cls(
            id=str(body["id"]),
            state=JobState(state) if state in JobState.__members__.values() else state,
            created_date=format_datetime(parse_datetime(str(created))) if created else None,
            records_processed=int(processed) if processed is not None else None,
            error_message=body.get("errorMessage"),
            api_version=f"{float(version):.1f}" if version is not None else None,
            object_name=body.get("object"),
            created_by_id=body.get("createdById"),
        )

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change."""
        return self.state in TERMINAL_STATES


def next_poll_interval(previous: float, rng: Callable[[], float] = random.random) -> float:
    """Poll slowly more often as a job runs long, with a little jitter, capped."""
    grown = min(POLL_MAX_INTERVAL_SECONDS, previous * POLL_GROWTH)
    return grown * (0.9 + rng() * 0.2)


def locator_of(url: str) -> str | None:
    """The ``locator`` query parameter of a result URL, None for the first page."""
    values = parse_qs(urlsplit(url).query).get("locator")
    return values[0] if values else None


class BulkApi:
    """Bulk 2.0 query job calls on one client."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._created: set[str] = set()  # every job this run created: never an orphan

    @property
    def supports_result_pages(self) -> bool:
        """Whether the configured API version has the parallel ``resultPages`` resource."""
        return float(self.client.api_version) >= RESULT_PAGES_MIN_API_VERSION

    def create_query_job(self, soql: str, operation: Operation) -> JobInfo:
        """POST jobs/query. CSV with comma and LF are asked for explicitly, not assumed."""
        body = {
            "operation": operation.value,
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        }
        lost_answers: list[str] = []
        first_attempt = time.monotonic()

        @retrying()
        def attempt() -> requests.Response:
            try:
                return self.client.send_once(
                    "POST", "jobs/query", json=body, ok_statuses=(200, 201)
                )
            except SalesforceRetriableError as exc:  # the job may exist all the same
                lost_answers.append(str(exc))
                raise

        info = JobInfo.from_json(attempt().json())
        with self._lock:
            self._created.add(info.id)
        if lost_answers:
            self._abort_orphans(info, time.monotonic() - first_attempt, lost_answers[0])
        return info

    def list_query_jobs(self) -> Iterator[JobInfo]:
        """GET jobs/query (Bulk API 2.0 query jobs of the whole org), page after page. The
        next page is asked for by its ``queryLocator``, read out of ``nextRecordsUrl``."""
        params = {"jobType": "V2Query"}
        seen: set[str] = set()
        for _ in range(JOB_LIST_MAX_PAGES):
            body = self.client.get_json("jobs/query", params)
            for record in body.get("records") or []:
                if isinstance(record, dict) and record.get("id"):
                    yield JobInfo.from_json(record)
            next_url = body.get("nextRecordsUrl")
            locator = (
                parse_qs(urlsplit(str(next_url)).query).get("queryLocator") if next_url else None
            )
            if body.get("done", True) or not locator or locator[0] in seen:
                return
            seen.add(locator[0])
            params = {"jobType": "V2Query", "queryLocator": locator[0]}

    def _abort_orphans(self, created: JobInfo, seconds: float, lost_answer: str) -> None:
        """Abort and delete the jobs earlier attempts of a create may have left (logged by id)."""
        try:
            with self._lock:
                tracked = set(self._created)
            orphans = orphans_of(
                created,
                self.list_query_jobs(),
                tracked=tracked,
                seconds_since_first_attempt=seconds,
            )
            for orphan in orphans:
                if not orphan.is_terminal:
                    self.abort(orphan.id)
                logger.warning(
                    "%s Bulk job %s (%s, %s): an earlier attempt to create job %s created it "
                    "before its answer was lost (%s)",
                    "Deleting" if orphan.is_terminal else "Aborted",
                    orphan.id,
                    orphan.object_name,
                    orphan.state,
                    created.id,
                    lost_answer,
                )
                self.delete(orphan.id)
        except (SalesforceError, SalesforceRetriableError) as exc:
            logger.warning(
                "Could not look for Bulk jobs left by the lost answer to creating job %s (%s); "
                "check Setup > Bulk Data Load Jobs for %s jobs of this user",
                created.id,
                exc,
                created.object_name,
            )

    def job_info(self, job_id: str) -> JobInfo:
        """GET jobs/query/{id}."""
        return JobInfo.from_json(self.client.get_json(f"jobs/query/{job_id}"))

    def wait_until_done(
        self,
        job_id: str,
        *,
        max_wait_seconds: float,
        on_poll: Callable[[JobInfo], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> JobInfo:
        """Poll until JobComplete; Failed/Aborted raise, and so does a job past its deadline
        (after aborting it, so it stops using the org's resources)."""
        deadline = clock() + max_wait_seconds
        interval = POLL_FIRST_INTERVAL_SECONDS
        while True:
            info = self.job_info(job_id)
            if on_poll is not None:
                on_poll(info)
            if info.state == JobState.JOB_COMPLETE:
                return info
            if info.state in {JobState.FAILED, JobState.ABORTED}:
                detail = info.error_message or "Salesforce gave no errorMessage"
                raise BulkJobError(job_id, str(info.state), detail)
            remaining = deadline - clock()
            if remaining <= 0:
                self.abort(job_id)
                detail = (
                    f"still {info.state} after max_wait_time ({max_wait_seconds:g} s); the tap "
                    "aborted it. Raise max_wait_time or narrow the query (start_date, window_days)"
                )
                raise BulkJobError(job_id, "timed out", detail)
            sleep(min(interval, remaining))
            interval = next_poll_interval(interval)

    def abort(self, job_id: str) -> None:
        """PATCH state=Aborted; a job that already ended is left as it is."""
        try:
            self.client.request("PATCH", f"jobs/query/{job_id}", json={"state": "Aborted"})
            logger.info("Aborted Bulk job %s", job_id)
        except SalesforceApiError as exc:
            logger.info("Bulk job %s was not aborted (%s)", job_id, exc.failure.error_code)

    def delete(self, job_id: str) -> None:
        """DELETE the job and its stored results; a job already gone is fine."""
        try:
            self.client.request("DELETE", f"jobs/query/{job_id}", ok_statuses=(200, 204))
        except SalesforceApiError as exc:
            logger.info("Bulk job %s was not deleted (%s)", job_id, exc.failure.error_code)

    def open_results(
        self, job_id: str, locator: str | None, max_records: int | None
    ) -> requests.Response:
        """GET one results page as a stream, gzip requested."""
        params: dict[str, Any] = {}
        if locator:
            params["locator"] = locator
        if max_records:
            params["maxRecords"] = max_records
        return self.open_result_url(f"jobs/query/{job_id}/results", params)

    def open_result_url(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET a results URL (as given by resultPages, or built) as a stream."""
        return self.client.request(
            "GET",
            path,
            params=params,
            stream=True,
            headers={"Accept": "text/csv", "Accept-Encoding": "gzip"},
        )

    def result_page_urls(self, job_id: str) -> Iterator[str]:
        """The result URLs from ``resultPages``, following its next-batch link until done."""
        path: str | None = f"jobs/query/{job_id}/resultPages"
        while path:
            body = self.client.get_json(path)
            for page in body.get("resultPages") or []:
                url = page.get("resultUrl") if isinstance(page, dict) else None
                if url:
                    yield str(url)
            if body.get("done", True):
                return
            # The documentation spells the link both nextRecordsUrl and nextRecordUrl.
            path = body.get("nextRecordsUrl") or body.get("nextRecordUrl")
