"""Bulk API 2.0 query routes: create, list, get, abort, delete, results and resultPages.

Endpoint behaviour from the Bulk API 2.0 query reference
(https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm and
siblings). Results must be requested with the job's API version, else 409; results of a job that
is not JobComplete answer 412 JOB_NOT_COMPLETE ("can only download query results of successfully
completed bulk job with status: JOB_COMPLETE. Current status: IN_PROGRESS", the API 47.0
reference's example). resultPages returns up to five ``resultUrl``s plus ``nextRecordsUrl`` and
``done`` ("Get Parallel Results for a Query Job"; its table says ``nextRecordUrl`` but its example
and text say ``nextRecordsUrl``, which is what is sent).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fake_salesforce import locators
from tests.fake_salesforce.errors import SalesforceError
from tests.fake_salesforce.faults import JOB, JobAborted, JobFails, JobStuck, OtherClientJob
from tests.fake_salesforce.http_types import CSV_TYPE, CsvPage, Request, Response, json_response
from tests.fake_salesforce.ids import KEY_PREFIXES, make_id
from tests.fake_salesforce.jobs import QueryJob
from tests.fake_salesforce.soql_check import check
from tests.fake_salesforce.vocabulary import (
    ColumnDelimiter,
    ContentType,
    JobState,
    LineEnding,
    Operation,
)

if TYPE_CHECKING:
    from tests.fake_salesforce.emulator import FakeSalesforce

JOB_LIST_PAGE_SIZE = 1_000
RESULT_URLS_PER_RESPONSE = 5


def _bad_request(message: str, code: str = "API_ERROR") -> SalesforceError:
    return SalesforceError(400, code, message)


def create_job(sf: FakeSalesforce, request: Request) -> Response:
    """``POST /jobs/query``."""
    try:
        body = request.json()
    except ValueError:
        raise _bad_request(
            "Unexpected character in request body: not valid JSON", "JSON_PARSER_ERROR"
        ) from None
    if not isinstance(body, dict):
        raise _bad_request("Request body must be a JSON object", "JSON_PARSER_ERROR")
    try:
        operation = Operation(str(body.get("operation")))
    except ValueError:
        raise _bad_request(
            f"Invalid operation: {body.get('operation')}. Use query or queryAll."
        ) from None
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _bad_request("query is required")
    try:
        ContentType(body.get("contentType", "CSV"))
        delimiter = ColumnDelimiter(body.get("columnDelimiter", "COMMA"))
        line_ending = LineEnding(body.get("lineEnding", "LF"))
    except ValueError as exc:
        raise _bad_request(f"Invalid job option: {exc}") from None
    if sf.limits.remaining("DailyBulkV2QueryJobs") <= 0:
        jobs_max = sf.limits["DailyBulkV2QueryJobs"]["Max"]
        raise SalesforceError(
            400,
            "LIMIT_EXCEEDED",
            f"Max bulk v2 query jobs ({jobs_max}) per 24 hrs has been reached",
        )
    if sf.limits.remaining("DailyBulkV2QueryFileStorageMB") <= 0:
        raise SalesforceError(
            400,
            "LIMIT_EXCEEDED",
            "Max bulk v2 query result size stored (1000000000) kb per 24 hrs has been exceeded",
        )
    checked = check(query, sf.org, bulk=True)
    fate, message = ("fail", checked.job_failure) if checked.job_failure else ("complete", "")
    others: list[str] = []
    for fault in sf.faults.fire(JOB, "job_create"):
        if isinstance(fault, JobFails):
            fate, message = "fail", fault.error_message
        elif isinstance(fault, JobAborted):
            fate = "abort"
        elif isinstance(fault, JobStuck):
            fate = "stuck"
        elif isinstance(fault, OtherClientJob):
            others.append(fault.created_by)
    sf.limits.take("DailyBulkV2QueryJobs")
    sf.counter_store.record_query(query)
    assert request.version is not None
    job = sf.jobs.create(
        checked,
        operation,
        sf.org.integration_user_id,
        request.version,
        delimiter,
        line_ending,
        fate,
        message,
    )
    for user in others:
        sf.jobs.create(
            checked, operation, user, request.version, delimiter, line_ending, "stuck", ""
        )
    return json_response(job.info(brief=True))


def list_jobs(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /jobs/query`` with jobType / concurrencyMode / queryLocator filters, 1,000 per page."""
    jobs = sf.jobs.all()
    job_type = request.params.get("jobType")
    if job_type and job_type != "V2Query":
        jobs = []
    mode = request.params.get("concurrencyMode")
    if mode and mode.lower() != "parallel":
        jobs = []
    offset = 0
    locator = request.params.get("queryLocator")
    if locator:
        _, _, tail = locator.rpartition("-")
        if not tail.isdigit():
            raise _bad_request("Invalid queryLocator", "INVALID_QUERY_LOCATOR")
        offset = int(tail)
    page = jobs[offset : offset + JOB_LIST_PAGE_SIZE]
    done = offset + len(page) >= len(jobs)
    records = [{**job.info(brief=True), "jobType": "V2Query"} for job in page]
    next_url = None
    if not done:
        cursor = make_id(KEY_PREFIXES["QueryLocator"], 1)
        next_url = f"/services/data/v{request.version}/jobs/query?queryLocator={cursor}-{offset + len(page)}"
    return json_response({"done": done, "records": records, "nextRecordsUrl": next_url})


