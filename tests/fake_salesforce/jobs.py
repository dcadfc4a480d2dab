"""Bulk API 2.0 query jobs: creation, the UploadComplete -> InProgress -> JobComplete lifecycle,
abort, delete, and each job's frozen result rows.

Job info fields and example values from "Get Information About a Query Job"
(https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_one_job.htm):
``createdDate``/``systemModstamp`` spelled ``2018-12-10T17:50:19.000+0000``, ``apiVersion`` a
number, ``jobType`` ``V2Query``, ``concurrencyMode`` ``Parallel``. A job's rows are decided when
it starts processing (snapshot), so changes made while it runs or after it completes never alter
its pages; their order is shuffled, since Bulk results are not sorted by anything.
"""

from __future__ import annotations

import heapq
import math
import random
import threading
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.fake_salesforce.clock import EmulatorClock, rest_datetime
from tests.fake_salesforce.csv_render import BlockRenderer, compile_renderer, header_line
from tests.fake_salesforce.dataset import Snapshot
from tests.fake_salesforce.errors import SalesforceError, not_found
from tests.fake_salesforce.ids import KEY_PREFIXES, make_id
from tests.fake_salesforce.limits import Limits
from tests.fake_salesforce.soql_check import CheckedQuery
from tests.fake_salesforce.soql_eval import matching_rows, order_rows
from tests.fake_salesforce.vocabulary import ColumnDelimiter, JobState, LineEnding, Operation

SAMPLE_ROWS_FOR_WIDTH = 200
BYTES_PER_MB = 1024 * 1024
# When maxRecords is absent Salesforce returns "as many rows as can be listed" subject to size
# limits; the only documented per-file size is Bulk API's 1 GB result file, so default pages hold
# as many rows as fit in 1 GiB of CSV (estimated from the job's average row width).
DEFAULT_PAGE_BYTES = 1024 * 1024 * 1024


@dataclass
class QueryJob:
    """One query job and, once complete, its rows."""

    id: str
    operation: Operation
    object_name: str
    query: CheckedQuery
    created_by: str
    created_ms: int
    api_version: str
    column_delimiter: ColumnDelimiter
    line_ending: LineEnding
    state: JobState = JobState.UPLOAD_COMPLETE
    modstamp_ms: int = 0
    error_message: str | None = None
    started_ms: int | None = None
    finished_ms: int | None = None
    rows: Sequence[int] = field(default_factory=list)
    snapshot: Snapshot | None = None
    fate: str = "complete"  # complete | fail | abort | stuck (decided by job faults)
    fate_message: str = ""
    average_row_bytes: int = 0
    _renderer: BlockRenderer | None = None

    @property
    def number_records_processed(self) -> int:
        """Rows produced (0 until complete)."""
        return len(self.rows) if self.state is JobState.JOB_COMPLETE else 0

    def info(self, *, brief: bool = False) -> dict[str, object]:
        """Job info JSON; ``brief`` is the create response (no counters, no jobType)."""
        body: dict[str, object] = {
            "id": self.id,
            "operation": self.operation.value,
            "object": self.object_name,
            "createdById": self.created_by,
            "createdDate": rest_datetime(self.created_ms),
            "systemModstamp": rest_datetime(self.modstamp_ms or self.created_ms),
            "state": self.state.value,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": self.line_ending.value,
            "columnDelimiter": self.column_delimiter.value,
        }
        if brief:
            return body
        body["jobType"] = "V2Query"
        body["numberRecordsProcessed"] = self.number_records_processed
        body["retries"] = 0
        total = (self.finished_ms - self.created_ms) if self.finished_ms else 0
        body["totalProcessingTime"] = total
        body["isPkChunkingSupported"] = True
        if self.state is JobState.FAILED:
            body["errorMessage"] = self.error_message
        return body

    def renderer(self) -> BlockRenderer:
        """The compiled CSV renderer for this job's fields and CSV options."""
        if self._renderer is None:
            data = self.query.data
            assert data is not None
            assert self.snapshot is not None
            self._renderer = compile_renderer(
                data,
                self.query.fields,
                self.column_delimiter.char,
                self.line_ending.chars,
                self.snapshot.total_rows,
            )
        return self._renderer

    def header(self) -> str:
        """The CSV header row."""
        return header_line(self.query.fields, self.column_delimiter.char, self.line_ending.chars)


