"""The sObject stream: which query, which windows, which bookmark, and reading a job's pages.

The SDK's own bookmarking is switched off for these streams (Bulk 2.0 results are unsorted, and
the SDK would take the bookmark from record values). This stream writes its state itself:

* ``replication_key_value``: every record whose key is below it has been emitted. It only moves
  when a whole job (an object or a window of it) has been emitted, to the limit
  :func:`bookmarks.bookmark_after_job` allows (getUpdated's latestDateCovered, asked before the
  object's first job, and the job's creation minus ``lag_seconds``).
* ``bulk_job``: the job being read, its API version and the locator of the first page not yet
  fully emitted, so an interrupted run continues from that page within the job's 7-day life.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from singer_sdk import Tap
from typing_extensions import override

from tap_salesforce_bulk.base import BulkRecordStream
from tap_salesforce_bulk.bookmarks import (
    bookmark_after_job,
    plan_windows,
    skipped_by_start_date,
    starting_point,
)
from tap_salesforce_bulk.jobs import JobRequest, ResumePoint, Ticket
from tap_salesforce_bulk.records import RecordBuilder
from tap_salesforce_bulk.runtime import SyncRuntime, fields_digest
from tap_salesforce_bulk.salesforce.bulk import JobInfo, Operation
from tap_salesforce_bulk.salesforce.errors import (
    SalesforceError,
    SalesforceRetriableError,
    affects_every_object,
)
from tap_salesforce_bulk.salesforce.rest import QUERY_URI_MAX_BYTES, query_records, query_uri_bytes
from tap_salesforce_bulk.salesforce.timestamps import normalize_datetime
from tap_salesforce_bulk.schema import ObjectSpec
from tap_salesforce_bulk.soql import TimeWindow, build_query, fields_that_fit

JOB_STATE_KEY = "bulk_job"
# Every key a saved job has. A finished job is saved with each of them null: Meltano deep-merges
# a run's STATE messages into the stored state (``--full-refresh``, ``state_strategy: merge``), so
# a removed key would keep its old value there, and Meltano 4.4's merge crashes on a job object
# arriving where the stored state holds a bare null (TypeError: 'NoneType' object does not
# support item assignment).
JOB_STATE_FIELDS = (
    "id",
    "api_version",
    "digest",
    "window_start",
    "window_end",
    "bookmark_after",
    "locator",
    "records_before",
)
SYNCED_FIELDS_KEY = "synced_fields"


class SObjectStream(BulkRecordStream):
    """One Salesforce object, extracted with Bulk API 2.0 query jobs."""

    def __init__(self, tap: Tap, runtime: SyncRuntime, spec: ObjectSpec) -> None:
        super().__init__(tap, runtime, name=spec.name, schema=spec.schema, fields=spec.fields)
        self.spec = spec
        self.primary_keys = ["Id"]
        self.replication_key = spec.replication_key
        self.incremental = False
        self.new_fields: list[str] = []
        self._open_transaction_reported = False
        self.planning_failure: SalesforceError | SalesforceRetriableError | None = None

    @override
    def compare_start_date(self, value: str, start_date_value: str) -> str:
        """Where a run starts: see :func:`bookmarks.starting_point` (a relative ``7d`` never
        passes the bookmark)."""
        settings = self.runtime.settings
        return (
            starting_point(
                value, settings.start_date, start_date_relative=settings.start_date_relative
            )
            or value
        )

    # --- Planning ---

    @property
    def operation(self) -> Operation:
        """``queryAll`` when deleted rows are wanted, and always for objects with archived rows
        (Task, Event): ``query`` leaves archived activities out, though they are live records."""
        if self.runtime.settings.include_deleted or self.spec.has_archived_rows:
            return Operation.QUERY_ALL
        return Operation.QUERY

    @property
    def live_only(self) -> bool:
        """Whether the query needs ``IsDeleted = false``: ``queryAll`` used only for archived
        rows also returns deleted ones, which ``include_deleted`` did not ask for."""
        return self.spec.has_archived_rows and not self.runtime.settings.include_deleted

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
            live_only=self.live_only,
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

    def planned_requests(self) -> list[JobRequest]:
        """This stream's jobs; a failure to plan them is kept for the stream's turn (planning
        runs for every stream at once, and one object must not stop the others)."""
        try:
            return self.plan_requests()
        except (SalesforceError, SalesforceRetriableError) as exc:
            if affects_every_object(exc):
                raise
            self.planning_failure = exc
            return []

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
        if self.replication_key:
            self.runtime.coverage.expect(self.name, replicateable=self.spec.replicateable)
        relative = settings.start_date_relative
        start = starting_point(self._bookmark(), settings.start_date, start_date_relative=relative)
        self._warn_if_start_date_skips(relative)
        saved = self._saved_job()
        if saved and saved.get("digest") == digest:
            window = TimeWindow(saved.get("window_start"), saved.get("window_end"))
            resume = ResumePoint(
                job_id=str(saved["id"]),
                locator=saved.get("locator"),
                records_before=int(saved.get("records_before") or 0),
                bookmark_after=saved.get("bookmark_after"),
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

    def _warn_if_start_date_skips(self, relative: bool) -> None:
        """One warning when ``start_date`` starts this run after the saved bookmark."""
        skipped = skipped_by_start_date(
            self._bookmark(), self.runtime.settings.start_date, start_date_relative=relative
        )
        if skipped:
            self.logger.warning(
                "%s: start_date starts this run after the saved bookmark: changes from %s to %s "
                "are skipped; to read them, set start_date to %s or earlier (or remove it) for "
                "one run",
                self.name,
                skipped[0],
                skipped[1],
                skipped[0],
            )

    def _earliest_replication_value(self) -> str | None:
        # A REST query (not Bulk) may sort: it reads one row of an indexed field.
        key = str(self.replication_key)
        soql = self._query([key], TimeWindow()) + f" ORDER BY {key} ASC LIMIT 1"
        records = self._rest_query(soql)
        value = records[0].get(key) if records else None
        return normalize_datetime(str(value)) if value else None

    # --- Extraction ---

    @override
    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        """Emit every record of every planned job of this stream."""
        if self.ABORT_AT_RECORD_COUNT is not None:
            # --test and connection tests: a REST query for a few rows, never a Bulk job.
            yield from self.sample_records(self.ABORT_AT_RECORD_COUNT)
            return
        try:
            yield from self._records_of_planned_jobs()
        except (SalesforceError, SalesforceRetriableError) as exc:
            # One object's refusal or failure must not stop the others (see ``outcomes``).
            outcomes = self.runtime.outcomes
            every_object = self.runtime.settings.syncs_every_object
            if not outcomes.give_up(self.name, exc, every_object=every_object, logger=self.logger):
                raise
            self.runtime.pipeline.discard(self.name)

    def _records_of_planned_jobs(self) -> Iterator[dict[str, Any]]:
        pipeline = self.runtime.pipeline
        if self.planning_failure is not None:
            raise self.planning_failure
        for ticket in pipeline.tickets_for(self.name):
            job = pipeline.take(ticket)
            yield from self._read_job(ticket, job)
            pipeline.release(ticket)
        if not self.new_fields:
            # With new fields, the patch stream records this once it has backfilled them.
            self.record_synced_fields()

    def _read_job(self, ticket: Ticket, created: JobInfo) -> Iterator[dict[str, Any]]:
        """One job's records, with state saved before the first page and after each one."""
        info, progress = self.wait_for_job(created.id)
        window = ticket.request.window
        job_created = created.created_date or info.created_date
        bookmark_after = (
            self._bookmark_after(ticket, job_created)
            if self.replication_key and job_created
            else None
        )
        self.runtime.pipeline.keep.add(created.id)
        job_state: dict[str, Any] = {
            "id": created.id,
            "api_version": self.runtime.client.api_version,
            "digest": fields_digest(self.selected_fields(), self.operation.value),
            "window_start": window.start,
            "window_end": window.end,
            "bookmark_after": bookmark_after,
        }

        def save_resume_point(locator: str | None, records_before: int) -> None:
            self._save_state(
                job={**job_state, "locator": locator, "records_before": records_before}
            )

        resumed = ticket.resumed
        locator = resumed.locator if resumed else None
        records_before = resumed.records_before if resumed else 0
        save_resume_point(locator, records_before)
        yield from self.read_job(
            info,
            progress,
            locator=locator,
            records_before=records_before,
            on_page_done=save_resume_point,
        )
        self._save_state(job=None, bookmark=bookmark_after)

    def _bookmark_after(self, ticket: Ticket, job_created: str) -> str:
        """How far the bookmark may move once the job is read (see ``bookmarks.py``).

        A job resumed from an earlier run keeps the limit that run saved: getUpdated, asked now,
        cannot vouch for transactions that committed after the job was created.
        """
        lag_seconds = self.runtime.settings.lag_seconds
        window = ticket.request.window
        covered = self.runtime.coverage.covered(self.name)
        after = bookmark_after_job(
            window, job_created=job_created, lag_seconds=lag_seconds, covered=covered
        )
        saved = ticket.resumed.bookmark_after if ticket.resumed else None
        if saved:
            return min(after, normalize_datetime(saved))
        if covered and after == normalize_datetime(covered) and not self._open_transaction_reported:
            lag_limit = bookmark_after_job(window, job_created=job_created, lag_seconds=lag_seconds)
            if lag_limit > after:
                self._open_transaction_reported = True
                self.logger.info(
                    "%s: Salesforce reports a transaction open since %s (getUpdated "
                    "latestDateCovered); the bookmark stays there so rows it commits later are "
                    "read next run",
                    self.name,
                    after,
                )
        return after

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
        changes: dict[str, Any] = {JOB_STATE_KEY: saved_job(job)}
        if bookmark is not None and self.replication_key:
            changes["replication_key"] = self.replication_key
            changes["replication_key_value"] = bookmark
        self.stream_state.update(changes)
        self._tap.state_writer.write_state(self.tap_state)

    def _rest_query(self, soql: str) -> list[dict[str, Any]]:
        """A small REST query through the resource matching this stream's Bulk operation."""
        query_all = self.operation is Operation.QUERY_ALL
        return query_records(self.runtime.client, soql, query_all=query_all)

    def sample_fields(self, limit: int) -> tuple[list[str], int]:
        """The selected fields a REST sample can name within the URL limit (a wide object's
        field list outgrows it: 414), and how many it leaves out."""
        fields = self.selected_fields()
        keep = {"Id", "IsDeleted", *([self.replication_key] if self.replication_key else [])}
        client = self.runtime.client

        def fits(chosen: list[str]) -> bool:
            soql = self._query(chosen, TimeWindow(), limit=limit)
            return query_uri_bytes(client, soql) <= QUERY_URI_MAX_BYTES

        chosen = fields_that_fit(fields, keep, fits)
        return chosen, len(fields) - len(chosen)

    def sample_records(self, limit: int) -> Iterator[dict[str, Any]]:
        """A few records through the REST query resource, typed like Bulk rows."""
        fields, _ = self.sample_fields(limit)
        soql = self._query(fields, TimeWindow(), limit=limit)
        builder = RecordBuilder(fields, self.spec.fields)
        for raw in self._rest_query(soql)[:limit]:
            yield builder.build([_rest_value(raw.get(name)) for name in fields])


def saved_job(job: dict[str, Any] | None) -> dict[str, Any]:
    """The ``bulk_job`` state value: the job's fields, or all of them null once it is read
    (see ``JOB_STATE_FIELDS``)."""
    if job is not None and set(job) != set(JOB_STATE_FIELDS):
        msg = f"bulk_job state keys {sorted(job)} differ from JOB_STATE_FIELDS"
        raise ValueError(msg)
    return dict(job) if job is not None else dict.fromkeys(JOB_STATE_FIELDS)


def _rest_value(value: Any) -> str:
    """REST JSON values rendered the way Bulk CSV would carry them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
