"""Pure rules of logins and real-org calls: which login replies are retried, what a refused login
says, the My Domain rule, the refresh token file, which listed jobs are orphans, which fields fit
a sample's URL."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from tap_salesforce_bulk.salesforce.auth import AuthFlow, Credentials, SalesforceAuthenticator
from tap_salesforce_bulk.salesforce.bulk import JobInfo, JobState
from tap_salesforce_bulk.salesforce.classify import Verdict, classify_login
from tap_salesforce_bulk.salesforce.limits import parse_limit_info
from tap_salesforce_bulk.salesforce.login_faults import (
    oauth_failure_message,
    soap_failure_message,
)
from tap_salesforce_bulk.salesforce.orphans import orphans_of
from tap_salesforce_bulk.salesforce.token_file import read_token_file, write_token_file
from tap_salesforce_bulk.settings import SettingError, TapSettings, resolve_credentials
from tap_salesforce_bulk.soql import fields_that_fit

NOW = dt.datetime(2026, 11, 28, 12, 0, 0, tzinfo=dt.UTC)
SOAP_FAULT = (
    b'<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
    b'envelope/"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>'
    b"<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked "
    b"out.</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


def reply(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


# (status, body, verdict, why)
LOGIN_TABLE: list[tuple[int, Any, Verdict, str]] = [
    (200, {"access_token": "00D!AQ"}, Verdict.OK, "a session"),
    (500, SOAP_FAULT, Verdict.FAIL, "a SOAP login fault comes as HTTP 500: never resent"),
    (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
        Verdict.FAIL,
        "wrong password",
    ),
    (
        400,
        {"error": "invalid_client", "error_description": "invalid client credentials"},
        Verdict.FAIL,
        "bad secret",
    ),
    (400, {"error": "invalid_client_id"}, Verdict.FAIL, "unknown consumer key"),
    (400, {"error": "unsupported_grant_type"}, Verdict.FAIL, "flow not enabled"),
    (503, {"error": "invalid_grant"}, Verdict.FAIL, "a judged login whatever the status"),
    (500, b"<html>Internal Server Error</html>", Verdict.FAIL, "500 is not retried for logins"),
    (408, b"", Verdict.FAIL, "408 is not retried for logins"),
    (429, b"", Verdict.RETRY, "throttled"),
    (502, b"<html>Bad Gateway</html>", Verdict.RETRY, "gateway"),
    (503, b"<html>Maintenance</html>", Verdict.RETRY, "maintenance"),
    (504, b"", Verdict.RETRY, "gateway timeout"),
]


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [row[:3] for row in LOGIN_TABLE],
    ids=[row[3] for row in LOGIN_TABLE],
)
def test_a_login_is_resent_only_when_no_server_judged_it(
    status: int, body: Any, verdict: Verdict
) -> None:
    assert classify_login(reply(status, body)) is verdict


def test_soap_fault_is_one_line_with_its_code_words_and_fix() -> None:
    text = soap_failure_message(
        "sf:LOGIN_MUST_USE_SECURITY_TOKEN",
        "LOGIN_MUST_USE_SECURITY_TOKEN: Invalid username, password, security token; or user\n"
        "locked out. Are you at a new location?",
    )
    assert "\n" not in text
    assert text.startswith(
        "Salesforce refused the soap login (LOGIN_MUST_USE_SECURITY_TOKEN: Invalid username,"
    )
    assert "set security_token" in text
    assert "locked out" in soap_failure_message("sf:INVALID_LOGIN", "INVALID_LOGIN: Invalid")


@pytest.mark.parametrize(
    ("body", "advice"),
    [
        (
            {"error": "invalid_grant", "error_description": "request not supported on this domain"},
            "domain: <your My Domain>",
        ),
        ({"error": "invalid_grant", "error_description": "authentication failure"}, "Summer '23"),
        (
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
            "refresh_token_path",
        ),
    ],
)
def test_oauth_refusals_name_their_fix(body: dict[str, str], advice: str) -> None:
    assert advice in oauth_failure_message("client_credentials", 400, body)


@pytest.mark.parametrize(
    "where",
    [{"domain": "login"}, {"domain": "test"}, {"login_url": "https://login.salesforce.com/"}],
)
def test_client_credentials_on_a_generic_login_host_is_refused_naming_my_domain(
    where: dict[str, str],
) -> None:
    config = {"client_id": "3MVG9x", "client_secret": "s3cret", **where}
    with pytest.raises(SettingError, match=r"domain: <your My Domain>") as refused:
        TapSettings.from_config(config, now=NOW)
    assert str(refused.value).startswith(next(iter(where)))
    assert "s3cret" not in str(refused.value)
    config.pop("login_url", None)
    settings = TapSettings.from_config({**config, "domain": "acme.my"}, now=NOW)
    assert settings.login_url == "https://acme.my.salesforce.com"


def test_refresh_token_comes_from_its_file_and_the_inline_one_only_seeds_a_missing_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "token"
    seeded = resolve_credentials(
        {"client_id": "3MVG9x", "refresh_token": "5AepInline", "refresh_token_path": str(path)}
    )
    assert seeded.flow is AuthFlow.REFRESH_TOKEN
    assert seeded.refresh_token == "5AepInline"
    assert seeded.refresh_token_path == str(path)
    path.write_text("5AepFromFile\n")
    from_file = resolve_credentials(
        {"client_id": "3MVG9x", "refresh_token": "5AepInline", "refresh_token_path": str(path)}
    )
    assert from_file.refresh_token == "5AepFromFile"
    assert "5AepFromFile" not in repr(from_file)
    with pytest.raises(SettingError, match=r"^refresh_token_path: .*does not exist"):
        resolve_credentials(
            {"client_id": "3MVG9x", "refresh_token_path": str(tmp_path / "no" / "token")}
        )
    with pytest.raises(SettingError, match=r"^refresh_token_path: .*cannot read"):
        resolve_credentials({"client_id": "3MVG9x", "refresh_token_path": str(tmp_path / "x")})


def test_token_file_is_replaced_atomically_and_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "token"
    path.write_text("5AepOld\n")
    os.chmod(path, 0o644)
    write_token_file(path, "5AepNew")
    assert read_token_file(path) == "5AepNew"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


def job(job_id: str, seconds: float, *, user: str = "005A", obj: str = "Contact") -> JobInfo:
    created = (NOW + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return JobInfo(job_id, JobState.IN_PROGRESS, created, 0, None, "64.0", obj, user)


def test_orphans_are_untracked_jobs_of_the_same_user_and_object_since_the_first_attempt() -> None:
    created = job("750new", 10)
    listed = [
        created,
        job("750lost", 4),  # the first attempt's job: an orphan
        job("750mine", 9),  # created ahead by the tap: tracked
        job("750other-user", 5, user="005B"),
        job("750other-object", 5, obj="Account"),
        job("750before", -30),  # older than the first attempt
    ]
    orphans = orphans_of(
        created, listed, tracked={"750new", "750mine"}, seconds_since_first_attempt=8
    )
    assert [o.id for o in orphans] == ["750lost"]


def test_sample_keeps_the_required_fields_and_as_many_others_as_fit() -> None:
    fields = ["Id", "Name", "Email", "Phone", "SystemModstamp", "Title"]

    def fits(chosen: list[str]) -> bool:
        return len(chosen) <= 4

    assert fields_that_fit(fields, {"Id", "SystemModstamp"}, fits) == [
        "Id",
        "Name",
        "Email",
        "SystemModstamp",
    ]
    assert fields_that_fit(fields, {"Id"}, lambda chosen: True) == fields


def test_api_usage_header_gives_daily_api_requests() -> None:
    allocation = parse_limit_info("api-usage=250/15000")["DailyApiRequests"]
    assert (allocation.maximum, allocation.remaining) == (15_000, 14_750)
    assert parse_limit_info(None) == {}


def test_a_rotated_token_that_cannot_be_saved_is_kept_for_the_run_and_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    credentials = Credentials(
        AuthFlow.REFRESH_TOKEN,
        client_id="3MVG9x",
        refresh_token="5AepFirst",
        refresh_token_path=str(gone / "token"),
    )
    auth = SalesforceAuthenticator(
        credentials, login_url="https://acme.my.salesforce.com", api_version="64.0"
    )
    gone.rmdir()  # the directory disappears after the configuration was checked
    with caplog.at_level("INFO"):
        auth._adopt_refresh_token("5AepSecond")
    assert auth._token_request_body()["refresh_token"] == "5AepSecond"
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "Could not save the rotated refresh token" in errors[0]
    assert str(gone / "token") in errors[0]
    assert "5Aep" not in caplog.text


def test_inline_token_rotation_warns_once_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    credentials = Credentials(AuthFlow.REFRESH_TOKEN, client_id="3MVG9x", refresh_token="5AepFirst")
    auth = SalesforceAuthenticator(
        credentials, login_url="https://acme.my.salesforce.com", api_version="64.0"
    )
    with caplog.at_level("WARNING"):
        auth._adopt_refresh_token("5AepSecond")
        auth._adopt_refresh_token("5AepThird")
    assert auth._token_request_body()["refresh_token"] == "5AepThird"
    assert len(caplog.records) == 1
    assert "refresh_token_path" in caplog.text
    assert "5Aep" not in caplog.text