class JobStore:
    """All jobs of the org and the background thread that processes them."""

    def __init__(
        self,
        clock: EmulatorClock,
        limits: Limits,
        seed: int,
        processing_seconds: float,
        shuffle: bool,
        default_page_records: int | None,
    ) -> None:
        self.clock = clock
        self.limits = limits
        self.seed = seed
        self.processing_seconds = processing_seconds
        self.shuffle = shuffle
        self.default_page_records = default_page_records
        self._jobs: dict[str, QueryJob] = {}
        self._order: list[str] = []
        self._final_states: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[tuple[float, int, str, str]] = []
        self._sequence = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="fake-sf-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the processing thread."""
        with self._lock:
            self._stopped = True
            self._wake.notify_all()

    # ---- public operations -----------------------------------------------------------------
    def create(
        self,
        checked: CheckedQuery,
        operation: Operation,
        created_by: str,
        api_version: str,
        delimiter: ColumnDelimiter,
        line_ending: LineEnding,
        fate: str,
        fate_message: str,
    ) -> QueryJob:
        """Register a job (already validated) and schedule its processing."""
        now = self.clock.now_ms()
        with self._lock:
            self._sequence += 1
            job = QueryJob(
                make_id(KEY_PREFIXES["QueryJob"], 10_000 + self._sequence),
                operation,
                checked.object_name,
                checked,
                created_by,
                now,
                api_version,
                delimiter,
                line_ending,
                modstamp_ms=now,
                fate=fate,
                fate_message=fate_message,
            )
            self._jobs[job.id] = job
            self._order.append(job.id)
            due = time.monotonic() + self.processing_seconds / 2
            heapq.heappush(self._queue, (due, self._sequence, job.id, "start"))
            self._wake.notify_all()
        return job

    def get(self, job_id: str) -> QueryJob:
        """A job by id, or 404."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def all(self) -> list[QueryJob]:
        """Every job, oldest first."""
        with self._lock:
            return [self._jobs[job_id] for job_id in self._order if job_id in self._jobs]

    def abort(self, job_id: str) -> QueryJob:
        """Client abort: only UploadComplete and InProgress jobs can be aborted."""
        job = self.get(job_id)
        with self._lock:
            if job.state.is_terminal:
                word = {
                    JobState.JOB_COMPLETE: "Completed",
                    JobState.FAILED: "Failed",
                    JobState.ABORTED: "Aborted",
                }[job.state]
                raise SalesforceError(
                    400, "INVALIDJOBSTATE", f"Aborting already {word} Job not allowed"
                )
            self._set_state(job, JobState.ABORTED)
        return job

    def delete(self, job_id: str) -> None:
        """Delete a terminal job (JobComplete, Aborted or Failed)."""
        job = self.get(job_id)
        with self._lock:
            if not job.state.is_terminal:
                raise SalesforceError(
                    400,
                    "API_ERROR",
                    "Error encountered when deleting the job because the job is not terminated",
                )
            self._jobs.pop(job_id, None)
            self._final_states[job.state.value] += 1

    def states(self) -> dict[str, int]:
        """Jobs per state (deleted jobs counted in the state they ended in)."""
        with self._lock:
            counts = Counter(self._final_states)
            counts.update(job.state.value for job in self._jobs.values())
            return dict(counts)

    def page_size(self, job: QueryJob) -> int:
        """Rows per page when the request gives no maxRecords."""
        if self.default_page_records:
            return self.default_page_records
        return max(1, DEFAULT_PAGE_BYTES // max(1, job.average_row_bytes))

    # ---- processing --------------------------------------------------------------------------
    def _set_state(self, job: QueryJob, state: JobState) -> None:
        job.state = state
        job.modstamp_ms = self.clock.now_ms()
        if state.is_terminal:
            job.finished_ms = job.modstamp_ms

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, job_id, action = heapq.heappop(self._queue)
                job = self._jobs.get(job_id)
            if job is None:
                continue
            try:
                if action == "start":
                    self._start(job)
                else:
                    self._finish(job)
            except Exception as exc:
                with self._lock:
                    job.error_message = f"InternalServerError : {exc}"
                    self._set_state(job, JobState.FAILED)

    def _start(self, job: QueryJob) -> None:
        # Freeze the data before the job is seen InProgress: a change made once a client has
        # observed InProgress must never reach this job's results.
        data = job.query.data
        snapshot = data.snapshot(self.clock.now_ms()) if data is not None else Snapshot(0, {}, 0)
        with self._lock:
            if job.state is not JobState.UPLOAD_COMPLETE:
                return
            job.snapshot = snapshot
            self._set_state(job, JobState.IN_PROGRESS)
            job.started_ms = job.modstamp_ms
        if job.query.count_only:
            rows: Sequence[int] = array("i")
        else:
            matched = matching_rows(job.query, snapshot, job.operation)
            if job.query.order_by:
                rows = order_rows(job.query, snapshot, matched)
            else:
                if self.shuffle:
                    random.Random(self.seed * 7_368_787 + int(job.id[-8:-3], 36)).shuffle(matched)
                rows = matched
            if job.query.query.limit is not None:
                rows = rows[: job.query.query.limit]
        job.rows = rows
        if rows:
            sample = rows[:: max(1, len(rows) // SAMPLE_ROWS_FOR_WIDTH)][:SAMPLE_ROWS_FOR_WIDTH]
            text = job.renderer()(sample, snapshot.overlay)
            job.average_row_bytes = max(1, len(text.encode()) // len(sample))
        if job.fate == "stuck":
            return
        due = time.monotonic() + self.processing_seconds / 2
        with self._lock:
            self._sequence += 1
            heapq.heappush(self._queue, (due, self._sequence, job.id, "finish"))
            self._wake.notify_all()

    def _finish(self, job: QueryJob) -> None:
        with self._lock:
            if job.state is not JobState.IN_PROGRESS:
                return
            if job.fate == "fail":
                job.error_message = job.fate_message
                self._set_state(job, JobState.FAILED)
                return
            if job.fate == "abort":
                self._set_state(job, JobState.ABORTED)
                return
            megabytes = math.ceil(job.average_row_bytes * len(job.rows) / BYTES_PER_MB)
            self.limits.take("DailyBulkV2QueryFileStorageMB", megabytes)
            self._set_state(job, JobState.JOB_COMPLETE)
