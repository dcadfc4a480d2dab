"""Bulk jobs created ahead of their turn, so Salesforce works on several while the tap reads one.

Every job the run needs (one per object, or one per window) is planned up front, in the order the
streams will read them. Up to ``max_parallel_jobs`` exist at once: while the tap pages through
the first, Salesforce is already running the next ones. Records still leave the tap one stream
at a time, so the Singer output stays one well-formed stream after another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tap_salesforce_bulk.salesforce.bulk import BulkApi, JobInfo, JobState, Operation
from tap_salesforce_bulk.salesforce.errors import SalesforceError, SalesforceRetriableError
from tap_salesforce_bulk.salesforce.limits import QuotaGuard
from tap_salesforce_bulk.soql import TimeWindow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResumePoint:
    """A job from an interrupted run, and how far its pages were emitted."""

    job_id: str
    locator: str | None
    records_before: int
    bookmark_after: str | None = None  # as capped by the run that created the job


@dataclass(frozen=True)
class JobRequest:
    """One query the run must execute: for a stream, over a window of its replication key."""

    stream: str
    soql: str
    operation: Operation
    window: TimeWindow
    resume: ResumePoint | None = None


@dataclass
class Ticket:
    """A planned job and, once created, its info (or why it could not be created)."""

    request: JobRequest
    job: JobInfo | None = None
    failure: BaseException | None = None
    resumed: ResumePoint | None = None
    released: bool = False


class JobPipeline:
    """Creates planned jobs ahead, at most ``max_in_flight`` alive at once, and cleans up."""

    def __init__(
        self,
        bulk: BulkApi,
        guard: QuotaGuard,
        max_in_flight: int,
        *,
        before_create: Callable[[str], None] | None = None,
    ) -> None:
        self._bulk = bulk
        self._guard = guard
        # Called with the stream's name right before each new job: getUpdated is asked there.
        self._before_create = before_create or (lambda _stream: None)
        self._max_in_flight = max(1, max_in_flight)
        self.tickets: list[Ticket] = []
        self._next_to_create = 0
        self.keep: set[str] = set()  # jobs that resumable state points at: never deleted on exit

    def plan(self, requests: Iterable[JobRequest]) -> None:
        """Append requests in the order they will be read."""
        self.tickets.extend(Ticket(request) for request in requests)

    def tickets_for(self, stream: str) -> list[Ticket]:
        """The tickets of one stream, in window order."""
        return [t for t in self.tickets if t.request.stream == stream]

    def _alive(self) -> int:
        return sum(
            1 for t in self.tickets[: self._next_to_create] if t.job is not None and not t.released
        )

    def _fill(self) -> None:
        while self._next_to_create < len(self.tickets) and self._alive() < self._max_in_flight:
            ticket = self.tickets[self._next_to_create]
            self._next_to_create += 1
            try:
                self._create(ticket)
            except (SalesforceError, SalesforceRetriableError) as exc:
                ticket.failure = exc  # raised when its own stream reaches this ticket
                return

    def _create(self, ticket: Ticket) -> None:
        request = ticket.request
        resume = request.resume
        if resume is not None:
            info = self._resumable(resume)
            if info is not None:
                ticket.job, ticket.resumed = info, resume
                logger.info(
                    "%s: resuming Bulk job %s from locator %s (%d records already emitted)",
                    request.stream,
                    resume.job_id,
                    resume.locator or "(first page)",
                    resume.records_before,
                )
                return
        self._guard.check_before_job()
        self._before_create(request.stream)
        ticket.job = self._bulk.create_query_job(request.soql, request.operation)
        logger.info(
            "%s: created Bulk job %s (%s): %s",
            request.stream,
            ticket.job.id,
            request.operation.value,
            request.soql if len(request.soql) < 400 else request.soql[:400] + "...",
        )

    def _resumable(self, resume: ResumePoint) -> JobInfo | None:
        try:
            info = self._bulk.job_info(resume.job_id)
        except SalesforceError as exc:
            logger.warning("Saved Bulk job %s cannot be resumed (%s)", resume.job_id, exc)
            return None
        if info.state != JobState.JOB_COMPLETE or info.api_version not in (
            None,
            self._bulk.client.api_version,
        ):
            logger.warning(
                "Saved Bulk job %s is %s (API %s); starting its window again",
                resume.job_id,
                info.state,
                info.api_version,
            )
            return None
        return info

    def take(self, ticket: Ticket) -> JobInfo:
        """The created job of ``ticket``, creating it (and later ones) if needed."""
        if ticket.job is None and ticket.failure is None:
            self._next_to_create = max(self._next_to_create, self.tickets.index(ticket))
            self._fill()
            if ticket.job is None and ticket.failure is None:
                self._create(ticket)
        if ticket.failure is not None:
            raise ticket.failure
        assert ticket.job is not None
        self._fill()
        return ticket.job

    def release(self, ticket: Ticket) -> None:
        """The ticket's records are all emitted: delete its job and start the next ones."""
        ticket.released = True
        if ticket.job is not None:
            self.keep.discard(ticket.job.id)
            self._bulk.delete(ticket.job.id)
        self._fill()

    def discard(self, stream: str) -> None:
        """A stream gave up: its jobs not yet read are aborted and deleted (a job its state
        points at is kept for the next run), and later streams' jobs start in their place."""
        for ticket in self.tickets_for(stream):
            job = ticket.job
            if ticket.released:
                continue
            ticket.released = True
            if job is None or job.id in self.keep:
                continue
            try:
                if not self._bulk.job_info(job.id).is_terminal:
                    self._bulk.abort(job.id)
                self._bulk.delete(job.id)
            except SalesforceError as exc:
                logger.warning("Could not clean up Bulk job %s: %s", job.id, exc)
        self._fill()

    def close(self) -> None:
        """Abort jobs still running and delete finished ones, except those state points at."""
        for ticket in self.tickets:
            job = ticket.job
            if job is None or ticket.released or job.id in self.keep:
                continue
            ticket.released = True
            try:
                info = self._bulk.job_info(job.id)
                if not info.is_terminal:
                    self._bulk.abort(job.id)
                self._bulk.delete(job.id)
            except SalesforceError as exc:
                logger.warning("Could not clean up Bulk job %s: %s", job.id, exc)
