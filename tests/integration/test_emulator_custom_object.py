"""The opt-in custom object ``License__c``: described as custom, queryable like any object."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_checks import mismatches
from tests.integration.tap_runner import run_tap, tap_config


def test_custom_object_exists_only_when_asked_for_and_syncs_exactly(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    plain = make_fake_salesforce(contacts=20, accounts=2)
    assert plain.org.object("License__c") is None
    sf = make_fake_salesforce(contacts=50, accounts=2, licenses=80)
    discovered = run_tap(tap_config(sf, objects=["*"]), args=("--discover",)).stdout
    streams = {s["tap_stream_id"] for s in json.loads(discovered)["streams"]}
    assert "License__c" in streams
    run = run_tap(tap_config(sf, objects=["License__c"]))
    schema = run.schema("License__c")["schema"]
    assert schema["title"] == "License"
    records = run.records("License__c")
    assert records
    assert all(r["Id"].startswith("a0L") for r in records)
    assert not mismatches(records, sf.truth("License__c"), schema["properties"])
