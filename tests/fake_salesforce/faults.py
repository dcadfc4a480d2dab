"""Injectable faults for torture tests; each fires ``times`` times and then heals.

A fault watches one kind of request (``on``; "any" for all). Counting starts when the fault is
injected: the fault fires from the ``nth`` matching request on, counted across jobs or, with
``per_job=True``, separately for each job id. Faults compose: inject several and each keeps its
own count. Four phases exist: *request* faults act before the request is handled (errors,
delays, token expiry), *after* faults act once it has been handled (the work is done, the answer
is lost), *body* faults act while a results page is written (dropped connection, short or
malformed page, slow body), *job* faults decide the fate of the next jobs created.

Request kinds: token, soap, versions, identity, limits, describe, deleted, updated, query,
job_create, job_status, job_list, job_abort, job_delete, results, result_pages.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

REQUEST = "request"
AFTER = "after"
BODY = "body"
JOB = "job"


@dataclass
class Fault:
    """Base class: where and when a fault fires. Use one of the subclasses."""

    on: str = "results"
    nth: int = 1
    per_job: bool = False
    times: int = 1
    phase: ClassVar[str] = REQUEST
    fired: int = field(default=0, init=False)
    _seen: Counter[str] = field(default_factory=Counter, init=False, repr=False)

    def observe(self, kind: str, job_id: str | None) -> bool:
        """Count one matching request and say whether the fault fires on it."""
        if self.fired >= self.times or (self.on != "any" and self.on != kind):
            return False
        key = (job_id or "") if self.per_job else ""
        self._seen[key] += 1
        if self._seen[key] < self.nth:
            return False
        self.fired += 1
        return True

    @property
    def exhausted(self) -> bool:
        """Whether the fault has healed."""
        return self.fired >= self.times


@dataclass
class HttpError(Fault):
    """Answer with ``status`` (500/502/503...) and a Salesforce-shaped JSON error body."""

    status: int = 503
    error_code: str = "SERVER_UNAVAILABLE"
    message: str = "Service temporarily unavailable (injected fault)"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RateLimited(HttpError):  # noqa: N818 - describes a fault, is not an exception
    """429 with ``Retry-After`` on the next matching requests (not a Salesforce-documented status)."""

    status: int = 429
    error_code: str = "REQUEST_LIMIT_EXCEEDED"
    message: str = "Too many requests (injected fault)"
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        self.headers = {**self.headers, "Retry-After": str(self.retry_after_seconds)}


@dataclass
class FailAfterCommit(HttpError):  # noqa: N818 - describes a fault, is not an exception
    """Handle the request (``POST jobs/query`` creates its job), then answer ``status`` as if it
    had failed; ``status=0`` closes the connection without an answer, which is what a client that
    timed out sees. The job exists, but the client never learns its id."""

    on: str = "job_create"
    phase: ClassVar[str] = AFTER


@dataclass
class Slow(Fault):
    """Sleep ``seconds`` before answering, or in the middle of a results body."""

    seconds: float = 1.0
    during_body: bool = False

    @property
    def phase_of(self) -> str:
        """Request or body phase, depending on ``during_body``."""
        return BODY if self.during_body else REQUEST


@dataclass
class ExpireToken(Fault):
    """Invalidate every access token just before this request, which then gets 401."""


@dataclass
class DropConnection(Fault):
    """Send headers and ``after_bytes`` bytes of the body, then close the socket."""

    after_bytes: int = 1024
    phase: ClassVar[str] = BODY


@dataclass
class ShortPage(Fault):
    """Write ``missing_rows`` fewer rows than ``Sforce-NumberOfRecords`` announces."""

    missing_rows: int = 1
    phase: ClassVar[str] = BODY


@dataclass
class ReorderedPage(Fault):
    """Serve the page's rows in reverse order: the same set of rows for the locator (all that
    Salesforce promises), in another order than the last time it was fetched."""

    phase: ClassVar[str] = BODY


@dataclass
class MalformedCsv(Fault):
    """Put a row with an unterminated quoted field in the middle of the page."""

    phase: ClassVar[str] = BODY


@dataclass
class JobFails(Fault):
    """The next job created ends ``Failed`` with ``error_message``."""

    on: str = "job_create"
    error_message: str = "InvalidBatch : Failed to process query: QUERY_TIMEOUT (injected fault)"
    phase: ClassVar[str] = JOB


@dataclass
class JobAborted(Fault):
    """The next job created is aborted by the server."""

    on: str = "job_create"
    phase: ClassVar[str] = JOB


@dataclass
class JobStuck(Fault):
    """The next job created never completes (stays ``InProgress``)."""

    on: str = "job_create"
    phase: ClassVar[str] = JOB


@dataclass
class OtherClientJob(Fault):
    """Another client (``created_by``, another user by default) creates a job with the same query
    at the same moment as the next job created; it never completes."""

    on: str = "job_create"
    created_by: str = "0055g00000OTHERAAA"
    phase: ClassVar[str] = JOB


def phase_of(fault: Fault) -> str:
    """The phase a fault acts in."""
    return fault.phase_of if isinstance(fault, Slow) else fault.phase


class FaultInjector:
    """Holds injected faults and reports which fire for a request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.fired: Counter[str] = Counter()

    def inject(self, fault: Fault) -> Fault:
        """Add a fault; it starts counting now."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def fire(self, phase: str, kind: str, job_id: str | None = None) -> list[Fault]:
        """The faults of ``phase`` that fire on this request (each counted once)."""
        with self._lock:
            firing = [f for f in self._faults if phase_of(f) == phase and f.observe(kind, job_id)]
            for fault in firing:
                self.fired[type(fault).__name__] += 1
            self._faults = [f for f in self._faults if not f.exhausted]
            return firing

    def active(self) -> list[Fault]:
        """Faults that have not healed yet."""
        with self._lock:
            return list(self._faults)


FAULT_TYPES: dict[str, type[Fault]] = {
    cls.__name__: cls
    for cls in (
        HttpError,
        FailAfterCommit,
        RateLimited,
        Slow,
        ExpireToken,
        DropConnection,
        ShortPage,
        ReorderedPage,
        MalformedCsv,
        JobFails,
        JobAborted,
        JobStuck,
        OtherClientJob,
    )
}


def from_json(spec: dict[str, object]) -> Fault:
    """Build a fault from ``{"type": "HttpError", "status": 503, ...}`` (control API)."""
    params = dict(spec)
    kind = str(params.pop("type"))
    cls = FAULT_TYPES.get(kind)
    if cls is None:
        raise KeyError(f"unknown fault type {kind!r}; known: {sorted(FAULT_TYPES)}")
    return cls(**params)  # type: ignore[arg-type]
