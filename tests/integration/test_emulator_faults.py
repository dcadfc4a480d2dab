"""Each injectable fault, observed over real HTTP, and that faults heal and compose."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
import requests

from tests.fake_salesforce import FakeSalesforce, faults
from tests.fake_salesforce.client import EmulatorClient


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def _completed_job(client: EmulatorClient, query: str = "SELECT Id, Name FROM Contact") -> str:
    job_id = str(client.create_job(query).json()["id"])
    assert client.wait(job_id)["state"] == "JobComplete"
    return job_id


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_error_on_the_nth_results_request_then_heals(
    fake_salesforce: FakeSalesforce, client: EmulatorClient, status: int
) -> None:
    job_id = _completed_job(client)
    fake_salesforce.inject(faults.HttpError(status=status, nth=2))
    assert client.page(job_id, max_records=100).status == 200
    failed = client.page(job_id, max_records=100)
    assert failed.status == status
    assert client.page(job_id, max_records=100).status == 200
    assert fake_salesforce.counters["faults_fired"] == {"HttpError": 1}


def test_http_error_counted_per_job(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    first, second = _completed_job(client), _completed_job(client)
    fake_salesforce.inject(faults.HttpError(status=500, nth=2, per_job=True, times=2))
    assert client.page(first).status == 200
    assert client.page(second).status == 200
    assert client.page(first).status == 500
    assert client.page(second).status == 500
    assert client.page(first).status == 200


def test_rate_limited_with_retry_after_for_k_requests(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    fake_salesforce.inject(faults.RateLimited(on="job_status", retry_after_seconds=2, times=2))
    job_id = str(client.create_job("SELECT Id FROM Contact").json()["id"])
    url = f"{client.base}/jobs/query/{job_id}"
    statuses = [client.session.get(url, timeout=5) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "2"


def test_connection_dropped_mid_body(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    job_id = _completed_job(client, "SELECT Id, Name, Description, Bio__c FROM Contact")
    fake_salesforce.inject(faults.DropConnection(after_bytes=5_000))
    url = f"{client.base}/jobs/query/{job_id}/results"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(
            url, headers={"Authorization": client.session.headers["Authorization"]}, timeout=10
        )
    assert client.page(job_id).status == 200


def test_connection_dropped_mid_gzip_body(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    job_id = _completed_job(client, "SELECT Id, Name, Description, Bio__c FROM Contact")
    fake_salesforce.inject(faults.DropConnection(after_bytes=2_000))
    headers = {
        "Authorization": str(client.session.headers["Authorization"]),
        "Accept-Encoding": "gzip",
    }
    with pytest.raises(requests.exceptions.RequestException):
        _ = requests.get(
            f"{client.base}/jobs/query/{job_id}/results", headers=headers, timeout=10
        ).content


def test_slow_response_before_answering(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    fake_salesforce.inject(faults.Slow(on="limits", seconds=0.3))
    started = time.monotonic()
    assert client.session.get(f"{client.base}/limits", timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_slow_body(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    job_id = _completed_job(client)
    fake_salesforce.inject(faults.Slow(seconds=0.3, during_body=True))
    started = time.monotonic()
    assert len(client.page(job_id).rows) > 0
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("fault", "state"),
    [
        (faults.JobFails(error_message="InvalidBatch : boom"), "Failed"),
        (faults.JobAborted(), "Aborted"),
    ],
)
def test_next_job_ends_failed_or_aborted(
    fake_salesforce: FakeSalesforce, client: EmulatorClient, fault: faults.Fault, state: str
) -> None:
    fake_salesforce.inject(fault)
    doomed = str(client.create_job("SELECT Id FROM Contact").json()["id"])
    info = client.wait(doomed)
    assert info["state"] == state
    if state == "Failed":
        assert info["errorMessage"] == "InvalidBatch : boom"
    else:
        assert "errorMessage" not in info
    assert client.page(doomed).status == 412
    healthy = str(client.create_job("SELECT Id FROM Contact").json()["id"])
    assert client.wait(healthy)["state"] == "JobComplete"


def test_stuck_job_stays_in_progress(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    fake_salesforce.inject(faults.JobStuck())
    job_id = str(client.create_job("SELECT Id FROM Contact").json()["id"])
    info = client.wait(job_id, timeout=0.5)
    assert info["state"] == "InProgress"
    aborted = client.session.patch(
        f"{client.base}/jobs/query/{job_id}", json={"state": "Aborted"}, timeout=5
    )
    assert aborted.json()["state"] == "Aborted"


def test_token_expires_at_the_nth_results_page(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    job_id = _completed_job(client)
    fake_salesforce.inject(faults.ExpireToken(nth=2))
    assert client.page(job_id, max_records=100).status == 200
    expired = client.page(job_id, max_records=100)
    assert expired.status == 401
    assert json.loads(expired.raw)[0]["errorCode"] == "INVALID_SESSION_ID"
    client.login()
    assert client.page(job_id, max_records=100).status == 200


def test_short_page_has_fewer_rows_than_announced(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    job_id = _completed_job(client)
    fake_salesforce.inject(faults.ShortPage(missing_rows=3))
    page = client.page(job_id, max_records=200)
    assert page.headers["Sforce-NumberOfRecords"] == "200"
    assert len(page.rows) == 197


def test_malformed_csv_page(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    job_id = _completed_job(client)
    clean = client.page(job_id, max_records=200)
    fake_salesforce.inject(faults.MalformedCsv())
    page = client.page(job_id, max_records=200)
    assert b'"unterminated quoted field' in page.raw
    with pytest.raises(csv.Error):
        list(csv.reader(io.StringIO(page.raw.decode(), newline=""), strict=True))
    assert [row[0] for row in page.rows] != [row[0] for row in clean.rows], (
        "a lenient parser gets wrong rows"
    )


def test_faults_compose(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    job_id = _completed_job(client)
    fake_salesforce.inject(faults.HttpError(status=503, nth=1))
    fake_salesforce.inject(faults.ShortPage(missing_rows=1, nth=2))
    assert client.page(job_id, max_records=50).status == 503
    assert len(client.page(job_id, max_records=50).rows) == 50
    assert len(client.page(job_id, max_records=50).rows) == 49
    assert len(client.page(job_id, max_records=50).rows) == 50
    assert fake_salesforce.faults.active() == []


def test_http_error_on_token_endpoint(fake_salesforce: FakeSalesforce) -> None:
    fake_salesforce.inject(faults.HttpError(on="token", status=503))
    with pytest.raises(requests.HTTPError):
        EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)
    EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)
