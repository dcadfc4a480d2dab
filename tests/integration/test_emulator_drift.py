"""Drift a sync must survive, over HTTP: hard deletes and getDeleted, formula values that change
without moving stamps, and fields added, removed, hidden and shown at runtime."""

# ruff: noqa: S608 - these strings are SOQL sent to the emulator, not SQL

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient, csv_records

FORMULA = "Provider_Summary__c"
NO_SUCH_COLUMN = "No such column '{}' on entity 'Contact'"


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def _control(sf: FakeSalesforce, action: str, **body: object) -> requests.Response:
    return requests.post(f"{sf.url}/__emulator/{action}", json=body, timeout=10)


def _bulk(client: EmulatorClient, soql: str, operation: str = "query") -> list[dict[str, str]]:
    info, pages = client.run(soql, operation)
    assert info["state"] == "JobComplete", info
    return csv_records(pages)


def _rest(client: EmulatorClient, soql: str, resource: str = "query") -> requests.Response:
    return client.session.get(f"{client.base}/{resource}", params={"q": soql}, timeout=10)


def _describe(client: EmulatorClient) -> dict[str, dict[str, Any]]:
    reply = client.session.get(f"{client.base}/sobjects/Contact/describe", timeout=10)
    return {field["name"]: field for field in reply.json()["fields"]}


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _deleted(client: EmulatorClient, start: str | None, end: str | None) -> requests.Response:
    params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return client.session.get(f"{client.base}/sobjects/Contact/deleted/", params=params, timeout=10)


def _in(ids: list[str]) -> str:
    return "(" + ", ".join(f"'{record_id}'" for record_id in ids) + ")"


def _error(reply: requests.Response) -> dict[str, str]:
    body = reply.json()
    assert isinstance(body, list)
    return dict(body[0])


def _record_count(client: EmulatorClient) -> int:
    reply = client.session.get(f"{client.base}/limits/recordCount?sObjects=Contact", timeout=10)
    return int(reply.json()["sObjects"][0]["count"])


# ---- hard deletes ------------------------------------------------------------------------------


