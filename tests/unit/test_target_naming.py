"""Stream and property names -> PostgreSQL identifiers (target_postgres_upsert.types)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from target_postgres_upsert.types import (
    MAX_IDENTIFIER_BYTES,
    ColumnNaming,
    column_names,
    fit_identifier,
    snake_case,
    table_name,
)

SNAKE = ColumnNaming.SNAKE_CASE


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Contact", "contact"),
        ("FirstName", "first_name"),
        ("NPI__c", "npi__c"),
        ("MailingPostalCode", "mailing_postal_code"),
        ("LastCURequestDate", "last_cu_request_date"),
        ("Id", "id"),
        ("already_snake", "already_snake"),
        ("_sdc_deleted_at", "_sdc_deleted_at"),
        ("Address2Line", "address2_line"),
        ("HTTPServer", "http_server"),
        ("ABC", "abc"),
        ("ÄrgerZahl", "ärger_zahl"),
        ("Account.Name", "account.name"),
    ],
)
def test_snake_case_splits_words_and_acronyms(name: str, expected: str) -> None:
    assert snake_case(name) == expected


def test_long_names_are_shortened_with_a_hash_of_the_original() -> None:
    a = "x" * 70 + "Alpha"
    b = "x" * 70 + "Beta"
    short_a, short_b = fit_identifier(a, a), fit_identifier(b, b)
    assert short_a != short_b
    assert len(short_a.encode()) == MAX_IDENTIFIER_BYTES
    assert short_a.startswith("x" * 54)
    assert fit_identifier(a, a) == short_a  # deterministic


def test_shortening_never_splits_a_multibyte_character() -> None:
    name = "é" * 40  # 80 bytes
    short = fit_identifier(name, name)
    assert len(short.encode()) <= MAX_IDENTIFIER_BYTES
    short.encode("utf-8").decode("utf-8")


def test_nul_and_empty_names_become_usable_identifiers() -> None:
    assert fit_identifier("a\x00b", "a\x00b") == "ab"
    assert fit_identifier("", "") != ""


def test_two_properties_on_one_column_both_keep_a_column() -> None:
    names = column_names(["FirstName", "first_name"], SNAKE, {})
    assert names["first_name"] == "first_name"  # the exact name wins
    assert names["FirstName"].startswith("first_name_")
    assert column_names(["first_name", "FirstName"], SNAKE, {}) == names  # order does not matter


def test_key_column_map_wins_and_reserved_names_are_avoided() -> None:
    names = column_names(
        ["Id", "salesforce_id", "_SdcDeletedAt"],
        SNAKE,
        {"Id": "salesforce_id"},
        ["_sdc_deleted_at"],
    )
    assert names["Id"] == "salesforce_id"
    assert names["salesforce_id"] != "salesforce_id"
    assert names["_SdcDeletedAt"] not in {"_sdc_deleted_at", "salesforce_id"}


def test_preserve_keeps_names_as_sent() -> None:
    assert column_names(["FirstName", "firstname"], ColumnNaming.PRESERVE, {}) == {
        "FirstName": "FirstName",
        "firstname": "firstname",
    }
    assert table_name("Contact", ColumnNaming.PRESERVE) == "Contact"
    assert table_name("Contact", SNAKE) == "contact"


@given(st.lists(st.text(min_size=0, max_size=120), max_size=25, unique=True))
def test_column_names_are_distinct_short_and_deterministic(properties: list[str]) -> None:
    reserved = ["_sdc_deleted_at", "_sdc_table_version"]
    names = column_names(properties, SNAKE, {}, reserved)
    assert set(names) == set(properties)
    columns = list(names.values())
    assert len(set(columns)) == len(columns)
    assert not set(columns) & set(reserved)
    assert all(0 < len(c.encode()) <= MAX_IDENTIFIER_BYTES and "\x00" not in c for c in columns)
    assert column_names(list(reversed(properties)), SNAKE, {}, reserved) == names
