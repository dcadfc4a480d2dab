"""Stale and hand-picked catalogs: fields deleted in Salesforce, new fields, pinned selections."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import run_tap, tap_config


def discovered(sf: FakeSalesforce) -> dict[str, Any]:
    return json.loads(run_tap(tap_config(sf), args=("--discover",)).stdout)


def contact_entry(catalog: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == "Contact")


def select(entry: dict[str, Any], fields: set[str] | None) -> None:
    """Select the stream and the given fields (all fields when None)."""
    for item in entry["metadata"]:
        crumb = item["breadcrumb"]
        if not crumb:
            item["metadata"]["selected"] = True
        elif fields is not None:
            item["metadata"]["selected"] = crumb[1] in fields


def test_field_deleted_since_discovery_is_dropped_with_a_warning(
    fake_salesforce: FakeSalesforce,
) -> None:
    catalog = discovered(fake_salesforce)
    entry = contact_entry(catalog)
    entry["schema"]["properties"]["Legacy_Score__c"] = {"type": ["number", "null"]}
    entry["metadata"].append(
        {"breadcrumb": ["properties", "Legacy_Score__c"], "metadata": {"inclusion": "available"}}
    )
    select(entry, None)
    run = run_tap(tap_config(fake_salesforce), catalog=catalog)
    assert "Legacy_Score__c, which Salesforce no longer describes" in run.stderr
    assert "Legacy_Score__c" not in run.schema("Contact")["schema"]["properties"]
    assert "Legacy_Score__c" not in fake_salesforce.counters["queries"][0]
    assert len(run.records("Contact")) == len(list(fake_salesforce.truth("Contact")))


def test_new_field_is_synced_unless_the_catalog_pins_a_selection(
    fake_salesforce: FakeSalesforce,
) -> None:
    catalog = discovered(fake_salesforce)
    stale = copy.deepcopy(catalog)
    entry = contact_entry(stale)
    del entry["schema"]["properties"]["NPI__c"]  # as if NPI__c was created after discovery
    entry["metadata"] = [
        m for m in entry["metadata"] if m["breadcrumb"] != ["properties", "NPI__c"]
    ]
    select(entry, None)
    run = run_tap(tap_config(fake_salesforce), catalog=stale)
    assert "new in Salesforce since the catalog was made: NPI__c (synced from now on)" in run.stderr
    assert all("NPI__c" in r for r in run.records("Contact"))

    select(entry, {"Id", "LastName", "SystemModstamp"})
    pinned = run_tap(tap_config(fake_salesforce), catalog=stale)
    assert "left deselected: the catalog pins a selection" in pinned.stderr
    assert {frozenset(r) for r in pinned.records("Contact")} == {
        frozenset({"Id", "LastName", "SystemModstamp"})
    }
    soql = fake_salesforce.counters["queries"][-1]
    assert soql.startswith("SELECT Id, LastName, SystemModstamp FROM Contact")
