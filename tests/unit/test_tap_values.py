"""Pure functions of the tap: timestamps, CSV value typing, SOQL text, settings rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tap_salesforce_bulk.records import RecordBuilder, RecordValueError
from tap_salesforce_bulk.salesforce.auth import AuthFlow, soap_login_version
from tap_salesforce_bulk.salesforce.errors import (
    ApiFailure,
    SalesforceApiError,
    refusal_reason,
)
from tap_salesforce_bulk.salesforce.timestamps import format_datetime, normalize_datetime
from tap_salesforce_bulk.schema import FieldSpec, Kind
from tap_salesforce_bulk.settings import (
    SettingError,
    load_private_key,
    resolve_api_version,
    resolve_auth_flow,
    resolve_login_url,
    resolve_start_date,
)
from tap_salesforce_bulk.soql import TimeWindow, UnsafeNameError, build_query

NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05.000Z", "2024-01-02T03:04:05.000Z"),
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000Z"),
        ("2024-01-02T03:04:05.123+0000", "2024-01-02T03:04:05.123Z"),
        ("2024-01-02T05:04:05.5+02:00", "2024-01-02T03:04:05.500Z"),
        ("2024-01-02", "2024-01-02T00:00:00.000Z"),
    ],
)
def test_every_timestamp_spelling_leaves_in_one_format(text: str, expected: str) -> None:
    assert normalize_datetime(text) == expected


def test_canonical_timestamps_compare_as_strings_like_instants() -> None:
    earlier = normalize_datetime("2024-01-02T03:04:05Z")
    later = normalize_datetime("2024-01-02T03:04:05.001Z")
    assert earlier < later


def test_relative_start_date_counts_days_back_from_now() -> None:
    assert resolve_start_date("7d", now=NOW) == format_datetime(NOW - dt.timedelta(days=7))
    assert resolve_start_date("30days", now=NOW) == format_datetime(NOW - dt.timedelta(days=30))
    assert resolve_start_date(None, now=NOW) is None


def test_bad_start_date_names_the_setting() -> None:
    with pytest.raises(SettingError, match=r"^start_date: 'last week'"):
        resolve_start_date("last week", now=NOW)


def field(name: str, kind: Kind) -> FieldSpec:
    return FieldSpec(name, kind.value, kind)


FIELDS = {
    "Id": field("Id", Kind.STRING),
    "Active__c": field("Active__c", Kind.BOOLEAN),
    "Panel_Size__c": field("Panel_Size__c", Kind.INTEGER),
    "Score__c": field("Score__c", Kind.NUMBER),
    "Birthdate": field("Birthdate", Kind.DATE),
    "SystemModstamp": field("SystemModstamp", Kind.DATETIME),
}


def test_csv_values_are_typed_by_schema() -> None:
    builder = RecordBuilder(list(FIELDS), FIELDS)
    record = builder.build(
        ["003A", "false", "23.0", "1234.50", "1980-05-06", "2024-01-02T03:04:05Z"]
    )
    assert record == {
        "Id": "003A",
        "Active__c": False,
        "Panel_Size__c": 23,
        "Score__c": 1234.5,
        "Birthdate": "1980-05-06",
        "SystemModstamp": "2024-01-02T03:04:05.000Z",
    }


def test_empty_csv_fields_are_null() -> None:
    builder = RecordBuilder(list(FIELDS), FIELDS)
    record = builder.build(["003A", "", "", "", "", ""])
    assert record == {"Id": "003A", **dict.fromkeys(list(FIELDS)[1:])}


def test_bad_value_names_its_field() -> None:
    builder = RecordBuilder(list(FIELDS), FIELDS)
    with pytest.raises(RecordValueError, match="field Panel_Size__c"):
        builder.build(["003A", "true", "23.5", "", "", ""])
    with pytest.raises(RecordValueError, match="field Active__c"):
        builder.build(["003A", "yes", "", "", "", ""])


def test_short_rows_are_refused_not_padded() -> None:
    builder = RecordBuilder(list(FIELDS), FIELDS)
    with pytest.raises(RecordValueError, match="3 values but the header has 6"):
        builder.build(["003A", "true", "1"])


def test_soql_uses_described_names_and_formatted_literals_without_order_by() -> None:
    soql = build_query(
        "Contact",
        ["Id", "SystemModstamp"],
        described_fields={"Id", "SystemModstamp"},
        described_objects={"Contact"},
        replication_key="SystemModstamp",
        window=TimeWindow("2024-01-02T03:04:05Z", "2024-02-01T00:00:00+00:00"),
    )
    assert soql == (
        "SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp >= 2024-01-02T03:04:05.000Z"
        " AND SystemModstamp < 2024-02-01T00:00:00.000Z"
    )
    assert "ORDER BY" not in soql


def test_soql_refuses_names_describe_did_not_return() -> None:
    with pytest.raises(UnsafeNameError):
        build_query(
            "Contact", ["Id", "Name; DROP"], described_fields={"Id"}, described_objects={"Contact"}
        )


@pytest.mark.parametrize(
    ("config", "flow"),
    [
        ({"client_id": "c", "username": "u", "private_key": "k"}, AuthFlow.JWT),
        ({"client_id": "c", "refresh_token": "r"}, AuthFlow.REFRESH_TOKEN),
        (
            {"client_id": "c", "client_secret": "s", "username": "u", "password": "p"},
            AuthFlow.PASSWORD,
        ),
        ({"username": "u", "password": "p"}, AuthFlow.SOAP),
        ({"client_id": "c", "client_secret": "s"}, AuthFlow.CLIENT_CREDENTIALS),
    ],
)
def test_auth_flow_is_inferred_from_the_credentials_given(config: dict, flow: AuthFlow) -> None:
    assert resolve_auth_flow(config) is flow


def test_incomplete_credentials_say_what_is_missing() -> None:
    with pytest.raises(SettingError, match="needs client_secret"):
        resolve_auth_flow({"auth_flow": "client_credentials", "client_id": "c"})


def test_login_url_from_domain_or_override() -> None:
    assert resolve_login_url({}) == "https://login.salesforce.com"
    assert resolve_login_url({"domain": "test"}) == "https://test.salesforce.com"
    assert resolve_login_url({"domain": "acme.my"}) == "https://acme.my.salesforce.com"
    assert (
        resolve_login_url({"domain": "acme.my", "login_url": "http://127.0.0.1:9/x"})
        == "http://127.0.0.1:9"
    )


def test_soap_login_never_uses_a_version_that_retired_it() -> None:
    assert soap_login_version("66.0") == "64.0"
    assert soap_login_version("58.0") == "58.0"
    assert resolve_api_version({"api_version": "v62"}) == "62.0"
    with pytest.raises(SettingError, match="api_version"):
        resolve_api_version({"api_version": "40.0"})


def test_non_finite_and_malformed_numbers_are_refused() -> None:
    builder = RecordBuilder(list(FIELDS), FIELDS)
    for bad in ("NaN", "Infinity", "12,5", "1e"):
        with pytest.raises(RecordValueError, match="field Score__c"):
            builder.build(["003A", "", "", bad, "", ""])
    assert builder.build(["003A", "", "-7", "-0.5", "", ""])["Score__c"] == -0.5
    assert builder.build(["003A", "", "-7", "1E+3", "", ""])["Panel_Size__c"] == -7


@pytest.mark.parametrize(
    ("code", "message", "advice"),
    [
        (
            "FUNCTIONALITY_NOT_ENABLED",
            "Selecting compound data not supported in Bulk Query",
            "compound",
        ),
        ("LIMIT_EXCEEDED", "Max bulk v2 query jobs (10000) per 24 hrs has been reached", "10,000"),
        ("INVALID_FIELD", "No such column 'Foo__c' on entity 'Contact'", "field-level security"),
        (
            "API_DISABLED_FOR_ORG",
            "API is not enabled for this Organization or Partner",
            "API Enabled",
        ),
        (
            "INVALIDENTITY",
            "Entity 'ContactFeed' is not supported by the Bulk API.",
            "not supported",
        ),
        ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", "daily API request"),
    ],
)
def test_known_salesforce_failures_get_plain_advice(code: str, message: str, advice: str) -> None:
    text = ApiFailure(400, code, message, "/services/data/v64.0/jobs/query").describe()
    assert text.startswith(f"HTTP 400 {code} on /services/data/v64.0/jobs/query: {message}")
    assert advice in text


def test_unsupported_object_refusals_are_recognised() -> None:
    refused = SalesforceApiError(
        ApiFailure(
            400,
            "INVALIDENTITY",
            "Entity 'ContactFeed' is not supported by the Bulk API.",
            "/services/data/v64.0/jobs/query",
        )
    )
    other = SalesforceApiError(
        ApiFailure(400, "INVALID_FIELD", "No such column", "/services/data/v64.0/jobs/query")
    )
    assert refusal_reason(refused)
    assert refusal_reason(other) is None


def test_a_jwt_key_that_cannot_sign_is_refused_naming_the_setting(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    not_a_key = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
    with pytest.raises(SettingError, match=r"^private_key: the key cannot sign a JWT"):
        load_private_key({"private_key": not_a_key})
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key_file = tmp_path / "server.key"
    key_file.write_text(ec_pem)
    with pytest.raises(SettingError, match=r"^private_key_path: .*RSA private key"):
        load_private_key({"private_key_path": str(key_file)})
