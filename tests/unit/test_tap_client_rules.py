"""The client layer's judgements as tables: what a response means, and how a job is polled.

To add a case, add a row. Responses are built in memory (no network); job polling runs against a
scripted job-info source with a fake clock, so waits cost nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tap_salesforce_bulk.salesforce.bulk import (
    POLL_FIRST_INTERVAL_SECONDS,
    POLL_MAX_INTERVAL_SECONDS,
    BulkApi,
    JobState,
)
from tap_salesforce_bulk.salesforce.classify import Verdict, classify, parse_failure
from tap_salesforce_bulk.salesforce.errors import BulkJobError


def response(
    status: int, body: Any = None, *, url: str = "https://x/services/data/v64.0/q"
) -> requests.Response:
    """A requests.Response as the client would receive it."""
    made = requests.Response()
    made.status_code = status
    made.url = url
    made.reason = "Reason"
    made._content = json.dumps(body).encode() if body is not None else b""
    return made


def sf_error(code: str, message: str) -> list[dict[str, str]]:
    return [{"errorCode": code, "message": message}]


# (status, body, ok statuses, verdict, why)
CLASSIFY_TABLE: list[tuple[int, Any, tuple[int, ...], Verdict, str]] = [
    (200, {}, (200,), Verdict.OK, "the expected status"),
    (201, {}, (200, 201), Verdict.OK, "job creation answers 201"),
    (204, None, (200, 204), Verdict.OK, "delete answers 204"),
    (
        401,
        sf_error("INVALID_SESSION_ID", "Session expired or invalid"),
        (200,),
        Verdict.RELOGIN,
        "expired token",
    ),
    (408, None, (200,), Verdict.RETRY, "request timeout"),
    (429, None, (200,), Verdict.RETRY, "too many requests"),
    (
        500,
        sf_error("UNKNOWN_EXCEPTION", "An unexpected error occurred"),
        (200,),
        Verdict.RETRY,
        "server error",
    ),
    (502, None, (200,), Verdict.RETRY, "bad gateway"),
    (503, None, (200,), Verdict.RETRY, "maintenance"),
    (504, None, (200,), Verdict.RETRY, "gateway timeout"),
    (
        403,
        sf_error("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
        (200,),
        Verdict.RETRY,
        "the concurrent-request limit clears within seconds",
    ),
    (
        403,
        sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
        (200,),
        Verdict.FAIL,
        "the daily allocation does not clear by retrying",
    ),
    (
        403,
        sf_error("API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"),
        (200,),
        Verdict.FAIL,
        "no API access",
    ),
    (400, sf_error("MALFORMED_QUERY", "unexpected token"), (200,), Verdict.FAIL, "bad SOQL"),
    (
        400,
        sf_error("INVALIDENTITY", "Entity is not supported by the Bulk API"),
        (200,),
        Verdict.FAIL,
        "object refused",
    ),
    (
        404,
        sf_error("NOT_FOUND", "The requested resource does not exist"),
        (200,),
        Verdict.FAIL,
        "gone",
    ),
]


@pytest.mark.parametrize(
    ("status", "body", "ok", "verdict"),
    [row[:4] for row in CLASSIFY_TABLE],
    ids=[row[4] for row in CLASSIFY_TABLE],
)
def test_classify_decides_what_a_response_means(
    status: int, body: Any, ok: tuple[int, ...], verdict: Verdict
) -> None:
    assert classify(response(status, body), ok) is verdict


# (body, error code, message)
FAILURE_TABLE: list[tuple[Any, str | None, str]] = [
    (sf_error("INVALID_FIELD", "No such column 'Foo'"), "INVALID_FIELD", "No such column 'Foo'"),
    (
        {"error": "invalid_grant", "error_description": "expired access/refresh token"},
        "invalid_grant",
        "expired access/refresh token",
    ),
    (
        {"errorCode": "API_ERROR", "message": "Implementation restriction"},
        "API_ERROR",
        "Implementation restriction",
    ),
    (None, None, "Reason"),
]


@pytest.mark.parametrize(("body", "code", "message"), FAILURE_TABLE)
def test_failure_bodies_are_reduced_to_code_and_message(
    body: Any, code: str | None, message: str
) -> None:
    failure = parse_failure(response(400, body))
    assert (failure.error_code, failure.message, failure.path) == (
        code,
        message,
        "/services/data/v64.0/q",
    )


class ScriptedJob:
    """Plays a job's states, one per poll; records aborts. Stands in for the HTTP client."""

    api_version = "64.0"

    def __init__(self, states: list[str], error_message: str | None = None) -> None:
        self._states = iter(states)
        self._error_message = error_message
        self.polls = 0
        self.aborted = False

    def get_json(self, path: str, params: Any = None) -> dict[str, Any]:
        self.polls += 1
        return {
            "id": "750X",
            "state": next(self._states),
            "numberRecordsProcessed": 10,
            "errorMessage": self._error_message,
        }

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        self.aborted = method == "PATCH" and kwargs.get("json") == {"state": "Aborted"}
        return response(200, {})


class FakeClock:
    """monotonic() and sleep() over a number that only moves when slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def poll(job: ScriptedJob, clock: FakeClock, max_wait_seconds: float = 3600) -> Callable[[], Any]:
    bulk = BulkApi(job)  # type: ignore[arg-type]
    return lambda: bulk.wait_until_done(
        "750X", max_wait_seconds=max_wait_seconds, sleep=clock.sleep, clock=clock.monotonic
    )


# (states played, outcome: the final state, or the error text expected)
POLLING_TABLE: list[tuple[list[str], str]] = [
    (["JobComplete"], "JobComplete"),
    (["UploadComplete", "InProgress", "InProgress", "JobComplete"], "JobComplete"),
    (["InProgress", "Failed"], "ended Failed"),
    (["InProgress", "Aborted"], "ended Aborted"),
]


@pytest.mark.parametrize(("states", "outcome"), POLLING_TABLE)
def test_polling_ends_at_a_final_state(states: list[str], outcome: str) -> None:
    job, clock = ScriptedJob(states, error_message="boom"), FakeClock()
    if outcome == JobState.JOB_COMPLETE:
        assert poll(job, clock)().state == JobState.JOB_COMPLETE
    else:
        with pytest.raises(BulkJobError, match=outcome):
            poll(job, clock)()
    assert job.polls == len(states)
    assert len(clock.sleeps) == len(states) - 1


def test_polling_slows_down_but_never_past_the_cap() -> None:
    job, clock = ScriptedJob(["InProgress"] * 40 + ["JobComplete"]), FakeClock()
    poll(job, clock)()
    assert clock.sleeps[0] == POLL_FIRST_INTERVAL_SECONDS
    assert clock.sleeps[5] > clock.sleeps[0]
    assert max(clock.sleeps) <= POLL_MAX_INTERVAL_SECONDS * 1.1  # jitter is +-10%


def test_a_job_past_max_wait_time_is_aborted_and_reported() -> None:
    job, clock = ScriptedJob(["InProgress"] * 1000), FakeClock()
    with pytest.raises(BulkJobError, match="max_wait_time"):
        poll(job, clock, max_wait_seconds=60)()
    assert job.aborted
    assert clock.now == pytest.approx(60)
