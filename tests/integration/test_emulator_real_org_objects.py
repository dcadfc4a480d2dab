"""The emulator's opt-in objects of real orgs: archived activities, objects that refuse a plain
query, and a field of every odd type, over real HTTP."""

# ruff: noqa: S608 - these strings are SOQL sent to the emulator, not SQL

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient, csv_records


@pytest.fixture
def org(make_fake_salesforce: Callable[..., FakeSalesforce]) -> FakeSalesforce:
    """An org with tasks, events, restricted objects and Type_Zoo__c."""
    return make_fake_salesforce(
        contacts=200, accounts=20, tasks=400, events=300, restricted_objects=True, type_zoo=60
    )


@pytest.fixture
def client(org: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(org.url, org.credentials)


def _rest(client: EmulatorClient, resource: str, soql: str) -> dict[str, object]:
    reply = client.session.get(f"{client.base}/{resource}", params={"q": soql}, timeout=10)
    reply.raise_for_status()
    return dict(reply.json())


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_query_leaves_archived_activities_out_and_query_all_returns_them(
    org: FakeSalesforce, client: EmulatorClient, sobject: str
) -> None:
    truth = list(org.truth(sobject))
    archived = {row["Id"] for row in truth if row["IsArchived"] == "true"}
    assert 0.2 < len(archived) / len(truth) < 0.5
    _, pages = client.run(f"SELECT Id, IsArchived, IsDeleted FROM {sobject}")
    queried = {row["Id"] for row in csv_records(pages)}
    assert queried == {row["Id"] for row in truth} - archived
    _, pages = client.run(f"SELECT Id, IsArchived, IsDeleted FROM {sobject}", "queryAll")
    every = csv_records(pages)
    assert archived <= {row["Id"] for row in every}
    deleted = {row["Id"] for row in every if row["IsDeleted"] == "true"}
    assert deleted
    assert not deleted & queried, "deleted rows are only in queryAll"
    live = f"SELECT Id FROM {sobject} WHERE IsDeleted = false"
    _, pages = client.run(live, "queryAll")
    assert {row["Id"] for row in csv_records(pages)} == {row["Id"] for row in truth}
    assert _rest(client, "query", f"SELECT COUNT() FROM {sobject}")["totalSize"] == len(queried)
    assert _rest(client, "queryAll", live.replace("Id", "COUNT()", 1))["totalSize"] == len(truth)


def test_unfiltered_queries_of_restricted_objects_are_refused_as_real_orgs_refuse_them(
    client: EmulatorClient,
) -> None:
    refused = client.create_job("SELECT Id, LinkedEntityId FROM ContentDocumentLink")
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "API_ERROR"
    assert refused.json()[0]["message"].startswith(
        "Implementation restriction: ContentDocumentLink requires a filter by a single Id"
    )
    rest = client.session.get(
        f"{client.base}/query", params={"q": "SELECT Id FROM EntitySubscription"}, timeout=10
    )
    assert rest.status_code == 400
    assert rest.json()[0]["errorCode"] == "MALFORMED_QUERY"
    created = client.create_job("SELECT Id, Name FROM Compensation__c")
    assert created.status_code == 200
    info = client.wait(created.json()["id"])
    assert info["state"] == "Failed"
    assert "INSUFFICIENT_ACCESS" in str(info["errorMessage"])


def test_a_filter_on_a_field_describe_calls_unfilterable_is_refused(
    client: EmulatorClient,
) -> None:
    described = client.session.get(
        f"{client.base}/sobjects/ActivityFieldHistory/describe", timeout=10
    ).json()
    filterable = {f["name"]: f["filterable"] for f in described["fields"]}
    assert filterable["SystemModstamp"] is False
    assert filterable["ChangedDate"] is True
    info, pages = client.run("SELECT Id, SystemModstamp FROM ActivityFieldHistory")
    assert info["state"] == "JobComplete"
    assert len(csv_records(pages)) > 0
    refused = client.create_job(
        "SELECT Id FROM ActivityFieldHistory WHERE SystemModstamp >= 2024-01-01T00:00:00Z"
    )
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALID_FIELD"
    assert (
        "field 'SystemModstamp' can not be filtered in a query call"
        in (refused.json()[0]["message"])
    )


def test_type_zoo_renders_each_type_as_bulk_writes_it(
    org: FakeSalesforce, client: EmulatorClient
) -> None:
    described = client.session.get(
        f"{client.base}/sobjects/Type_Zoo__c/describe", timeout=10
    ).json()
    types = {f["name"]: f["type"] for f in described["fields"]}
    assert {types[n] for n in types} >= {
        "time",
        "anyType",
        "encryptedstring",
        "datacategorygroupreference",
        "json",
        "complexvalue",
        "location",
    }
    fields = "Id, Opens_At__c, Any_Value__c, Tax_Id__c, Category_Group__c, Site__Latitude__s"
    _, pages = client.run(f"SELECT {fields} FROM Type_Zoo__c")
    rows = csv_records(pages)
    times = [row["Opens_At__c"] for row in rows if row["Opens_At__c"]]
    assert times
    assert all(len(t) == 13 and t[2] == ":" and t.endswith("Z") for t in times)
    assert all(row["Tax_Id__c"].startswith("*****") for row in rows if row["Tax_Id__c"])
    assert {row["Any_Value__c"] for row in rows} >= {"42", "true", "2024-02-29"}
    assert pages[0].raw.startswith(b'"Id","Opens_At__c"')
    compound = client.create_job("SELECT Id, Site__c FROM Type_Zoo__c")
    assert compound.status_code == 400
    for field in ("Payload__c", "Metadata__c"):
        created = client.create_job(f"SELECT Id, {field} FROM Type_Zoo__c")
        info = client.wait(created.json()["id"])
        assert info["state"] == "Failed"
        assert info["errorMessage"] == (
            f"FeatureNotEnabled : Cannot serialize value for '{field}' in CSV format"
        )
    records = _rest(client, "query", "SELECT Id, Payload__c FROM Type_Zoo__c")["records"]
    assert isinstance(records, list)
    assert any(isinstance(record["Payload__c"], dict) for record in records)
