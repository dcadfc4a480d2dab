"""The emulator's Bulk API 2.0 query jobs, over real HTTP."""

# ruff: noqa: S608 - these strings are SOQL sent to the emulator, not SQL

from __future__ import annotations

import csv
import gzip
import io
import time

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient, csv_records
from tests.fake_salesforce.clock import csv_datetime


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client of the function-scoped emulator."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def _fields(sf: FakeSalesforce) -> list[str]:
    data = sf.org.object("Contact")
    assert data is not None
    return [spec.name for spec in data.fields if not spec.is_compound]


def test_job_runs_from_creation_to_last_page_and_counts_agree(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    created = client.create_job("SELECT Id, Name, SystemModstamp FROM Contact")
    assert created.status_code == 200
    body = created.json()
    assert body["state"] == "UploadComplete"
    assert set(body) == {
        "id",
        "operation",
        "object",
        "createdById",
        "createdDate",
        "systemModstamp",
        "state",
        "concurrencyMode",
        "contentType",
        "apiVersion",
        "lineEnding",
        "columnDelimiter",
    }
    assert body["apiVersion"] == 62.0
    assert body["createdDate"].endswith("+0000")
    info = client.wait(body["id"])
    assert info["state"] == "JobComplete"
    assert info["jobType"] == "V2Query"
    pages = list(client.pages(body["id"], max_records=350))
    assert len(pages) >= 5
    announced = sum(int(p.headers["Sforce-NumberOfRecords"]) for p in pages)
    received = sum(len(p.rows) for p in pages)
    live = sum(1 for _ in fake_salesforce.truth("Contact"))
    assert announced == received == info["numberRecordsProcessed"] == live
    assert all(p.header == ["Id", "Name", "SystemModstamp"] for p in pages)
    assert pages[-1].headers["Sforce-Locator"] == "null"
    assert pages[0].headers["Content-Type"] == "text/csv"
    ids = [row[0] for page in pages for row in page.rows]
    assert len(ids) == len(set(ids))
    stamps = [row[2] for page in pages for row in page.rows]
    assert stamps != sorted(stamps), "Bulk results are not sorted by SystemModstamp"


def test_locator_pages_can_be_fetched_again(client: EmulatorClient) -> None:
    info, pages = client.run("SELECT Id FROM Contact", max_records=500)
    second = client.page(str(info["id"]), pages[0].headers["Sforce-Locator"], 500)
    assert second.rows == pages[1].rows


def test_csv_round_trips_against_truth_with_every_field(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    fields = _fields(fake_salesforce)
    _info, pages = client.run(f"SELECT {', '.join(fields)} FROM Contact", max_records=700)
    received = {record["Id"]: record for record in csv_records(pages)}
    truth = {str(row["Id"]): row for row in fake_salesforce.truth("Contact")}
    assert received.keys() == truth.keys()
    for record_id, row in truth.items():
        assert received[record_id] == {name: value or "" for name, value in row.items()}
    values = [value for record in received.values() for value in record.values()]
    assert any("\r\n" in v for v in values)
    assert any("\n" in v and "\r" not in v for v in values)
    assert any('"' in v for v in values)
    assert any("," in v for v in values)
    assert any("🌟" in v or "🩺" in v for v in values)
    assert any("佐藤" in v or "王芳" in v for v in values)
    assert any(len(v) == 131_072 for v in values), "a long text area at its maximum length"


def test_csv_quotes_values_and_leaves_nulls_empty(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    _info, pages = client.run(
        "SELECT Id, MiddleName, HasOptedOutOfEmail, Years_In_Practice__c, Birthdate, "
        "SystemModstamp, Annual_Billing__c FROM Contact"
    )
    raw = pages[0].raw.decode()
    lines = raw.split("\n")
    assert (
        lines[0] == '"Id","MiddleName","HasOptedOutOfEmail","Years_In_Practice__c","Birthdate",'
        '"SystemModstamp","Annual_Billing__c"'
    )
    assert any(line.split(",")[1] == "" for line in lines[1:] if line), (
        "null is an empty unquoted field"
    )
    records = csv_records(pages)
    assert {r["HasOptedOutOfEmail"] for r in records} == {"true", "false"}
    assert all(r["Years_In_Practice__c"].endswith(".0") for r in records)
    assert all(
        len(r["SystemModstamp"]) == 24 and r["SystemModstamp"].endswith("Z") for r in records
    )
    assert any("E" in r["Annual_Billing__c"] for r in records), (
        "Java-style scientific notation from 10^7"
    )
    assert any(not r["SystemModstamp"].endswith("000Z") for r in records)


@pytest.mark.parametrize(
    ("delimiter", "char"),
    [
        ("COMMA", ","),
        ("TAB", "\t"),
        ("SEMICOLON", ";"),
        ("PIPE", "|"),
        ("CARET", "^"),
        ("BACKQUOTE", "`"),
    ],
)
def test_column_delimiters(client: EmulatorClient, delimiter: str, char: str) -> None:
    created = client.create_job("SELECT Id, Title, Name FROM Contact", columnDelimiter=delimiter)
    job_id = created.json()["id"]
    assert created.json()["columnDelimiter"] == delimiter
    client.wait(job_id)
    page = client.page(job_id, max_records=200)
    rows = list(csv.reader(io.StringIO(page.raw.decode(), newline=""), delimiter=char))
    assert rows[0] == ["Id", "Title", "Name"]
    assert all(len(row) == 3 for row in rows)


def test_crlf_line_ending(client: EmulatorClient) -> None:
    created = client.create_job("SELECT Id, Name FROM Contact", lineEnding="CRLF")
    client.wait(created.json()["id"])
    page = client.page(created.json()["id"], max_records=50)
    assert page.raw.startswith(b'"Id","Name"\r\n')
    assert page.raw.endswith(b"\r\n")
    assert len(page.rows) == 50


def test_where_on_system_modstamp_includes_ties_with_ge_and_excludes_them_with_gt(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    data = fake_salesforce.org.object("Contact")
    assert data is not None
    tie_row = data.stamps.big_tie_rows.start
    stamp = csv_datetime(int(data.base_typed("SystemModstamp", tie_row)))  # type: ignore[arg-type]
    truth = list(fake_salesforce.truth("Contact"))
    tied = sum(1 for row in truth if row["SystemModstamp"] == stamp)
    later = sum(1 for row in truth if str(row["SystemModstamp"]) > stamp)
    assert tied >= 100
    _, ge_pages = client.run(
        f"SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp >= {stamp}"
    )
    _, gt_pages = client.run(
        f"SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp > {stamp}"
    )
    assert sum(len(p.rows) for p in ge_pages) == tied + later
    assert sum(len(p.rows) for p in gt_pages) == later
    offset = stamp.replace("Z", "+00:00")
    _, offset_pages = client.run(f"SELECT Id FROM Contact WHERE SystemModstamp >= {offset}")
    assert sum(len(p.rows) for p in offset_pages) == tied + later


def test_where_with_and_or_not_in_like_and_null(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    query = (
        "SELECT Id FROM Contact WHERE (Specialty__c IN ('Cardiology', 'Dermatology') OR Title = null) "
        "AND NOT Accepting_New_Patients__c = false AND Name LIKE '%a%' AND Years_In_Practice__c >= 10"
    )
    _, pages = client.run(query)
    expected = {
        row["Id"]
        for row in fake_salesforce.truth("Contact")
        if (row["Specialty__c"] in ("Cardiology", "Dermatology") or row["Title"] is None)
        and row["Accepting_New_Patients__c"] == "true"
        and "a" in str(row["Name"]).lower()
        and float(str(row["Years_In_Practice__c"])) >= 10
    }
    assert {row[0] for page in pages for row in page.rows} == expected
    assert expected


def test_query_hides_deleted_rows_and_query_all_returns_them(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    victims = fake_salesforce.update_records("Contact", count=3)
    fake_salesforce.delete_records("Contact", victims)
    _, live_pages = client.run("SELECT Id, IsDeleted FROM Contact")
    _, all_pages = client.run("SELECT Id, IsDeleted FROM Contact", operation="queryAll")
    live = {row[0]: row[1] for page in live_pages for row in page.rows}
    everything = {row[0]: row[1] for page in all_pages for row in page.rows}
    assert set(live.values()) == {"false"}
    deleted = {record_id for record_id, flag in everything.items() if flag == "true"}
    assert set(victims) <= deleted
    assert len(deleted) > len(victims), "generated data has deleted rows too"
    assert everything.keys() - live.keys() == deleted


def test_gzip_when_asked(client: EmulatorClient) -> None:
    info, _ = client.run("SELECT Id, Name, Description FROM Contact")
    url = f"{client.base}/jobs/query/{info['id']}/results"
    raw = client.session.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    assert raw.headers["Content-Encoding"] == "gzip"
    compressed = raw.raw.read(decode_content=False)
    plain = client.session.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content) / 2


def test_snapshot_ignores_changes_made_after_the_job_started(
    make_fake_salesforce: object,
) -> None:
    sf = make_fake_salesforce(contacts=1_000, accounts=50, job_processing_seconds=0.6)  # type: ignore[operator]
    client = EmulatorClient(sf.url, sf.credentials)
    created = client.create_job("SELECT Id, Title FROM Contact")
    job_id = created.json()["id"]
    deadline = time.monotonic() + 5
    while client.job(job_id)["state"] == "UploadComplete" and time.monotonic() < deadline:
        time.sleep(0.01)
    changed = sf.update_records("Contact", count=20, fields={"Title": "Changed mid-job"})
    sf.insert_records("Contact", 5)
    info = client.wait(job_id)
    sf.update_records("Contact", count=20, fields={"Title": "Changed after completion"})
    records = csv_records(list(client.pages(job_id)))
    assert len(records) == info["numberRecordsProcessed"]
    assert all(r["Title"] not in ("Changed mid-job", "Changed after completion") for r in records)
    _, later = client.run("SELECT Id, Title FROM Contact")
    titles = {r["Id"]: r["Title"] for r in csv_records(later)}
    assert all(
        titles[record_id] in ("Changed mid-job", "Changed after completion")
        for record_id in changed
    )
    assert len(titles) == len(records) + 5


def test_update_moves_system_modstamp_to_now_or_to_an_explicit_earlier_stamp(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    before = csv_datetime(fake_salesforce.clock.now_ms())
    moved = fake_salesforce.update_records("Contact", count=4)
    late = fake_salesforce.update_records(
        "Contact", count=2, system_modstamp="2023-06-01T12:00:00.250Z"
    )
    _, pages = client.run(
        f"SELECT Id, SystemModstamp, LastModifiedDate FROM Contact WHERE SystemModstamp >= {before}"
    )
    assert {row[0] for page in pages for row in page.rows} == set(moved)
    _, pages = client.run(
        "SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp = 2023-06-01T12:00:00.250Z"
    )
    assert {row[0] for page in pages for row in page.rows} == set(late)


def test_result_pages_lists_urls_that_cover_the_results(make_fake_salesforce: object) -> None:
    sf = make_fake_salesforce(contacts=3_000, accounts=50, default_page_records=250)  # type: ignore[operator]
    client = EmulatorClient(sf.url, sf.credentials, version="62.0")
    info, _ = client.run("SELECT Id FROM Contact")
    url = f"{client.base}/jobs/query/{info['id']}/resultPages"
    seen: list[str] = []
    while url:
        body = client.session.get(url, timeout=5).json()
        assert set(body) == {"resultPages", "nextRecordsUrl", "done"}
        assert len(body["resultPages"]) <= 5
        for entry in body["resultPages"]:
            page = client.session.get(sf.url + entry["resultUrl"], timeout=10)
            seen += [row[0] for row in list(csv.reader(io.StringIO(page.text, newline="")))[1:]]
        url = sf.url + body["nextRecordsUrl"] if body["nextRecordsUrl"] else ""
        assert body["done"] == (not url)
    assert len(seen) == len(set(seen)) == info["numberRecordsProcessed"]
    old = EmulatorClient(sf.url, sf.credentials, version="57.0")
    assert (
        old.session.get(f"{old.base}/jobs/query/{info['id']}/resultPages", timeout=5).status_code
        == 404
    )


def test_list_jobs(client: EmulatorClient) -> None:
    ids = {client.create_job("SELECT Id FROM Account").json()["id"] for _ in range(3)}
    body = client.session.get(f"{client.base}/jobs/query", timeout=5).json()
    assert body["done"] is True
    assert body["nextRecordsUrl"] is None
    assert ids <= {record["id"] for record in body["records"]}
    assert all(record["jobType"] == "V2Query" for record in body["records"])


def test_order_by_and_limit(client: EmulatorClient) -> None:
    _, pages = client.run(
        "SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp DESC LIMIT 25"
    )
    stamps = [row[1] for page in pages for row in page.rows]
    assert len(stamps) == 25
    assert stamps == sorted(stamps, reverse=True)
