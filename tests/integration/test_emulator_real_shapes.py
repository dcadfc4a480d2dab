"""The emulator's payloads held against payloads captured from real orgs.

``/work/shared/real-salesforce`` (override with ``REAL_SALESFORCE_DIR``) holds describes, Bulk 2.0
job JSON, a results excerpt, a ``/limits`` answer and error bodies from public repositories, with
their provenance (``PROVENANCE.md``). A client sees key sets, value types and text formats, so
those are compared: anything the emulator sends that a real org would send differently is a
habit a tap could wrongly come to rely on.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.client import EmulatorClient

REAL_DIR = Path(os.environ.get("REAL_SALESFORCE_DIR", "/work/shared/real-salesforce"))
# Describes of API 46.0 and later: the attribute set a current describe has (the v25 Contact
# predates 14 of the attributes).
MODERN_DESCRIBES = (
    "cumulusci_Contact_describe.json",
    "cumulusci_Account_describe.json",
    "cumulusci_Account_PersonAccount_describe.json",
    "cumulusci_Lead_describe.json",
    "cumulusci_Event_describe.json",
    "elasticio_Account_describe_v46.json",
    "elasticio_Document_describe_v46.json",
)
EMULATED_OBJECTS = ("Contact", "Account", "Task", "Event", "Type_Zoo__c")
REST_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
QUOTED_CSV_LINE = re.compile(r'^"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*$')

pytestmark = pytest.mark.skipif(
    not REAL_DIR.is_dir(),
    reason=f"no captured real-org payloads at {REAL_DIR} (set REAL_SALESFORCE_DIR)",
)


def real(*parts: str) -> Any:
    """A captured JSON payload."""
    return json.loads(REAL_DIR.joinpath(*parts).read_text(encoding="utf-8"))


def value_types(entries: Iterable[Mapping[str, Any]], by: str | None = None) -> dict[Any, set[str]]:
    """(entry[by], key) or key -> the JSON types its values take."""
    seen: dict[Any, set[str]] = defaultdict(set)
    for entry in entries:
        for key, value in entry.items():
            kind = "null" if value is None else type(value).__name__
            seen[(entry[by], key) if by else key].add(kind)
    return seen


@pytest.fixture(scope="module")
def sf() -> Iterable[FakeSalesforce]:
    """An emulator with every object it can serve."""
    with FakeSalesforce(
        contacts=50, accounts=10, tasks=20, events=20, type_zoo=20, job_processing_seconds=0.05
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(sf: FakeSalesforce) -> EmulatorClient:
    """A logged-in client."""
    return EmulatorClient(sf.url, sf.credentials)


@pytest.fixture(scope="module")
def describe(client: EmulatorClient) -> Callable[[str], dict[str, Any]]:
    """GET an object's describe."""

    def get(name: str) -> dict[str, Any]:
        reply = client.session.get(f"{client.base}/sobjects/{name}/describe", timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    return get


def test_describe_results_have_the_keys_of_real_describes(
    describe: Callable[[str], dict[str, Any]],
) -> None:
    real_describes = [real("describe", name) for name in MODERN_DESCRIBES]
    real_top = {frozenset(d) for d in real_describes}
    real_field_keys = {frozenset(f) for d in real_describes for f in d["fields"]}
    real_picklist_keys = {
        frozenset(p) for d in real_describes for f in d["fields"] for p in f["picklistValues"]
    }
    assert len(real_field_keys) == 1, "every real field entry has the same attributes"
    for name in EMULATED_OBJECTS:
        body = describe(name)
        assert frozenset(body) in real_top, name
        for field in body["fields"]:
            assert frozenset(field) in real_field_keys, f"{name}.{field['name']}"
            for value in field["picklistValues"]:
                assert frozenset(value) in real_picklist_keys, f"{name}.{field['name']}"


def test_describe_values_have_the_types_real_describes_give_them(
    describe: Callable[[str], dict[str, Any]],
) -> None:
    real_fields = [f for n in MODERN_DESCRIBES for f in real("describe", n)["fields"]]
    real_types = value_types(real_fields, by="type")
    real_any = value_types(real_fields)
    for name in EMULATED_OBJECTS:
        fields = describe(name)["fields"]
        for (field_type, key), kinds in value_types(fields, by="type").items():
            # Types no captured describe has (time, anyType, ...) are held to every field's.
            expected = real_types.get((field_type, key)) or real_any[key]
            if key in {"calculatedFormula", "inlineHelpText", "extraTypeInfo", "defaultValue"}:
                expected = real_any[key] | {"null"}
            if field_type == "encryptedstring" and key in {"mask", "maskType"}:
                expected = {"str"}  # set on encrypted fields only; no capture has one
            assert kinds <= expected, f"{name}: {field_type}.{key} is {kinds}, real: {expected}"


# Attributes a client acts on; each compared for every field both describes have.
COMPARED_ATTRIBUTES = (
    "type", "soapType", "length", "byteLength", "digits", "precision", "scale", "nillable",
    "filterable", "sortable", "createable", "updateable", "defaultedOnCreate", "calculated",
    "custom", "idLookup", "nameField", "unique", "externalId",
)  # fmt: skip


@pytest.mark.parametrize(
    ("sobject", "captured"),
    [
        ("Contact", "cumulusci_Contact_describe.json"),
        ("Account", "cumulusci_Account_describe.json"),
        ("Event", "cumulusci_Event_describe.json"),
    ],
)
def test_standard_fields_are_described_as_the_real_org_describes_them(
    describe: Callable[[str], dict[str, Any]], sobject: str, captured: str
) -> None:
    real_fields = {f["name"]: f for f in real("describe", captured)["fields"]}
    ours = describe(sobject)["fields"]
    shared = [field for field in ours if field["name"] in real_fields]
    assert len(shared) >= 0.4 * len(ours), "the emulated object mirrors the real one"
    for field in shared:
        twin = real_fields[field["name"]]
        for key in COMPARED_ATTRIBUTES:
            assert field[key] == twin[key], f"{sobject}.{field['name']}.{key}"


def test_event_fields_are_real_event_fields(describe: Callable[[str], dict[str, Any]]) -> None:
    real_event = {f["name"] for f in real("describe", "cumulusci_Event_describe.json")["fields"]}
    assert {f["name"] for f in describe("Event")["fields"]} <= real_event
    assert {"IsArchived", "IsDeleted", "ActivityDate", "WhoId", "WhatId", "Subject"} <= {
        f["name"] for f in describe("Task")["fields"]
    }


def test_global_describe_has_the_real_keys(client: EmulatorClient) -> None:
    captured = real("describe", "cumulusci_Global_describe.json")
    body = client.session.get(f"{client.base}/sobjects", timeout=10).json()
    assert set(body) == set(captured)
    real_entry_keys = {frozenset(e) for e in captured["sobjects"]}
    assert all(frozenset(e) in real_entry_keys for e in body["sobjects"])


def test_finished_job_info_has_the_real_keys_types_and_date_format(
    client: EmulatorClient,
) -> None:
    captured = real("bulk2", "arcane_job_status_JobComplete_ECCO_Consent__c.json")
    created = client.create_job("SELECT Id, Name FROM Account")
    info = client.wait(created.json()["id"])
    assert info["state"] == "JobComplete"
    assert set(info) == set(captured)
    assert value_types([info]) == value_types([captured])
    assert REST_DATETIME.match(str(info["createdDate"]))
    assert REST_DATETIME.match(captured["createdDate"])


def test_limits_have_the_real_shape_with_nested_per_app_entries(client: EmulatorClient) -> None:
    captured = real("limits", "swiftlysalesforce_MockLimits.json")
    body = client.session.get(f"{client.base}/limits", timeout=10).json()

    def shape(limits: Mapping[str, Any]) -> set[str]:
        kinds = set()
        for entry in limits.values():
            for key, value in entry.items():
                if key in ("Max", "Remaining"):
                    kinds.add(f"count:{type(value).__name__}")
                else:
                    kinds.add(f"nested:{','.join(sorted(value))}:{type(value['Max']).__name__}")
        return kinds

    assert shape(body) == shape(captured)
    watched = ("DailyApiRequests", "DailyBulkV2QueryJobs", "DailyBulkV2QueryFileStorageMB")
    assert all(name in captured and name in body for name in watched)
    nested = {name for name, entry in captured.items() if set(entry) - {"Max", "Remaining"}}
    assert nested & {name for name, entry in body.items() if set(entry) - {"Max", "Remaining"}}


def test_error_bodies_are_lists_of_message_and_error_code(
    sf: FakeSalesforce, client: EmulatorClient
) -> None:
    captured = [
        real("errors", name)
        for name in (
            "INVALID_SESSION_ID_GET_tmkw_sf_model_issue6.json",
            "INVALID_SESSION_ID_401_not_valid_for_REST_mass-action-scheduler_issue186.json",
            "EXCEEDED_ID_LIMIT_restforce_issue726.json",
        )
    ]
    expired = client.session.get(
        f"{client.base}/limits", headers={"Authorization": "Bearer 00Dbogus"}, timeout=10
    )
    refused = client.create_job("SELECT Nope FROM Account")
    for reply in (expired, refused):
        body = reply.json()
        assert [list(entry) for entry in body] in [[list(e) for e in c] for c in captured]
    assert expired.status_code == 401
    assert expired.json() == captured[0], "the same words for an expired session"


def test_results_csv_is_formatted_as_real_results(client: EmulatorClient) -> None:
    captured = REAL_DIR.joinpath("bulk2", "amp-labs_connectors_pr131_results_excerpt.csv")
    real_lines = captured.read_bytes().decode("utf-8").split("\n")
    _, pages = client.run("SELECT Id, Name FROM Account")
    ours = pages[0].raw.decode("utf-8").split("\n")
    assert ours[0] == real_lines[0] == '"Id","Name"'
    for line in [*real_lines[1:], *ours[1:]]:
        assert line == "" or QUOTED_CSV_LINE.match(line), line
    assert "\r" not in pages[0].raw.decode("utf-8")
    assert len(ours[1].split(",")[0]) == len(real_lines[1].split(",")[0]) == 20
