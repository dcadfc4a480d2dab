"""Describe's labels and help texts travel in the stream schema as ``title`` / ``description``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tap_salesforce_bulk.schema import build_object_spec

REAL_SALESFORCE = Path(os.environ.get("REAL_SALESFORCE_DIR", "/work/shared/real-salesforce"))


def real_describe(name: str) -> dict[str, Any]:
    """A describe captured from a real org (see PROVENANCE.md there), or a skip saying why."""
    path = REAL_SALESFORCE / "describe" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: set REAL_SALESFORCE_DIR to the real-salesforce payloads")
    payload: dict[str, Any] = json.loads(path.read_text())
    return payload


def test_real_describe_labels_become_titles_and_help_texts_descriptions() -> None:
    describe = real_describe("cumulusci_Account_PersonAccount_describe.json")
    spec = build_object_spec(describe)
    schema = spec.schema
    assert schema["title"] == "Account"
    described = {f["name"]: f for f in describe["fields"]}
    helped = [n for n in spec.fields if described[n].get("inlineHelpText")]
    assert len(helped) > 100
    for name, prop in schema["properties"].items():
        assert prop["title"] == described[name]["label"]
        assert prop.get("description") == (described[name].get("inlineHelpText") or None)


def test_blank_or_missing_label_and_help_text_leave_no_keyword() -> None:
    describe = {
        "name": "Thing__c",
        "fields": [
            {"name": "Id", "type": "id"},
            {"name": "Code__c", "type": "string", "label": " ", "inlineHelpText": ""},
        ],
    }
    schema = build_object_spec(describe).schema
    assert "title" not in schema
    assert schema["properties"]["Code__c"] == {"type": ["string", "null"]}
