"""Side streams: new fields backfilled, formula fields refreshed, purged records detected."""

from __future__ import annotations

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import run_tap, tap_config


def test_field_added_in_salesforce_is_backfilled_for_every_row_once(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    config = tap_config(sf)
    first = run_tap(config)
    assert first.records("Contact__patch") == []
    state = first.last_state
    assert state is not None
    assert "NPI__c" in state["bookmarks"]["Contact"]["synced_fields"]

    sf.add_field(
        "Contact", "Preferred_Pharmacy__c", type="string", values=["CVS", "Walgreens", None]
    )
    second = run_tap(config, state=state)
    schema = second.schema("Contact__patch")["schema"]
    assert schema["x-singer-patch"] == {"stream": "Contact"}
    patches = second.records("Contact__patch")
    truth = {row["Id"]: row["Preferred_Pharmacy__c"] for row in sf.truth("Contact")}
    assert {r["Id"]: r["Preferred_Pharmacy__c"] for r in patches} == truth
    assert all(set(r) == {"Id", "Preferred_Pharmacy__c"} for r in patches)
    assert "Preferred_Pharmacy__c" in second.schema("Contact")["schema"]["properties"]
    final = second.last_state
    assert final is not None
    assert "Preferred_Pharmacy__c" in final["bookmarks"]["Contact"]["synced_fields"]

    third = run_tap(config, state=final)
    assert third.records("Contact__patch") == [], "backfilled once"


def test_formula_fields_are_refreshed_without_systemmodstamp_moving(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    config = tap_config(sf, reconcile=["formula_fields"])
    first = run_tap(config)
    assert first.records("Contact__patch") == [], "a full load already has fresh formulas"
    changed = sf.recalculate_formulas("Contact", count=30)
    second = run_tap(config, state=first.last_state)
    assert not set(changed) & {r["Id"] for r in second.records("Contact")}, "stamps did not move"
    patches = {r["Id"]: r for r in second.records("Contact__patch")}
    truth = {row["Id"]: row["Provider_Summary__c"] for row in sf.truth("Contact")}
    assert {i: r["Provider_Summary__c"] for i, r in patches.items()} == truth
    assert all(set(r) == {"Id", "Provider_Summary__c"} for r in patches.values())


def test_purged_records_are_missing_from_the_closed_id_set(fake_salesforce: FakeSalesforce) -> None:
    sf = fake_salesforce
    config = tap_config(sf, reconcile=["deletes"])
    first = run_tap(config)
    purged = [row["Id"] for row in list(sf.truth("Contact"))[:7]]
    sf.purge_records("Contact", purged)
    second = run_tap(config, state=first.last_state)
    schema = second.schema("Contact__ids")
    assert schema["schema"]["x-singer-id-set"] == {
        "stream": "Contact",
        "stamp_property": "SystemModstamp",
    }
    ids = [r["Id"] for r in second.records("Contact__ids")]
    assert set(ids) == {row["Id"] for row in sf.truth("Contact")}
    assert not set(purged) & set(ids)
    messages = [m for m in second.messages if m.get("stream") == "Contact__ids"]
    (activate,) = [m for m in messages if m["type"] == "ACTIVATE_VERSION"]
    assert messages[-1] is activate, "the set is closed after its last Id"
    assert {m["version"] for m in messages if m["type"] == "RECORD"} == {activate["version"]}
    assert sf.counters["queries"][-1] == "SELECT Id FROM Contact"
    assert sf.counters["deleted_jobs"] == sf.counters["jobs_created"], "side jobs are cleaned up"
