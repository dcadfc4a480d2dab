"""The emulator's compiled CSV renderer writes changed rows exactly as their typed values read."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.csv_render import compile_renderer, generic_row
from tests.fake_salesforce.fields import FieldType
from tests.fake_salesforce.soql_check import check

COMPOUND = (FieldType.ADDRESS, FieldType.LOCATION)


@pytest.mark.parametrize(("delimiter", "eol"), [(",", "\n"), ("|", "\r\n")])
def test_changed_deleted_and_inserted_rows_render_as_their_typed_values(
    delimiter: str, eol: str
) -> None:
    sf = FakeSalesforce(contacts=400, accounts=10, seed=5)
    data = sf.org.object("Contact")
    assert data is not None
    fields = [f.name for f in data.fields if f.type not in COMPOUND]
    sf.update_records(
        "Contact",
        count=60,
        fields={"Title": 'a "quoted", multi\nline title', "Email": None, "DoNotCall": True},
    )
    sf.update_records(
        "Contact",
        count=30,
        fields={"Birthdate": "2001-02-03"},
        system_modstamp="2020-01-01T00:00:00Z",
    )
    sf.delete_records("Contact", [r["Id"] for r in list(sf.truth("Contact"))[:7]])
    sf.insert_records("Contact", 9)
    snapshot = data.snapshot(int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    assert len(snapshot.overlay) >= 90
    query = check(f"SELECT {', '.join(fields)} FROM Contact", sf.org, bulk=True)  # noqa: S608
    render = compile_renderer(data, query.fields, delimiter, eol, snapshot.total_rows)
    rows = range(snapshot.total_rows)
    expected = "".join(
        generic_row(data, query.fields, i, snapshot.overlay.get(i), delimiter, eol) for i in rows
    )
    assert render(rows, snapshot.overlay) == expected
