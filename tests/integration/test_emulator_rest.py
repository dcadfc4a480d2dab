"""The emulator's REST resources: versions, limits, describes and SOQL query, over real HTTP."""

from __future__ import annotations

import pytest
import requests

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def test_versions_list(fake_salesforce: FakeSalesforce) -> None:
    versions = requests.get(f"{fake_salesforce.url}/services/data/", timeout=5).json()
    assert versions[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert {"label": "Winter '26", "url": "/services/data/v65.0", "version": "65.0"} in versions
    assert versions[-1]["version"] == "67.0"


@pytest.mark.parametrize(
    ("version", "status"), [("v99.0", 404), ("v30.0", 410), ("vX", 404), ("v62.0", 200)]
)
def test_unknown_and_retired_versions(client: EmulatorClient, version: str, status: int) -> None:
    reply = client.session.get(f"{client.url}/services/data/{version}/limits", timeout=5)
    assert reply.status_code == status
    if status == 404:
        assert reply.json() == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ]


def test_bulk_query_needs_api_47(client: EmulatorClient) -> None:
    reply = client.session.post(
        f"{client.url}/services/data/v46.0/jobs/query",
        json={"operation": "query", "query": "SELECT Id FROM Contact"},
        timeout=5,
    )
    assert reply.status_code == 404