def test_purged_rows_leave_query_queryall_record_count_and_truth(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    rows = list(sf.truth("Contact", include_deleted=True))
    live = [str(row["Id"]) for row in rows if row["IsDeleted"] == "false"][:2]
    born_deleted = next(str(row["Id"]) for row in rows if row["IsDeleted"] == "true")
    sf.delete_records("Contact", [live[1]])
    chosen = [live[0], live[1], born_deleted]
    where = f"SELECT Id FROM Contact WHERE Id IN {_in(chosen)}"
    assert len(_bulk(client, where, "queryAll")) == 3
    count_before = _record_count(client)

    reply = _control(sf, "purge_records", object="Contact", ids=chosen)
    assert reply.json() == {"ids": chosen}

    assert _bulk(client, where) == []
    assert _bulk(client, where, "queryAll") == []
    for resource in ("query", "queryAll"):
        body = _rest(client, where, resource).json()
        assert body["totalSize"] == 0
        assert body["records"] == []
    assert _record_count(client) == count_before - 1  # only live[0] was counted before
    everything = {row["Id"] for row in sf.truth("Contact", include_deleted=True)}
    assert everything.isdisjoint(chosen)
    assert len(everything) == len(rows) - 3
    # A purged record no longer exists: it cannot be changed or purged again.
    assert _control(sf, "purge_records", object="Contact", ids=chosen[:1]).status_code == 404
    with pytest.raises(KeyError):
        sf.update_records("Contact", ids=chosen[:1], fields={"Title": "x"})


def test_a_job_snapshotted_before_a_purge_keeps_its_rows(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    ids = [str(row["Id"]) for row in sf.truth("Contact")][:5]
    created = client.create_job(f"SELECT Id, LastName FROM Contact WHERE Id IN {_in(ids)}")
    job_id = created.json()["id"]
    assert client.wait(job_id)["state"] == "JobComplete"
    sf.purge_records("Contact", ids)
    kept = csv_records(list(client.pages(job_id)))
    assert sorted(row["Id"] for row in kept) == sorted(ids)
    assert _bulk(client, f"SELECT Id FROM Contact WHERE Id IN {_in(ids)}") == []


# ---- getDeleted --------------------------------------------------------------------------------


def test_get_deleted_lists_soft_and_hard_deletions(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    soft, hard, soft_then_hard = [str(row["Id"]) for row in sf.truth("Contact")][:3]
    window_start = sf.clock.now_ms() - 60_000
    sf.delete_records("Contact", [soft, soft_then_hard])
    first_deletion = sf.clock.now_ms()
    sf.advance_clock(30)
    sf.purge_records("Contact", [hard, soft_then_hard])
    # Deletions of the current minute are not covered yet: latestDateCovered stops before them.
    sf.advance_clock(120)
    now = sf.clock.now_ms()
    reply = _deleted(client, _iso(window_start), _iso(now + 3_600_000))
    assert reply.status_code == 200
    body = reply.json()
    listed = {entry["id"]: entry["deletedDate"] for entry in body["deletedRecords"]}
    assert set(listed) == {soft, hard, soft_then_hard}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", listed[soft])
    # A record purged after a soft delete keeps the soft delete's time (its SystemModstamp).
    assert listed[soft_then_hard] == listed[soft]
    assert listed[hard] > listed[soft]
    soft_stamp = next(
        row["SystemModstamp"]
        for row in _bulk(
            client, f"SELECT Id, SystemModstamp FROM Contact WHERE Id = '{soft}'", "queryAll"
        )
    )
    assert listed[soft].replace("+0000", "Z") == soft_stamp
    assert body["latestDateCovered"] == _iso(now - now % 60_000).replace("+00:00", ".000+0000")
    day_ago = sf.clock.now_ms() - 86_400_000
    before = _deleted(client, _iso(day_ago), _iso(first_deletion - 60_000)).json()
    assert before["deletedRecords"] == []
    assert before["latestDateCovered"].endswith(":00.000+0000")


def test_get_deleted_covers_whole_minutes_only(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    record_id = str(next(sf.truth("Contact"))["Id"])
    start = _iso(sf.clock.now_ms() - 300_000)
    sf.delete_records("Contact", [record_id])
    future = _iso(sf.clock.now_ms() + 3_600_000)
    assert _deleted(client, start, future).json()["deletedRecords"] == []
    _control(sf, "advance_clock", seconds=61)
    assert [e["id"] for e in _deleted(client, start, future).json()["deletedRecords"]] == [
        record_id
    ]
    # The API ignores seconds: 12:30:59 means 12:30:00.
    same = _deleted(client, start[:17] + "59+00:00", future).json()
    assert [e["id"] for e in same["deletedRecords"]] == [record_id]


def test_get_deleted_window_rules(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    now = fake_salesforce.clock.now_ms()
    minute = now - now % 60_000
    day = 86_400_000

    def error_code(start: str | None, end: str | None) -> tuple[int, str]:
        reply = _deleted(client, start, end)
        return reply.status_code, _error(reply)["errorCode"]

    # Less than a minute apart once seconds are dropped, reversed, or equal.
    too_short = error_code(_iso(minute + 5_000), _iso(minute + 55_000))
    assert too_short == (400, "INVALID_REPLICATION_DATE")
    message = _error(_deleted(client, _iso(minute), _iso(minute)))["message"]
    assert message == "startDate must be at least one minute greater than endDate"
    assert error_code(_iso(now), _iso(now - day)) == (400, "INVALID_REPLICATION_DATE")
    # The delete log reaches back 15 days.
    assert error_code(_iso(now - 16 * day), _iso(now)) == (400, "INVALID_REPLICATION_DATE")
    ok = _deleted(client, _iso(now - 14 * day), _iso(now))
    assert ok.status_code == 200
    earliest = dt.datetime.strptime(ok.json()["earliestDateAvailable"], "%Y-%m-%dT%H:%M:%S.%f%z")
    expected = dt.datetime.fromtimestamp((now - 15 * day) / 1000, tz=dt.UTC)
    assert abs((earliest - expected).total_seconds()) < 61
    assert earliest.second == 0
    # latestDateCovered is the end when the end is past.
    past_end = ok.json()["latestDateCovered"]
    assert past_end == _iso(minute).replace("+00:00", ".000+0000")
    # Parameters: both required, ISO 8601 with an offset or Z.
    assert error_code(_iso(now - day), None) == (400, "MISSING_ARGUMENT")
    assert error_code("yesterday", _iso(now)) == (400, "INVALID_REPLICATION_DATE")
    zulu = _deleted(
        client, _iso(now - day).replace("+00:00", "Z"), _iso(now).replace("+00:00", "Z")
    )
    assert zulu.status_code == 200
    unknown = client.session.get(
        f"{client.base}/sobjects/Nope__c/deleted/",
        params={"start": _iso(now - day), "end": _iso(now)},
        timeout=10,
    )
    assert unknown.status_code == 404


# ---- formula drift -----------------------------------------------------------------------------


def test_formula_recalculation_changes_values_but_not_stamps(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    assert _describe(client)[FORMULA]["calculated"] is True
    soql = f"SELECT Id, {FORMULA}, SystemModstamp, LastModifiedDate FROM Contact"
    created = client.create_job(soql)
    before_job = created.json()["id"]
    assert client.wait(before_job)["state"] == "JobComplete"
    before = {row["Id"]: row for row in csv_records(list(client.pages(before_job)))}
    bookmark = max(row["SystemModstamp"] for row in before.values())
    older = sorted(i for i, row in before.items() if row["SystemModstamp"] < bookmark)[:5]

    reply = _control(sf, "recalculate_formulas", object="Contact", ids=older)
    assert reply.json() == {"ids": older}

    incremental = _bulk(client, f"{soql} WHERE SystemModstamp >= {bookmark}")
    assert {row["Id"] for row in incremental}.isdisjoint(older)
    after = {row["Id"]: row for row in _bulk(client, soql)}
    truth = {row["Id"]: row for row in sf.truth("Contact")}
    for record_id in older:
        old, new = before[record_id], after[record_id]
        assert new[FORMULA] == old[FORMULA] + " (rev 1)"
        assert new["SystemModstamp"] == old["SystemModstamp"]
        assert new["LastModifiedDate"] == old["LastModifiedDate"]
        assert truth[record_id][FORMULA] == new[FORMULA]
        assert truth[record_id]["SystemModstamp"] == old["SystemModstamp"]
    unchanged = next(i for i in before if i not in older)
    assert after[unchanged] == before[unchanged]
    # The job that started before the recalculation keeps the old values.
    again = {row["Id"]: row for row in csv_records(list(client.pages(before_job)))}
    assert again == before
    # A second recalculation replaces the revision instead of stacking suffixes.
    sf.recalculate_formulas("Contact", ids=older[:1])
    rest = _rest(client, f"SELECT {FORMULA} FROM Contact WHERE Id = '{older[0]}'").json()
    assert rest["records"][0][FORMULA] == before[older[0]][FORMULA] + " (rev 2)"
    picked = _control(sf, "recalculate_formulas", object="Contact", count=4).json()["ids"]
    assert len(set(picked)) == 4
    assert _control(sf, "recalculate_formulas", object="Account", count=1).status_code == 400


# ---- schema drift ------------------------------------------------------------------------------


def test_added_field_is_described_queryable_and_filled_without_stamp_changes(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    stamps = "SystemModstamp, LastModifiedDate"
    created = client.create_job(f"SELECT Id, {stamps} FROM Contact")
    before_job = created.json()["id"]
    assert client.wait(before_job)["state"] == "JobComplete"
    before = {row["Id"]: row for row in csv_records(list(client.pages(before_job)))}
    name = "Preferred_Pharmacy__c"
    assert _bulk_error(client, f"SELECT Id, {name} FROM Contact")["errorCode"] == "INVALID_FIELD"

    reply = _control(
        sf,
        "add_field",
        object="Contact",
        name=name,
        type="string",
        label="Preferred Pharmacy",
        length=120,
    )
    assert reply.status_code == 200
    described = _describe(client)[name]
    assert reply.json()["field"] == described
    expected = {
        "type": "string",
        "soapType": "xsd:string",
        "length": 120,
        "byteLength": 360,
        "label": "Preferred Pharmacy",
        "custom": True,
        "calculated": False,
        "nillable": True,
        "createable": True,
        "updateable": True,
        "filterable": True,
        "permissionable": True,
    }
    assert {key: described[key] for key in expected} == expected

    after = {row["Id"]: row for row in _bulk(client, f"SELECT Id, {name}, {stamps} FROM Contact")}
    assert set(after) == set(before)
    filled = [row[name] for row in after.values() if row[name]]
    assert len(filled) > 0.7 * len(after)
    assert all(len(value) <= 120 for value in filled)
    for record_id, row in after.items():
        assert row["SystemModstamp"] == before[record_id]["SystemModstamp"]
        assert row["LastModifiedDate"] == before[record_id]["LastModifiedDate"]
    truth = {row["Id"]: row[name] for row in sf.truth("Contact")}
    assert truth == {record_id: row[name] or None for record_id, row in after.items()}
    rest = _rest(client, f"SELECT Id, {name} FROM Contact WHERE {name} != null LIMIT 3").json()
    assert [record[name] for record in rest["records"]] == [
        truth[record["Id"]] for record in rest["records"]
    ]
    # Jobs that started before the field existed keep their columns.
    assert list(csv_records(list(client.pages(before_job)))[0]) == [
        "Id",
        "SystemModstamp",
        "LastModifiedDate",
    ]
    assert _control(sf, "add_field", object="Contact", name=name).status_code == 400
    for bad in ("Pharmacy", "2nd_Choice__c", "Double__Under__c", "Trailing___c"):
        assert _control(sf, "add_field", object="Contact", name=bad).status_code == 400


def _bulk_error(client: EmulatorClient, soql: str) -> dict[str, str]:
    reply = client.create_job(soql)
    assert reply.status_code == 400
    return _error(reply)


_SHAPES: dict[str, tuple[str, str]] = {
    "string": ("xsd:string", r".+"),
    "double": ("xsd:double", r"\d+\.\d+(E\d+)?"),
    "boolean": ("xsd:boolean", r"true|false"),
    "date": ("xsd:date", r"\d{4}-\d\d-\d\d"),
    "datetime": ("xsd:dateTime", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"),
    "picklist": ("xsd:string", r"Walk-in|Mail order|Specialty"),
}


def test_added_fields_of_each_type_render_as_salesforce_does(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    for kind in _SHAPES:
        extra: dict[str, Any] = {}
        if kind == "picklist":
            extra["picklist_values"] = ["Walk-in", "Mail order", "Specialty"]
        sf.add_field("Contact", f"Drift_{kind}__c", kind, **extra)
    described = _describe(client)
    names = [f"Drift_{kind}__c" for kind in _SHAPES]
    rows = _bulk(client, f"SELECT Id, {', '.join(names)} FROM Contact")
    for kind, (soap_type, shape) in _SHAPES.items():
        name = f"Drift_{kind}__c"
        assert (described[name]["type"], described[name]["soapType"]) == (kind, soap_type)
        values = [row[name] for row in rows]
        assert all(re.fullmatch(shape, value) for value in values if value), name
        assert sum(1 for value in values if value) > 0.7 * len(values), name
    assert described["Drift_boolean__c"]["nillable"] is False
    assert described["Drift_boolean__c"]["defaultValue"] is False
    assert [v["value"] for v in described["Drift_picklist__c"]["picklistValues"]] == [
        "Walk-in",
        "Mail order",
        "Specialty",
    ]
    # WHERE on added fields, typed as their describe says.
    flagged = _bulk(client, "SELECT Id FROM Contact WHERE Drift_boolean__c = true")
    assert 0 < len(flagged) < len(rows)
    # Given values cycle over rows in creation order.
    sf.add_field("Contact", "Copay__c", "currency", values=[10.5, None, 25])
    copays = [row["Copay__c"] for row in sf.truth("Contact", include_deleted=True)]
    assert copays[:6] == ["10.5", None, "25.0", "10.5", None, "25.0"]
    # Or come from a function of the variant (row i uses variant i % 1,021).
    sf.add_field("Contact", "Visits__c", "double", values=lambda variant: variant % 4)
    visits = [row["Visits__c"] for row in sf.truth("Contact", include_deleted=True)]
    assert visits[:5] == ["0.0", "1.0", "2.0", "3.0", "0.0"]


def test_removed_field_is_gone_and_named_queries_fail_at_creation(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    name = "Medical_School__c"
    soql = f"SELECT Id, {name} FROM Contact"
    created = client.create_job(soql)
    before_job = created.json()["id"]
    assert client.wait(before_job)["state"] == "JobComplete"

    assert _control(sf, "remove_field", object="Contact", name=name).json() == {"removed": [name]}

    assert name not in _describe(client)
    error = _bulk_error(client, soql)
    assert error["errorCode"] == "INVALID_FIELD"
    assert NO_SUCH_COLUMN.format(name) in error["message"]
    assert _bulk_error(client, f"SELECT Id FROM Contact WHERE {name} = 'x'")["errorCode"] == (
        "INVALID_FIELD"
    )
    rest = _rest(client, soql)
    assert rest.status_code == 400
    assert _error(rest)["errorCode"] == "INVALID_FIELD"
    assert name not in next(sf.truth("Contact"))
    # The job that completed before the deletion still serves its column.
    assert name in csv_records(list(client.pages(before_job)))[0]
    # Setup refuses: standard fields, fields a formula reads, a geolocation's components.
    for refused in ("Title", "Specialty__c", "Practice_Geolocation__Latitude__s", name):
        reply = _control(sf, "remove_field", object="Contact", name=refused)
        assert reply.status_code in (400, 404), refused
    geolocation = sf.remove_field("Contact", "Practice_Geolocation__c")
    assert set(geolocation) == {
        "Practice_Geolocation__c",
        "Practice_Geolocation__Latitude__s",
        "Practice_Geolocation__Longitude__s",
    }


def test_a_job_created_before_a_removal_still_renders_the_column(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=300, accounts=20, job_processing_seconds=0.6)
    client = EmulatorClient(sf.url, sf.credentials)
    job_id = client.create_job("SELECT Id, Medical_School__c FROM Contact").json()["id"]
    sf.remove_field("Contact", "Medical_School__c")  # before the job starts processing
    assert client.wait(job_id)["state"] == "JobComplete"
    rows = csv_records(list(client.pages(job_id)))
    assert len(rows) > 250
    assert any(row["Medical_School__c"] for row in rows)


def test_hidden_field_looks_removed_until_shown_again(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    titles = {row["Id"]: row["Title"] for row in sf.truth("Contact")}
    before_job = client.create_job("SELECT Id, Title FROM Contact").json()["id"]
    assert client.wait(before_job)["state"] == "JobComplete"

    assert _control(sf, "hide_field", object="Contact", name="Title").json() == {
        "hidden": ["Title"]
    }
    assert "Title" not in _describe(client)
    assert (
        NO_SUCH_COLUMN.format("Title")
        in _bulk_error(client, "SELECT Id, Title FROM Contact")["message"]
    )
    assert (
        _error(_rest(client, "SELECT Title FROM Contact LIMIT 1"))["errorCode"] == "INVALID_FIELD"
    )
    assert "Title" not in next(sf.truth("Contact"))
    # A job that started before the field was hidden keeps serving it.
    assert "Title" in csv_records(list(client.pages(before_job)))[0]
    # An admin can still write it; the API user sees the change once it is shown again.
    changed = sf.update_records("Contact", count=1, fields={"Title": "Hidden edit"})

    assert _control(sf, "show_field", object="Contact", name="Title").json() == {"shown": ["Title"]}
    assert _describe(client)["Title"]["type"] == "string"
    rows = {
        row["Id"]: row["Title"] or None for row in _bulk(client, "SELECT Id, Title FROM Contact")
    }
    assert rows == {**titles, changed[0]: "Hidden edit"}

    # A compound hides with its components; required fields and components alone cannot.
    hidden = sf.hide_field("Contact", "MailingAddress")
    assert "MailingCity" in hidden
    assert "MailingCity" not in _describe(client)
    for refused in ("LastName", "Id", "MailingCity", "SystemModstamp"):
        reply = _control(sf, "hide_field", object="Contact", name=refused)
        assert reply.status_code == 400, refused
    assert _control(sf, "show_field", object="Contact", name="Email").status_code == 400
    sf.show_field("Contact", "MailingAddress")
    assert "MailingCity" in _describe(client)
