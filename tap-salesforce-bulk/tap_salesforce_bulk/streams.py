"""The sObject stream: which query, which windows, which bookmark, and reading a job's pages.

The SDK's own bookmarking is switched off for these streams (Bulk 2.0 results are unsorted, and
the SDK would take the bookmark from record values). This stream writes its state itself:

* ``replication_key_value``: every record whose key is below it has been emitted. It only moves
  when a whole job (an object or a window of it) has been emitted, to the limit
  :func:`bookmarks.bookmark_after_job` allows.
* ``bulk_job``: the job being read, its API version and the locator of the first page not yet
  fully emitted, so an interrupted run continues from that page within the job's 7-day life.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tap_salesforce_bulk.base import BulkRecordStream
from tap_salesforce_bulk.bookmarks import bookmark_after_job, plan_windows, starting_point
from tap_salesforce_bulk.bulk import JobInfo, Operation
from tap_salesforce_bulk.errors import (
    ResultCountMismatchError,
    SalesforceApiError,
    is_unsupported_object,
)
from tap_salesforce_bulk.jobs import JobRequest, ResumePoint, Ticket
from tap_salesforce_bulk.progress import JobProgress
from tap_salesforce_bulk.records import RecordBuilder
from tap_salesforce_bulk.runtime import fields_digest
from tap_salesforce_bulk.schema import ObjectSpec
from tap_salesforce_bulk.soql import TimeWindow, build_query
from tap_salesforce_bulk.timestamps import normalize_datetime

if TYPE_CHECKING:
    from tap_salesforce_bulk.tap import TapSalesforceBulk

JOB_STATE_KEY = "bulk_job"
SYNCED_FIELDS_KEY = "synced_fields"
PROGRESS_CHECK_EVERY_ROWS = 5000
REST_SAMPLE_PATH = "query"


class SObjectStream(BulkRecordStream):
    """One Salesforce object, extracted with Bulk API 2.0 query jobs."""

    def __init__(self, tap: TapSalesforceBulk, spec: ObjectSpec) -> None:
        super().__init__(tap, name=spec.name, schema=spec.schema, fields=spec.fields)
        self.spec = spec
        self.primary_keys = ["Id"]
        self.replication_key = spec.replication_key
        self.incremental = False
        self.new_fields: list[str] = []

    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """The later of a bookmark and ``start_date``, which may be relative (``7d``)."""
        resolved = self.runtime.settings.start_date
        return starting_point(value, resolved) or value

    # --- Planning ---

    @property
    def operation(self) -> Operation:
        """``queryAll`` when deleted rows are wanted."""
        return Operation.QUERY_ALL if self.runtime.settings.include_deleted else Operation.QUERY

    def selected_fields(self) -> list[str]:
        """Selected fields in describe order; Id, the replication key and IsDeleted always."""
        always = {"Id", self.replication_key}
        if self.runtime.settings.include_deleted:
            always.add("IsDeleted")
        return [
            name
            for name in self.spec.fields
            if name in always or self.mask.get(("properties", name), True)
        ]

    def _query(self, fields: list[str], window: TimeWindow, limit: int | None = None) -> str:
        return build_query(
            self.name,
            fields,
            described_fields=self.spec.fields.keys(),
            described_objects={self.name},
            replication_key=self.replication_key,
            window=window,
            limit=limit,
        )

    def _saved_job(self) -> dict[str, Any] | None:
        saved = self.stream_state.get(JOB_STATE_KEY)
        return saved if isinstance(saved, dict) and saved.get("id") else None

    def _bookmark(self) -> str | None:
        state = self.stream_state
        if self.replication_key and state.get("replication_key") == self.replication_key:
            value = state.get("replication_key_value")
            return normalize_datetime(str(value)) if value else None
        return None

    def plan_requests(self) -> list[JobRequest]:
        """Every job this stream needs this run, in order, resuming a saved job if it fits."""
        settings = self.runtime.settings
        fields = self.selected_fields()
        digest = fields_digest(fields, self.operation.value)
        requests: list[JobRequest] = []
        self.incremental = self._bookmark() is not None
        synced_before = self.stream_state.get(SYNCED_FIELDS_KEY)
        self.new_fields = (
            [name for name in fields if name not in synced_before]
            if self.incremental and isinstance(synced_before, list)
            else []
        )
        if isinstance(synced_before, list):
            self._warn_about_vanished_fields(synced_before)
        start = starting_point(self._bookmark(), settings.start_date)
        saved = self._saved_job()
        if saved and saved.get("digest") == digest:
            window = TimeWindow(saved.get("window_start"), saved.get("window_end"))
            resume = ResumePoint(
                job_id=str(saved["id"]),
                locator=saved.get("locator"),
                records_before=int(saved.get("records_before") or 0),
            )
            requests.append(
                JobRequest(self.name, self._query(fields, window), self.operation, window, resume)
            )
            if not self.replication_key or (
                window.end is None and saved.get("bookmark_after") is None
            ):
                return requests
            start = saved.get("bookmark_after") or window.end
        elif saved:
            self.logger.info("Selected fields changed since job %s; not resuming it", saved["id"])
        if self.replication_key:
            windows = plan_windows(
                start,
                now=self.runtime.started_at,
                window_days=settings.window_days,
                earliest=self._earliest_replication_value,
            )
        else:
            windows = [TimeWindow()]
        requests.extend(
            JobRequest(self.name, self._query(fields, w), self.operation, w) for w in windows
        )
        return requests

    def _earliest_replication_value(self) -> str | None:
        # A REST query (not Bulk) may sort: it reads one row of an indexed field.
        soql = self._query([str(self.replication_key)], TimeWindow())
        soql += f" ORDER BY {self.replication_key} ASC LIMIT 1"
        records = self.runtime.client.get_json(REST_SAMPLE_PATH, {"q": soql}).get("records", [])
        value = records[0].get(self.replication_key) if records else None
        return normalize_datetime(str(value)) if value else None

    # --- Extraction ---

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        """Emit every record of every planned job of this stream."""
        if self.ABORT_AT_RECORD_COUNT is not None:
            # --test and connection tests: a REST query for a few rows, never a Bulk job.
            yield from self.sample_records(self.ABORT_AT_RECORD_COUNT)
            return
        pipeline = self._salesforce_tap.ensure_pipeline()
        for ticket in pipeline.tickets_for(self.name):
            try:
                job = pipeline.take(ticket)
            except SalesforceApiError as exc:
                if not (self._salesforce_tap.syncs_every_object and is_unsupported_object(exc)):
                    raise
                # objects ["*"] means "what Bulk can query": one refusal must not stop the rest.
                self.logger.warning("%s: skipped, Bulk API 2.0 refuses it (%s)", self.name, exc)
                return
            yield from self._read_job(ticket, job)
            pipeline.release(ticket)
        if not self.new_fields:
            # With new fields, the patch stream records this once it has backfilled them.
            self.record_synced_fields()

    def _read_job(self, ticket: Ticket, created: JobInfo) -> Iterator[dict[str, Any]]:
        settings = self.runtime.settings
        bulk = self.runtime.bulk
        pipeline = self._salesforce_tap.ensure_pipeline()
        progress = JobProgress(self.logger, self.name, created.id)
        info = bulk.wait_until_done(
            created.id, max_wait_seconds=settings.max_wait_seconds, on_poll=progress.on_poll
        )
        window = ticket.request.window
        job_created = created.created_date or info.created_date
        bookmark_after = (
            bookmark_after_job(window, job_created=job_created, lag_seconds=settings.lag_seconds)
            if self.replication_key and job_created
            else None
        )
        resume = ticket.resumed
        locator = resume.locator if resume else None
        emitted = resume.records_before if resume else 0
        progress.start_reading(info.records_processed)
        progress.records = emitted
        pipeline.keep.add(created.id)
        job_state = {
            "id": created.id,
            "api_version": self.runtime.client.api_version,
            "digest": fields_digest(self.selected_fields(), self.operation.value),
            "window_start": window.start,
            "window_end": window.end,
            "bookmark_after": bookmark_after,
        }
        self._save_state(job={**job_state, "locator": locator, "records_before": emitted})
        chain_intact = True
        expected_locator: str | None = None
        for page_number, page in enumerate(self.pages(created.id, locator)):
            if page_number and page.locator != expected_locator:
                chain_intact = False  # resultPages order differs from the locator chain
            for record in self.page_records(page, created.id):
                yield record
                emitted += 1
                if emitted % PROGRESS_CHECK_EVERY_ROWS == 0:
                    progress.on_records(PROGRESS_CHECK_EVERY_ROWS)
            progress.on_records(emitted - progress.records, page_done=True)
            expected_locator = page.headers.next_locator if page.headers else None
            if expected_locator is not None:
                # Resume from the next page only if pages came in locator-chain order.
                resume_at = (
                    {"locator": expected_locator, "records_before": emitted}
                    if chain_intact
                    else {"locator": None, "records_before": 0}
                )
                self._save_state(job={**job_state, **resume_at})
        if info.records_processed is not None and emitted != info.records_processed:
            msg = (
                f"{self.name}: job {created.id} reported {info.records_processed:,} records but "
                f"{emitted:,} arrived; rerun to read the job again"
            )
            raise ResultCountMismatchError(msg)
        self._save_state(job=None, bookmark=bookmark_after)
        self.logger.info(
            "%s: job %s done: %s records in %d page(s), %.0f records/s",
            self.name,
            created.id,
            f"{emitted:,}",
            progress.pages,
            progress.rate(),
        )

    def _warn_about_vanished_fields(self, synced_before: list[str]) -> None:
        """Name the fields the last run read that describe no longer returns (a deselected field
        is still described, so it is not named)."""
        vanished = [name for name in synced_before if name not in self.spec.fields]
        if vanished:
            self.logger.warning(
                "%s: %s no longer described by Salesforce (deleted, or hidden from this user by "
                "field-level security): no longer read; the target keeps the column(s)",
                self.name,
                ", ".join(vanished) + (" is" if len(vanished) == 1 else " are"),
            )

    def record_synced_fields(self) -> None:
        """Remember which fields every row now has, so a field added later gets backfilled."""
        self.stream_state[SYNCED_FIELDS_KEY] = self.selected_fields()
        self._tap.state_writer.write_state(self.tap_state)

    def _save_state(self, *, job: dict[str, Any] | None, bookmark: str | None = None) -> None:
        """Update this stream's state in one step and emit it: it covers only emitted records."""
        changes: dict[str, Any] = {JOB_STATE_KEY: job}
        if bookmark is not None and self.replication_key:
            changes["replication_key"] = self.replication_key
            changes["replication_key_value"] = bookmark
        # A finished job is written as null, not removed: Meltano deep-merges the STATE messages
        # of a run into the stored state, so a removed key would keep its old value there.
        self.stream_state.update(changes)
        self._tap.state_writer.write_state(self.tap_state)

    def sample_records(self, limit: int) -> Iterator[dict[str, Any]]:
        """A few records through the REST query resource, typed like Bulk rows."""
        fields = self.selected_fields()
        soql = self._query(fields, TimeWindow(), limit=limit)
        body = self.runtime.client.get_json(REST_SAMPLE_PATH, {"q": soql})
        builder = RecordBuilder(fields, self.spec.fields)
        for raw in body.get("records", [])[:limit]:
            yield builder.build([_rest_value(raw.get(name)) for name in fields])


def _rest_value(value: Any) -> str:
    """REST JSON values rendered the way Bulk CSV would carry them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