def test_limits_count_down_as_they_are_used(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    first = client.session.get(f"{client.base}/limits", timeout=5).json()
    for name in ("DailyApiRequests", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB"):
        assert set(first[name]) == {"Max", "Remaining"}
    client.run("SELECT Id, Name, Description FROM Contact")
    second = client.session.get(f"{client.base}/limits", timeout=5).json()
    assert second["DailyApiRequests"]["Remaining"] < first["DailyApiRequests"]["Remaining"] - 2
    assert (
        second["DailyBulkV2QueryJobs"]["Remaining"]
        == first["DailyBulkV2QueryJobs"]["Remaining"] - 1
    )
    assert (
        second["DailyBulkV2QueryFileStorageMB"]["Remaining"]
        < first["DailyBulkV2QueryFileStorageMB"]["Remaining"]
    )
    assert (
        "api-usage="
        in client.session.get(f"{client.base}/limits", timeout=5).headers["Sforce-Limit-Info"]
    )


def test_daily_api_request_limit(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    fake_salesforce.set_limit("DailyApiRequests", remaining=0)
    reply = client.session.get(f"{client.base}/sobjects", timeout=5)
    assert reply.status_code == 403
    assert reply.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]


def test_api_disabled_for_org(make_fake_salesforce: object) -> None:
    sf = make_fake_salesforce(contacts=100, accounts=10, api_enabled=False)  # type: ignore[operator]
    client = EmulatorClient(sf.url, sf.credentials)
    reply = client.session.get(f"{client.base}/sobjects", timeout=5)
    assert reply.status_code == 403
    assert reply.json()[0]["errorCode"] == "API_DISABLED_FOR_ORG"


def test_record_count(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    body = client.session.get(
        f"{client.base}/limits/recordCount", params={"sObjects": "Contact,Account"}, timeout=5
    ).json()
    counts = {entry["name"]: entry["count"] for entry in body["sObjects"]}
    assert counts == {
        "Contact": sum(1 for _ in fake_salesforce.truth("Contact")),
        "Account": sum(1 for _ in fake_salesforce.truth("Account")),
    }


def test_global_describe_lists_objects_bulk_cannot_query(client: EmulatorClient) -> None:
    body = client.session.get(f"{client.base}/sobjects", timeout=5).json()
    by_name = {entry["name"]: entry for entry in body["sobjects"]}
    assert {
        "Account",
        "Contact",
        "ContactFeed",
        "AccountFeed",
        "CaseStatus",
        "AttachedContentDocument",
    } <= set(by_name)
    contact = by_name["Contact"]
    assert contact["keyPrefix"] == "003"
    assert contact["queryable"]
    assert contact["replicateable"]
    assert contact["urls"]["describe"] == "/services/data/v62.0/sobjects/Contact/describe"
    assert not by_name["ContactFeed"]["replicateable"]


def test_contact_describe_has_real_field_attributes(client: EmulatorClient) -> None:
    body = client.session.get(f"{client.base}/sobjects/Contact/describe", timeout=5).json()
    fields = {field["name"]: field for field in body["fields"]}
    assert len(fields) >= 90
    types = {field["type"] for field in fields.values()}
    assert {
        "id",
        "reference",
        "string",
        "email",
        "phone",
        "url",
        "textarea",
        "picklist",
        "multipicklist",
        "boolean",
        "date",
        "datetime",
        "double",
        "currency",
        "percent",
        "address",
        "location",
    } <= types
    assert fields["MailingAddress"]["type"] == "address"
    assert fields["MailingCity"]["compoundFieldName"] == "MailingAddress"
    assert fields["Practice_Geolocation__c"]["type"] == "location"
    assert (
        fields["Practice_Geolocation__Latitude__s"]["compoundFieldName"]
        == "Practice_Geolocation__c"
    )
    assert fields["Provider_Summary__c"]["calculated"]
    assert fields["Provider_Summary__c"]["calculatedFormula"]
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert fields["Years_In_Practice__c"]["scale"] == 0
    assert fields["Years_In_Practice__c"]["soapType"] == "xsd:double"
    assert fields["Bio__c"]["length"] == 131_072
    assert not fields["Bio__c"]["filterable"]
    assert fields["NPI__c"]["externalId"]
    assert fields["NPI__c"]["custom"]
    assert len([f for f in fields.values() if f["custom"]]) >= 30
    for field in fields.values():
        assert {
            "name",
            "label",
            "type",
            "soapType",
            "length",
            "precision",
            "scale",
            "nillable",
            "custom",
            "calculated",
            "calculatedFormula",
            "compoundFieldName",
            "filterable",
            "referenceTo",
            "relationshipName",
            "picklistValues",
        } <= set(field)
    account = client.session.get(f"{client.base}/sobjects/Account/describe", timeout=5).json()
    assert {f["name"]: f["type"] for f in account["fields"]}["NumberOfEmployees"] == "int"
    assert client.session.get(f"{client.base}/sobjects/Nope/describe", timeout=5).status_code == 404


def test_rest_query_count_and_records_and_paging(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    live = sum(1 for _ in fake_salesforce.truth("Contact"))
    count = client.session.get(
        f"{client.base}/query", params={"q": "SELECT COUNT() FROM Contact"}, timeout=5
    ).json()
    assert count == {"totalSize": live, "done": True, "records": []}
    first = client.session.get(
        f"{client.base}/query",
        params={
            "q": "SELECT Id, Name, MailingAddress, SystemModstamp, "
            "Years_In_Practice__c FROM Contact"
        },
        headers={"Sforce-Query-Options": "batchSize=500"},
        timeout=10,
    ).json()
    assert first["totalSize"] == live
    assert first["done"] is False
    assert len(first["records"]) == 500
    record = first["records"][0]
    assert record["attributes"]["type"] == "Contact"
    assert record["attributes"]["url"].endswith(record["Id"])
    assert record["SystemModstamp"].endswith("+0000")
    assert isinstance(record["Years_In_Practice__c"], float)
    seen = len(first["records"])
    url = first.get("nextRecordsUrl")
    while url:
        page = client.session.get(fake_salesforce.url + url, timeout=10).json()
        seen += len(page["records"])
        url = page.get("nextRecordsUrl")
    assert seen == live
    limited = client.session.get(
        f"{client.base}/query", params={"q": "SELECT Id FROM Account LIMIT 5"}, timeout=5
    )
    assert limited.json()["totalSize"] == 5
    assert limited.json()["done"] is True


def test_rest_query_errors(client: EmulatorClient) -> None:
    bad_field = client.session.get(
        f"{client.base}/query", params={"q": "SELECT Nope FROM Contact"}, timeout=5
    )
    assert bad_field.status_code == 400
    assert bad_field.json()[0]["errorCode"] == "INVALID_FIELD"
    malformed = client.session.get(
        f"{client.base}/query", params={"q": "SELECT FROM Contact"}, timeout=5
    )
    assert malformed.status_code == 400
    assert malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
