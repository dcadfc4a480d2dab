"""getUpdated and long-running transactions, over HTTP: rows written in a transaction stay
invisible to every query until it commits, and latestDateCovered never passes its start."""

# ruff: noqa: S608 - these strings are SOQL sent to the emulator, not SQL

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.fake_salesforce import FakeSalesforce, replication
from tests.fake_salesforce.client import EmulatorClient, csv_records

MINUTE_MS = 60_000
DAY_MS = 86_400_000


@pytest.fixture
def client(fake_salesforce: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(fake_salesforce.url, fake_salesforce.credentials)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _rest_minute(ms: int) -> str:
    """latestDateCovered's spelling of the minute holding ``ms``."""
    return _iso(ms - ms % MINUTE_MS).replace("+00:00", ".000+0000")


def _updated(
    client: EmulatorClient, start: str | None, end: str | None, name: str = "Contact"
) -> requests.Response:
    params = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    return client.session.get(f"{client.base}/sobjects/{name}/updated/", params=params, timeout=10)


def _error_code(reply: requests.Response) -> tuple[int, str]:
    return reply.status_code, reply.json()[0]["errorCode"]


def _seen_by_queries(client: EmulatorClient, record_id: str) -> dict[str, str | None]:
    """The record's SystemModstamp as REST query, queryAll and a Bulk job see it (None: absent)."""
    soql = f"SELECT Id, SystemModstamp FROM Contact WHERE Id = '{record_id}'"
    seen: dict[str, str | None] = {}
    for resource in ("query", "queryAll"):
        reply = client.session.get(f"{client.base}/{resource}", params={"q": soql}, timeout=10)
        records = reply.json()["records"]
        seen[resource] = records[0]["SystemModstamp"] if records else None
    info, pages = client.run(soql, "query")
    assert info["state"] == "JobComplete", info
    rows = csv_records(pages)
    seen["bulk"] = rows[0]["SystemModstamp"] if rows else None
    return seen


def test_rows_written_in_an_open_transaction_appear_only_at_commit_with_their_old_stamp(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    now = sf.clock.now_ms()
    started = now - 20 * MINUTE_MS
    transaction = sf.begin_transaction(started)
    (record_id,) = sf.update_records(
        "Contact", count=1, fields={"Title": "In flight"}, transaction=transaction
    )
    committed = next(row for row in sf.truth("Contact") if row["Id"] == record_id)
    assert committed["Title"] != "In flight"
    before = _seen_by_queries(client, record_id)
    assert before["bulk"] == committed["SystemModstamp"], "queries see the committed row"
    assert before["query"] == before["queryAll"] == before["bulk"].replace("Z", "+0000")
    window = _updated(client, _iso(now - 30 * MINUTE_MS), _iso(now + MINUTE_MS)).json()
    assert record_id not in window["ids"]
    # latestDateCovered stops at the start of the open transaction, to the minute.
    assert window["latestDateCovered"] == _rest_minute(started)
    assert sf.commit_transaction(transaction) == [record_id]
    after = _seen_by_queries(client, record_id)
    stamp = dt.datetime.fromtimestamp(started / 1000, tz=dt.UTC)
    assert after["bulk"] == stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{started % 1000:03d}Z"
    assert after["query"] == after["queryAll"] == after["bulk"].replace("Z", "+0000")
    assert next(r for r in sf.truth("Contact") if r["Id"] == record_id)["Title"] == "In flight"
    sf.advance_clock(61)
    later = _updated(client, _iso(now - 30 * MINUTE_MS), _iso(sf.clock.now_ms())).json()
    assert record_id in later["ids"]
    assert later["latestDateCovered"] > window["latestDateCovered"]


def test_latest_date_covered_is_the_end_or_the_current_minute_or_the_oldest_open_transaction(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    now = sf.clock.now_ms()
    hour_ago = now - 60 * MINUTE_MS
    past = _updated(client, _iso(hour_ago), _iso(now - 10 * MINUTE_MS)).json()
    assert past["latestDateCovered"] == _rest_minute(now - 10 * MINUTE_MS)
    future = _updated(client, _iso(hour_ago), _iso(now + 60 * MINUTE_MS)).json()
    # The current minute (the clock may have passed into the next one since ``now``).
    assert future["latestDateCovered"] in {_rest_minute(now), _rest_minute(sf.clock.now_ms())}
    # Instance-wide: a transaction writing Accounts holds back Contact's answer too, and the
    # oldest of two open transactions is the one that counts.
    older = sf.begin_transaction(now - 7 * MINUTE_MS)
    sf.update_records("Account", count=1, transaction=older)
    newer = sf.begin_transaction(now - 3 * MINUTE_MS)
    held = _updated(client, _iso(hour_ago), _iso(now + MINUTE_MS)).json()
    assert held["latestDateCovered"] == _rest_minute(now - 7 * MINUTE_MS)
    sf.rollback_transaction(older)
    held = _updated(client, _iso(hour_ago), _iso(now + MINUTE_MS)).json()
    assert held["latestDateCovered"] == _rest_minute(now - 3 * MINUTE_MS)
    sf.commit_transaction(newer)
    before = sf.clock.now_ms()
    free = _updated(client, _iso(hour_ago), _iso(now + 60 * MINUTE_MS)).json()
    assert free["latestDateCovered"] in {_rest_minute(before), _rest_minute(sf.clock.now_ms())}


def test_get_updated_lists_changed_rows_of_whole_minutes(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    before = sf.clock.now_ms()
    start = before - 5 * MINUTE_MS
    changed = sf.update_records("Contact", count=3)
    gone = sf.delete_records("Contact", changed[:1])
    future = _iso(sf.clock.now_ms() + 60 * MINUTE_MS)
    current = _updated(client, _iso(start), future).json()["ids"]
    if (before // MINUTE_MS) == (sf.clock.now_ms() // MINUTE_MS):
        assert current == [], "changes of the current minute are not covered yet"
    sf.advance_clock(61)
    listed = _updated(client, _iso(start), future).json()["ids"]
    assert set(listed) == set(changed) - set(gone), "deleted rows are getDeleted's"
    # The API ignores seconds: 12:30:59 means 12:30:00.
    same = _updated(client, _iso(start)[:17] + "59+00:00", future).json()["ids"]
    assert set(same) == set(listed)


def test_get_updated_window_rules(fake_salesforce: FakeSalesforce, client: EmulatorClient) -> None:
    now = fake_salesforce.clock.now_ms()
    minute = now - now % MINUTE_MS
    too_short = _updated(client, _iso(minute + 5_000), _iso(minute + 55_000))
    assert _error_code(too_short) == (400, "INVALID_REPLICATION_DATE")
    assert _error_code(_updated(client, _iso(now), _iso(now - DAY_MS))) == (
        400,
        "INVALID_REPLICATION_DATE",
    )
    # Results reach back 30 days.
    assert _error_code(_updated(client, _iso(now - 31 * DAY_MS), _iso(now))) == (
        400,
        "INVALID_REPLICATION_DATE",
    )
    assert _updated(client, _iso(now - 29 * DAY_MS), _iso(now)).status_code == 200
    assert _error_code(_updated(client, _iso(now - DAY_MS), None)) == (400, "MISSING_ARGUMENT")
    assert _updated(client, _iso(now - DAY_MS), _iso(now), name="Nope__c").status_code == 404


def test_get_updated_refuses_more_than_the_id_limit(
    fake_salesforce: FakeSalesforce, client: EmulatorClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sf = fake_salesforce
    start = sf.clock.now_ms() - 5 * MINUTE_MS
    sf.update_records("Contact", count=3)
    sf.advance_clock(61)
    monkeypatch.setattr(replication, "MAX_IDS", 2)  # 600,000 in Salesforce
    reply = _updated(client, _iso(start), _iso(sf.clock.now_ms()))
    assert _error_code(reply) == (400, "EXCEEDED_ID_LIMIT")


def test_objects_not_replicateable_say_so_in_describe_and_get_updated_refuses_them(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce
    now = sf.clock.now_ms()

    def replicateable() -> object:
        body = client.session.get(f"{client.base}/sobjects/Account/describe", timeout=10).json()
        return body["replicateable"]

    assert replicateable() is True
    assert _updated(client, _iso(now - DAY_MS), _iso(now), name="Account").status_code == 200
    requests.post(
        f"{sf.url}/__emulator/set_replicateable",
        json={"object": "Account", "replicateable": False},
        timeout=10,
    ).raise_for_status()
    assert replicateable() is False
    listing = client.session.get(f"{client.base}/sobjects", timeout=10).json()["sobjects"]
    assert next(o for o in listing if o["name"] == "Account")["replicateable"] is False
    reply = _updated(client, _iso(now - DAY_MS), _iso(now), name="Account")
    assert _error_code(reply) == (400, "INVALID_TYPE_FOR_OPERATION")


def test_transactions_over_the_control_api(
    fake_salesforce: FakeSalesforce, client: EmulatorClient
) -> None:
    sf = fake_salesforce

    def control(action: str, **body: object) -> requests.Response:
        return requests.post(f"{sf.url}/__emulator/{action}", json=body, timeout=10)

    started = sf.clock.now_ms() - 20 * MINUTE_MS
    transaction = control("begin_transaction", started_at=_iso(started)).json()["transaction"]
    ids = control(
        "update_records", object="Contact", count=2, transaction=transaction, fields={"Title": "X"}
    ).json()["ids"]
    assert all(row["Title"] != "X" for row in sf.truth("Contact") if row["Id"] in ids)
    early = control(
        "update_records",
        object="Contact",
        ids=ids[:1],
        transaction=transaction,
        system_modstamp=_iso(started - MINUTE_MS),
    )
    assert early.status_code == 400, "a transaction cannot write before it started"
    assert set(control("commit_transaction", transaction=transaction).json()["ids"]) == set(ids)
    assert all(row["Title"] == "X" for row in sf.truth("Contact") if row["Id"] in ids)
    assert control("commit_transaction", transaction=transaction).status_code == 404
