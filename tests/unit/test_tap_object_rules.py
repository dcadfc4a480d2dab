"""Which failures end one object and which end the run; time values; replication keys."""

from __future__ import annotations

import pytest

from tap_salesforce_bulk.jobs import JobPipeline, JobRequest
from tap_salesforce_bulk.records import RecordBuilder, RecordValueError
from tap_salesforce_bulk.salesforce.bulk import JobInfo, JobState, Operation
from tap_salesforce_bulk.salesforce.errors import (
    ApiFailure,
    BulkJobError,
    QuotaGuardError,
    SalesforceApiError,
    SalesforceRetriableError,
    affects_every_object,
    refusal_reason,
)
from tap_salesforce_bulk.schema import Kind, build_object_spec
from tap_salesforce_bulk.soql import TimeWindow

JOBS = "/services/data/v64.0/jobs/query"


def api_error(status: int, code: str, message: str, path: str = JOBS) -> SalesforceApiError:
    return SalesforceApiError(ApiFailure(status, code, message, path))


# (error, refused by Salesforce for the object itself?, stops the whole run?)
FAILURE_TABLE: list[tuple[BaseException, bool, bool]] = [
    (api_error(400, "INVALIDENTITY", "Entity 'X' is not supported by the Bulk API."), True, False),
    (
        api_error(
            400,
            "API_ERROR",
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id",
        ),
        True,
        False,
    ),
    (
        api_error(
            400,
            "MALFORMED_QUERY",
            "Implementation restriction: Vote requires a filter",
            "/services/data/v64.0/query",
        ),
        True,
        False,
    ),
    (api_error(400, "INVALID_TYPE_FOR_OPERATION", "entity type X does not support query"), True, False),
    (
        api_error(400, "INVALID_FIELD", "\nERROR at Row:1:Column:9\nfield 'SystemModstamp' can not be filtered in a query call"),
        True,
        False,
    ),
    (api_error(403, "INSUFFICIENT_ACCESS", "insufficient access rights on object id"), True, False),
    (
        BulkJobError(
            "750x",
            "Failed",
            "InvalidBatch : Failed to process query: INSUFFICIENT_ACCESS: insufficient access",
        ),
        True,
        False,
    ),
    (
        BulkJobError("750x", "Failed", "InvalidBatch : Failed to process query: OPERATION_TOO_LARGE: exceeded 100000 distinct who/what's"),
        True,
        False,
    ),
    # Not about the object: another failure of this object only.
    (api_error(400, "INVALID_FIELD", "No such column 'Title' on entity 'Contact'"), False, False),
    (BulkJobError("750x", "Failed", "InternalServerError : query timed out"), False, False),
    (BulkJobError("750x", "timed out", "still InProgress after max_wait_time"), False, False),
    (SalesforceRetriableError("HTTP 503 on /services/data/v64.0/jobs/query"), False, False),
    (api_error(403, "INSUFFICIENT_ACCESS", "no", "/services/data/v64.0/limits"), False, False),
    # The org's or the session's: every object would fail alike.
    (api_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), False, True),
    (api_error(400, "LIMIT_EXCEEDED", "Max bulk v2 query jobs (10000) per 24 hrs has been reached"), False, True),
    (api_error(403, "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization."), False, True),
    (QuotaGuardError("Stopped before creating a Bulk query job"), False, True),
]  # fmt: skip


@pytest.mark.parametrize(("error", "refused", "every_object"), FAILURE_TABLE)
def test_failures_are_told_apart_as_refusals_object_failures_or_org_failures(
    error: BaseException, refused: bool, every_object: bool
) -> None:
    assert (refusal_reason(error) is not None) is refused
    assert affects_every_object(error) is every_object


@pytest.mark.parametrize(
    ("text", "emitted"),
    [
        ("13:30:00.000Z", "13:30:00.000Z"),
        ("13:30:00Z", "13:30:00.000Z"),
        ("09:05:07.5Z", "09:05:07.500Z"),
        ("", None),
    ],
)
def test_time_values_leave_as_hh_mm_ss_sss_z(text: str, emitted: str | None) -> None:
    spec = build_object_spec(
        {"name": "Zoo", "fields": [{"name": "Id", "type": "id"}, {"name": "T", "type": "time"}]}
    )
    assert spec.fields["T"].kind is Kind.TIME
    assert spec.schema["properties"]["T"] == {"type": ["string", "null"], "format": "time"}
    assert RecordBuilder(["Id", "T"], spec.fields).build(["a", text]) == {"Id": "a", "T": emitted}


def test_a_time_that_is_no_time_of_day_stops_with_the_field_named() -> None:
    spec = build_object_spec(
        {"name": "Zoo", "fields": [{"name": "Id", "type": "id"}, {"name": "T", "type": "time"}]}
    )
    with pytest.raises(RecordValueError, match=r"field T: '25:00:00\.000Z' is not a time of day"):
        RecordBuilder(["Id", "T"], spec.fields).build(["a", "25:00:00.000Z"])


def test_a_replication_key_describe_calls_unfilterable_is_never_chosen() -> None:
    fields = [
        {"name": "Id", "type": "id"},
        {"name": "SystemModstamp", "type": "datetime", "filterable": False},
        {"name": "LastModifiedDate", "type": "datetime", "filterable": False},
        {"name": "CreatedDate", "type": "datetime"},
    ]
    assert build_object_spec({"name": "H", "fields": fields}).replication_key == "CreatedDate"
    fields[-1]["filterable"] = False
    assert build_object_spec({"name": "H", "fields": fields}).replication_key is None


def test_json_and_complexvalue_fields_are_left_out_with_the_reason() -> None:
    spec = build_object_spec(
        {
            "name": "Zoo",
            "fields": [
                {"name": "Id", "type": "id"},
                {"name": "P", "type": "json"},
                {"name": "M", "type": "complexvalue"},
                {"name": "A", "type": "anyType"},
                {"name": "G", "type": "datacategorygroupreference"},
            ],
        }
    )
    assert set(spec.left_out) == {"P", "M"}
    assert "CSV" in spec.left_out["P"]
    assert spec.fields["A"].kind is Kind.STRING
    assert spec.fields["G"].kind is Kind.STRING


class _CreatesAccountJobsOnly:
    """The Bulk calls the job pipeline makes: Contact's job cannot be created (retries ran out)."""

    client = type("Client", (), {"api_version": "64.0"})()

    def create_query_job(self, soql: str, operation: Operation) -> JobInfo:
        if "FROM Contact" in soql:
            raise SalesforceRetriableError("HTTP 503 on /services/data/v64.0/jobs/query")
        return JobInfo("7505g000000001AAA", JobState.UPLOAD_COMPLETE, None, None, None, "64.0")


class _NoQuota:
    def check_before_job(self) -> None:
        """Every job may be created."""


def test_a_job_created_ahead_that_fails_is_charged_to_its_own_object() -> None:
    pipeline = JobPipeline(_CreatesAccountJobsOnly(), _NoQuota(), 3)  # type: ignore[arg-type]
    pipeline.plan(
        JobRequest(name, f"SELECT Id FROM {name}", Operation.QUERY, TimeWindow())  # noqa: S608
        for name in ("Account", "Contact")
    )
    # Taking Account's job also creates Contact's ahead; its failure waits for Contact's turn.
    assert pipeline.take(pipeline.tickets_for("Account")[0]).id == "7505g000000001AAA"
    with pytest.raises(SalesforceRetriableError):
        pipeline.take(pipeline.tickets_for("Contact")[0])
