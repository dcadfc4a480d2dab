"""Every odd type a real describe carries, through tap | target into PostgreSQL.

``Type_Zoo__c`` (the emulator's opt-in test object) has a time, anyType, encryptedstring,
datacategorygroupreference, json and complexvalue field and a location compound. What lands in
PostgreSQL for each is the table in tap-salesforce-bulk/README.md ("Types").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.integration.conftest import Db, TargetRun
from tests.integration.tap_runner import run_tap, tap_config

ZOO = "Type_Zoo__c"


@pytest.fixture
def sf(make_fake_salesforce: Callable[..., FakeSalesforce]) -> FakeSalesforce:
    """An org with 60 Type_Zoo__c rows."""
    return make_fake_salesforce(contacts=10, accounts=2, type_zoo=60)


def test_each_salesforce_type_lands_in_postgresql_as_the_readme_says(
    sf: FakeSalesforce, run: Callable[..., TargetRun], db: Db
) -> None:
    tap = run_tap(tap_config(sf, objects=[ZOO]), check=False)
    assert tap.returncode == 0, tap.stderr[-3000:]
    assert "Tax_Id__c is encrypted text" in tap.stderr
    assert "Payload__c (json field" in tap.stderr
    assert "Metadata__c (complexvalue field" in tap.stderr
    loaded = run(tap.stdout)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    columns = db.columns("type_zoo__c")
    assert {name: columns[name] for name in COLUMN_TYPES} == COLUMN_TYPES
    assert not {"payload__c", "metadata__c", "site__c"} & set(columns)
    rows = {row["salesforce_id"]: row for row in db.rows("type_zoo__c")}
    truth = {row["Id"]: row for row in sf.truth(ZOO)}
    assert set(rows) == set(truth)
    for record_id, row in rows.items():
        expected = truth[record_id]
        for field, column in FIELDS.items():
            assert row[column] == parse(field, expected[field]), f"{record_id}.{field}"


COLUMN_TYPES = {
    "opens_at__c": "time without time zone",
    "any_value__c": "text",
    "tax_id__c": "text",
    "category_group__c": "text",
    "site__latitude__s": "numeric",
    "site__longitude__s": "numeric",
    "visits__c": "bigint",
}
FIELDS = {
    "Opens_At__c": "opens_at__c",
    "Any_Value__c": "any_value__c",
    "Tax_Id__c": "tax_id__c",
    "Category_Group__c": "category_group__c",
    "Site__Latitude__s": "site__latitude__s",
    "Visits__c": "visits__c",
}


def parse(field: str, text: str | None) -> Any:
    """The emulator's CSV text as PostgreSQL gives the column back."""
    if text is None:
        return None
    if field == "Opens_At__c":
        return dt.time.fromisoformat(text.removesuffix("Z"))
    if field == "Site__Latitude__s":
        return Decimal(text)
    if field == "Visits__c":
        return int(text)
    return text