def get_job(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /jobs/query/{id}``."""
    assert request.job_id is not None
    return json_response(sf.jobs.get(request.job_id).info())


def abort_job(sf: FakeSalesforce, request: Request) -> Response:
    """``PATCH /jobs/query/{id}`` with ``{"state": "Aborted"}``."""
    assert request.job_id is not None
    try:
        body = request.json()
    except ValueError:
        raise _bad_request("Request body is not valid JSON", "JSON_PARSER_ERROR") from None
    sf.jobs.get(request.job_id)
    if not isinstance(body, dict) or body.get("state") != JobState.ABORTED.value:
        raise SalesforceError(
            400, "INVALIDJOBSTATE", "Query jobs can only be changed to the Aborted state"
        )
    job = sf.jobs.abort(request.job_id)
    sf.counter_store.add("aborted_jobs")
    return json_response(job.info(brief=True))


def delete_job(sf: FakeSalesforce, request: Request) -> Response:
    """``DELETE /jobs/query/{id}`` -> 204."""
    assert request.job_id is not None
    sf.jobs.delete(request.job_id)
    sf.counter_store.add("deleted_jobs")
    return Response(204, b"", None)


def _completed_job(sf: FakeSalesforce, request: Request) -> QueryJob:
    assert request.job_id is not None
    job = sf.jobs.get(request.job_id)
    if request.version != job.api_version:
        raise SalesforceError(
            409,
            "API_VERSION_MISMATCH",
            f"Query job {job.id} was created with API version {job.api_version}; request its results with "
            "the same version",
        )
    if job.state is not JobState.JOB_COMPLETE:
        raise SalesforceError(
            412,
            "JOB_NOT_COMPLETE",
            "can only download query results of successfully completed bulk job with status: JOB_COMPLETE. "
            f"Current status: {job.state.shouting}",
        )
    return job


def results(sf: FakeSalesforce, request: Request) -> CsvPage:
    """``GET /jobs/query/{id}/results?locator=&maxRecords=``: one page of CSV."""
    sf.counter_store.add("result_requests")
    job = _completed_job(sf, request)
    offset = 0
    locator = request.params.get("locator")
    if locator:
        decoded = locators.decode(locator)
        if decoded is None or decoded > len(job.rows):
            raise _bad_request(f"Invalid locator: {locator}", "INVALID_LOCATOR")
        offset = decoded
    max_records = request.params.get("maxRecords")
    if max_records is not None:
        if not max_records.isdigit() or int(max_records) <= 0:
            raise _bad_request("maxRecords must be a positive integer", "INVALID_MAX_RECORDS")
        size = int(max_records)
    else:
        size = sf.jobs.page_size(job)
    rows = job.rows[offset : offset + size]
    end = offset + len(rows)
    next_locator = locators.encode(end) if end < len(job.rows) else locators.LAST_PAGE
    assert job.snapshot is not None
    headers = {
        "Content-Type": CSV_TYPE,
        "Sforce-Locator": next_locator,
        "Sforce-NumberOfRecords": str(len(rows)),
    }
    return CsvPage(
        headers,
        job.header(),
        rows,
        job.renderer(),
        job.snapshot.overlay,
        job.line_ending.chars,
        job.id,
    )


def result_pages(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /jobs/query/{id}/resultPages`` (API 58.0+): up to five result URLs per response."""
    job = _completed_job(sf, request)
    size = sf.jobs.page_size(job)
    starts = list(range(0, max(1, len(job.rows)), size))
    first = 0
    locator = request.params.get("locator")
    if locator:
        decoded = locators.decode(locator)
        if decoded is None or decoded >= len(starts):
            raise _bad_request(f"Invalid locator: {locator}", "INVALID_LOCATOR")
        first = decoded
    chosen = starts[first : first + RESULT_URLS_PER_RESPONSE]
    base = f"/services/data/v{request.version}/jobs/query/{job.id}"
    pages = [{"resultUrl": f"{base}/results?locator={locators.encode(start)}"} for start in chosen]
    done = first + len(chosen) >= len(starts)
    next_url = (
        None if done else f"{base}/resultPages?locator={locators.encode(first + len(chosen))}"
    )
    return json_response({"resultPages": pages, "nextRecordsUrl": next_url, "done": done})
