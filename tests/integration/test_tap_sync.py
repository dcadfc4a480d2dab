"""The tap against the emulator over HTTP: discovery, paging, typing, state and incremental runs."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_checks import mismatches
from tests.integration.tap_runner import run_tap, tap_config


def test_discovery_types_contact_from_describe_and_leaves_compound_fields_out(
    fake_salesforce: FakeSalesforce,
) -> None:
    config = tap_config(fake_salesforce, objects=["Contact", "Account"])
    run = run_tap(config, args=("--discover",))
    catalog = json.loads(run.stdout)
    account = next(s for s in catalog["streams"] if s["tap_stream_id"] == "Account")
    assert account["schema"]["properties"]["NumberOfEmployees"]["type"] == ["integer", "null"]
    stream = next(s for s in catalog["streams"] if s["tap_stream_id"] == "Contact")
    props = stream["schema"]["properties"]
    assert stream["key_properties"] == ["Id"]
    assert stream["replication_key"] == "SystemModstamp"
    assert props["Id"]["type"] == ["string"]
    assert props["SystemModstamp"] == {
        "type": ["string", "null"],
        "format": "date-time",
        "title": "System Modstamp",
    }
    assert props["Birthdate"]["format"] == "date"
    assert props["HasOptedOutOfEmail"]["type"] == ["boolean", "null"]
    assert props["Panel_Size__c"]["type"] == ["number", "null"]
    assert props["Consultation_Fee__c"]["type"] == ["number", "null"]
    assert "MailingAddress" not in props
    assert "OtherAddress" not in props
    assert "MailingPostalCode" in props
    assert "Practice_Geolocation__c" not in props
    assert "Practice_Geolocation__Latitude__s" in props
    assert "leaving out" in run.stderr
    assert "MailingAddress" in run.stderr


def test_full_sync_reads_every_page_with_exact_totals_and_values(
    fake_salesforce: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(fake_salesforce, page_size=300, max_parallel_downloads=1))
    records = run.records("Contact")
    truth = list(fake_salesforce.truth("Contact"))
    counters = fake_salesforce.counters
    assert counters["pages_served"] >= 5
    assert len(records) == len(truth) == counters["rows_served"]
    assert len({r["Id"] for r in records}) == len(records)
    props = run.schema("Contact")["schema"]["properties"]
    assert mismatches(records, truth, props) == []
    assert counters["jobs_created"] == 1
    assert counters["deleted_jobs"] == 1, "a finished job is deleted"


def test_text_with_line_breaks_quotes_commas_and_non_ascii_arrives_exactly(
    fake_salesforce: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(fake_salesforce))
    records = run.records("Contact")
    texts = [v for r in records for v in r.values() if isinstance(v, str)]
    assert any("\n" in t for t in texts)
    assert any("\r\n" in t for t in texts)
    assert any('"' in t for t in texts)
    assert any("," in t for t in texts)
    assert any(not t.isascii() for t in texts)
    nulls = Counter(k for r in records for k, v in r.items() if v is None)
    assert nulls, "empty CSV fields arrive as null"
    props = run.schema("Contact")["schema"]["properties"]
    assert mismatches(records, fake_salesforce.truth("Contact"), props) == []


def test_parallel_result_pages_download_keeps_one_ordered_stream(
    make_fake_salesforce: object,
) -> None:
    sf = make_fake_salesforce(contacts=3_000, accounts=50, default_page_records=400)  # type: ignore[operator]
    run = run_tap(tap_config(sf, max_parallel_downloads=4))
    assert sf.counters["requests_by_kind"].get("result_pages", 0) >= 1
    assert sf.counters["pages_served"] >= 5
    records = run.records("Contact")
    assert len(records) == len({r["Id"] for r in records}) == sf.counters["rows_served"]
    kinds = [m["type"] for m in run.messages]
    assert kinds[0] == "SCHEMA"
    assert "SCHEMA" not in kinds[1:], "one stream, one schema message"


def test_second_run_reads_only_changes_and_rereads_the_bookmark_tie(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    first = run_tap(tap_config(sf))
    state = first.last_state
    assert state is not None
    bookmark = state["bookmarks"]["Contact"]["replication_key_value"]
    changed = sf.update_records("Contact", count=25, fields={"Title": "Changed between runs"})
    # A record stamped exactly at the bookmark is a tie: >= must read it again.
    tie = sf.update_records("Contact", count=1, system_modstamp=bookmark)
    sf.reset_counters()
    second = run_tap(tap_config(sf), state=state)
    ids = {r["Id"] for r in second.records("Contact")}
    assert set(changed) <= ids
    assert set(tie) <= ids
    assert len(ids) < 200, "the second run reads only what changed"
    (soql,) = sf.counters["queries"]
    assert f"SystemModstamp >= {bookmark}" in soql
    assert "ORDER BY" not in soql
    titles = {r["Id"]: r["Title"] for r in second.records("Contact")}
    assert all(titles[i] == "Changed between runs" for i in changed)


def test_record_committed_late_with_an_earlier_stamp_is_caught_next_run(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    config = tap_config(sf, lag_seconds=120)
    first = run_tap(config)
    state = first.last_state
    assert state is not None
    bookmark = state["bookmarks"]["Contact"]["replication_key_value"]
    # Stamped 60 s before the first job was created, committed only now.
    job_created = dt.datetime.fromisoformat(bookmark) + dt.timedelta(seconds=120)
    late = sf.update_records(
        "Contact", count=1, system_modstamp=job_created - dt.timedelta(seconds=60)
    )
    second = run_tap(config, state=state)
    assert set(late) <= {r["Id"] for r in second.records("Contact")}


def test_include_deleted_uses_query_all_and_flags_deleted_rows(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    gone = sf.delete_records("Contact", [next(iter(sf.truth("Contact")))["Id"]])
    run = run_tap(tap_config(sf, include_deleted=True))
    records = {r["Id"]: r for r in run.records("Contact")}
    assert records[gone[0]]["IsDeleted"] is True
    assert sum(1 for r in records.values() if r["IsDeleted"]) > 1
    assert len(records) == len(list(sf.truth("Contact", include_deleted=True)))
    without = run_tap(tap_config(sf))
    assert gone[0] not in {r["Id"] for r in without.records("Contact")}


@pytest.mark.parametrize("flow", ["password", "soap", "refresh_token", "client_credentials", "jwt"])
def test_every_login_flow_syncs(make_fake_salesforce: object, flow: str) -> None:
    sf = make_fake_salesforce(contacts=300, accounts=10)  # type: ignore[operator]
    run = run_tap(tap_config(sf, flow=flow))
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))
    grant = {
        "soap": "soap_login",
        "jwt": "jwt_bearer",
        "password": "password",
    }.get(flow, flow)
    assert sf.counters["auth_calls"] == {grant: 1}


@pytest.mark.parametrize("downloads", [1, 3], ids=["streamed", "prefetched"])
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_multi_megabyte_pages_are_read_to_their_last_row(
    make_fake_salesforce: object, downloads: int, gzip: bool
) -> None:
    sf = make_fake_salesforce(contacts=6_000, accounts=10, gzip=gzip)  # type: ignore[operator]
    run = run_tap(tap_config(sf, page_size=2_500, max_parallel_downloads=downloads))
    assert sf.counters["pages_served"] == 3
    if not gzip:
        assert sf.counters["bytes_served"] > 6_000_000, "pages larger than any read buffer"
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))


def test_every_object_mode_syncs_what_bulk_can_query(fake_salesforce: FakeSalesforce) -> None:
    run = run_tap(tap_config(fake_salesforce, objects=["*"]))
    streams = {m["stream"] for m in run.messages if m["type"] == "SCHEMA"}
    assert streams == {"Account", "Contact"}, "feeds, CaseStatus and the like are left out"
    assert len(run.records("Account")) == len(list(fake_salesforce.truth("Account")))
    assert not any("INVALIDENTITY" in q for q in fake_salesforce.counters["queries"])


def test_stream_maps_still_apply_to_records(fake_salesforce: FakeSalesforce) -> None:
    maps = {"Contact": {"__alias__": "provider", "Title": None, "Initial": "LastName[:1]"}}
    run = run_tap(tap_config(fake_salesforce, stream_maps=maps))
    records = run.records("provider")
    assert len(records) == len(list(fake_salesforce.truth("Contact")))
    assert all("Title" not in r for r in records)
    assert all(r["Initial"] == (r["LastName"] or "")[:1] for r in records)
    plain = run_tap(tap_config(fake_salesforce)).messages
    record = next(m for m in plain if m["type"] == "RECORD")
    assert set(record) == {"type", "stream", "record", "time_extracted"}
    assert record["time_extracted"].endswith("Z")


def test_soap_login_uses_api_64_even_when_a_newer_version_is_configured(
    fake_salesforce: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(fake_salesforce, flow="soap", api_version="66.0"))
    assert "soap flow, API 64.0" in run.stderr
    assert len(run.records("Contact")) == len(list(fake_salesforce.truth("Contact")))
    assert fake_salesforce.counters["auth_calls"] == {"soap_login": 1}


def test_windows_split_history_into_parallel_jobs_and_move_the_bookmark_per_window(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    run = run_tap(tap_config(sf, window_days=365, max_parallel_jobs=2))
    queries = sf.counters["queries"]
    first = next(iter(sorted(row["SystemModstamp"] for row in sf.truth("Contact"))))
    assert len(queries) >= 4, "about five years of history in 365-day windows"
    assert all("SystemModstamp >= " in q for q in queries)
    assert all(" AND SystemModstamp < " in q for q in queries[:-1])
    assert " AND SystemModstamp < " not in queries[-1], "the last window is open-ended"
    assert first[:4] in queries[0]
    records = run.records("Contact")
    assert len(records) == len({r["Id"] for r in records}) == len(list(sf.truth("Contact")))
    bookmarks = [
        s["bookmarks"]["Contact"].get("replication_key_value")
        for s in run.states
        if (s["bookmarks"].get("Contact", {}).get("bulk_job") or {}).get("id") is None
    ]
    moved = [b for b in bookmarks if b]
    assert moved == sorted(moved)
    assert len(set(moved)) >= len(queries) - 1, "the bookmark moves after each window"


def test_a_run_with_nothing_changed_ends_cleanly_with_zero_records(
    fake_salesforce: FakeSalesforce,
) -> None:
    # Default settings: pages listed by resultPages, which lists none for an empty result; the
    # tap then reads the job's one (header-only) page by locator.
    sf = fake_salesforce
    first = run_tap(tap_config(sf, lag_seconds=0))
    state = first.last_state
    assert state is not None
    sf.advance_clock(60)
    second = run_tap(tap_config(sf, lag_seconds=0), state=state)
    assert second.records("Contact") == []
    assert second.last_state is not None
    bookmarks = second.last_state["bookmarks"]["Contact"]
    assert (
        bookmarks["replication_key_value"] >= state["bookmarks"]["Contact"]["replication_key_value"]
    )
    assert bookmarks["bulk_job"]["id"] is None
