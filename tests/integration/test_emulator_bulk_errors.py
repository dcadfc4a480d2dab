"""Bulk API 2.0 query job errors: refused queries, limits, abort/delete rules, version conflicts."""

from __future__ import annotations

import json

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client of the function-scoped emulator."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def test_abort_then_delete(client: EmulatorClient, fake_salesforce: FakeSalesforce) -> None:
    fake_salesforce.jobs.processing_seconds = 5
    job_id = client.create_job("SELECT Id FROM Contact").json()["id"]
    aborted = client.session.patch(
        f"{client.base}/jobs/query/{job_id}", json={"state": "Aborted"}, timeout=5
    )
    assert aborted.status_code == 200
    assert aborted.json()["state"] == "Aborted"
    again = client.session.patch(
        f"{client.base}/jobs/query/{job_id}", json={"state": "Aborted"}, timeout=5
    )
    assert again.status_code == 400
    assert again.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    results = client.page(job_id)
    assert results.status == 412
    deleted = client.session.delete(f"{client.base}/jobs/query/{job_id}", timeout=5)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.session.get(f"{client.base}/jobs/query/{job_id}", timeout=5).status_code == 404
    counters = fake_salesforce.counters
    assert counters["aborted_jobs"] == 1
    assert counters["deleted_jobs"] == 1


def test_delete_refused_while_running_and_results_refused_before_completion(
    client: EmulatorClient, fake_salesforce: FakeSalesforce
) -> None:
    fake_salesforce.jobs.processing_seconds = 5
    job_id = client.create_job("SELECT Id FROM Contact").json()["id"]
    refused = client.session.delete(f"{client.base}/jobs/query/{job_id}", timeout=5)
    assert refused.status_code == 400
    assert refused.json() == [
        {
            "message": "Error encountered when deleting the job because the job is not terminated",
            "errorCode": "API_ERROR",
        }
    ]
    early = client.page(job_id)
    assert early.status == 412
    body = json.loads(early.raw)
    assert body[0]["errorCode"] == "JOB_NOT_COMPLETE"
    assert "Current status: UPLOAD_COMPLETE" in body[0]["message"]


def test_results_with_another_api_version_conflict(client: EmulatorClient) -> None:
    info, _ = client.run("SELECT Id FROM Contact")
    assert client.page(str(info["id"]), version="61.0").status == 409


@pytest.mark.parametrize(
    ("query", "status", "code", "fragment"),
    [
        (
            "SELECT Id, Foo__c FROM Contact",
            400,
            "INVALID_FIELD",
            "No such column 'Foo__c' on entity 'Contact'",
        ),
        ("SELECT Id FRM Contact", 400, "MALFORMED_QUERY", "ERROR at Row:1:Column:11"),
        (
            "SELECT Id, MailingAddress FROM Contact",
            400,
            "FUNCTIONALITY_NOT_ENABLED",
            "compound data",
        ),
        (
            "SELECT Practice_Geolocation__c FROM Contact",
            400,
            "FUNCTIONALITY_NOT_ENABLED",
            "compound data",
        ),
        ("SELECT COUNT() FROM Contact", 400, "FUNCTIONALITY_NOT_ENABLED", "Aggregate"),
        (
            "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
            400,
            "FUNCTIONALITY_NOT_ENABLED",
            "Relationships",
        ),
        ("SELECT Name FROM Contact GROUP BY Name", 400, "FUNCTIONALITY_NOT_ENABLED", "GROUP BY"),
        ("SELECT Id FROM Contact OFFSET 5", 400, "FUNCTIONALITY_NOT_ENABLED", "OFFSET"),
        ("SELECT Id FROM ContactFeed", 400, "INVALIDENTITY", "not supported by the Bulk API"),
        ("SELECT Id FROM Nope__c", 400, "INVALID_TYPE", "sObject type 'Nope__c' is not supported"),
        (
            "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01'",
            400,
            "INVALID_FIELD",
            "type dateTime",
        ),
    ],
)
def test_bulk_rejects_what_salesforce_rejects(
    client: EmulatorClient, query: str, status: int, code: str, fragment: str
) -> None:
    reply = client.create_job(query)
    assert reply.status_code == status
    [error] = reply.json()
    assert error["errorCode"] == code
    assert fragment in error["message"]


def test_daily_query_job_limit(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    fake_salesforce.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=0)
    reply = client.create_job("SELECT Id FROM Contact")
    assert reply.status_code == 400
    assert reply.json() == [
        {
            "message": "Max bulk v2 query jobs (10000) per 24 hrs has been reached",
            "errorCode": "LIMIT_EXCEEDED",
        }
    ]
