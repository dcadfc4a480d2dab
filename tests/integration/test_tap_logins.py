"""Logins as a real org answers them: refresh token rotation across re-logins and runs, one
attempt per refused login (never a lockout), and the fault's words with its fix in one line."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fake_salesforce import FakeSalesforce, faults
from tests.integration.tap_runner import TapRun, run_tap, tap_config

# Sessions shorter than a run: every run logs in again in the middle of its jobs.
SHORT_SESSION_SECONDS = 1.0
SLOW_JOB_SECONDS = 0.8
ROTATING: dict[str, Any] = {
    "contacts": 1_500,
    "accounts": 150,
    "refresh_token_rotation": True,
    "session_timeout_seconds": SHORT_SESSION_SECONDS,
    "job_processing_seconds": SLOW_JOB_SECONDS,
}
TWO_OBJECTS = {"objects": ["Contact", "Account"], "page_size": 500, "max_parallel_downloads": 1}


def error_lines(run: TapRun) -> list[str]:
    """The lines a user reads when the run fails (the SDK's and ours)."""
    return [line for line in run.stderr.splitlines() if "Salesforce refused" in line]


def live(sf: FakeSalesforce, name: str) -> int:
    return sum(1 for _ in sf.truth(name))


def every_refresh_token(sf: FakeSalesforce) -> list[str]:
    return [sf.credentials.refresh_token, *sf.oauth.issued_refresh_tokens]


def test_rotated_refresh_token_is_used_within_the_run_and_saved_for_the_next_one(
    make_fake_salesforce: Callable[..., FakeSalesforce], tmp_path: Path
) -> None:
    sf = make_fake_salesforce(**ROTATING)
    token_file = tmp_path / "secrets" / "salesforce-refresh-token"
    token_file.parent.mkdir()
    token_file.write_text(sf.credentials.refresh_token + "\n")
    config = tap_config(sf, "refresh_token", refresh_token_path=str(token_file), **TWO_OBJECTS)
    del config["refresh_token"]
    first = run_tap(config)
    logins = sf.counters["auth_calls"]["refresh_token"]
    assert logins >= 2, "the session must have timed out during the run"
    assert len(first.records("Contact")) == live(sf, "Contact")
    assert len(first.records("Account")) == live(sf, "Account")
    assert token_file.read_text().strip() == sf.oauth.current_refresh_token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in token_file.parent.iterdir()) == [token_file.name]
    second = run_tap(config)
    assert len(second.records("Contact")) == live(sf, "Contact")
    assert sf.oauth.revoked_chains == 0
    assert token_file.read_text().strip() == sf.oauth.current_refresh_token
    for run in (first, second):
        for token in every_refresh_token(sf):
            assert token not in run.stderr
            assert token not in run.stdout
    assert "Saved the rotated refresh token" in first.stderr


def test_inline_refresh_token_under_rotation_warns_once_and_the_next_run_fails_clearly(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(**ROTATING)
    config = tap_config(sf, "refresh_token", **TWO_OBJECTS)
    first = run_tap(config)
    assert sf.counters["auth_calls"]["refresh_token"] >= 2
    assert len(first.records("Contact")) == live(sf, "Contact")
    warnings = [line for line in first.stderr.splitlines() if "rotated the refresh token" in line]
    assert len(warnings) == 1, first.stderr[-3000:]
    assert "refresh_token_path" in warnings[0]
    assert "next run will fail" in warnings[0]
    assert "jwt" in warnings[0]
    second = run_tap(config, check=False)
    assert second.returncode == 1
    lines = error_lines(second)
    assert len(lines) == 1
    assert "expired access/refresh token" in lines[0]
    assert "Refresh Token Rotation" in lines[0]
    for run in (first, second):
        for token in every_refresh_token(sf):
            assert token not in run.stderr


# (flow, config overrides, emulator options, grant counted, words of the fault, words of the fix)
REFUSED_LOGINS: list[tuple[str, dict[str, Any], dict[str, Any], str, str, str]] = [
    (
        "password",
        {"password": "Wrong-Pa55word"},
        {},
        "password",
        "authentication failure",
        "locked out",
    ),
    ("soap", {"password": "Wrong-Pa55word"}, {}, "soap_login", "INVALID_LOGIN", "locked out"),
    (
        "soap",
        {"security_token": ""},
        {},
        "soap_login",
        "LOGIN_MUST_USE_SECURITY_TOKEN",
        "security_token",
    ),
    (
        "client_credentials",
        {"client_secret": "Wrong-Secret"},
        {},
        "client_credentials",
        "invalid client credentials",
        "client_secret",
    ),
    (
        "refresh_token",
        {"refresh_token": "5Aep861Revoked"},
        {},
        "refresh_token",
        "expired access/refresh token",
        "refresh token",
    ),
    (
        "password",
        {},
        {"username_password_flow": False},
        "password",
        "authentication failure",
        "Summer '23",
    ),
]


@pytest.mark.parametrize(
    ("flow", "overrides", "org", "grant", "fault", "fix"),
    REFUSED_LOGINS,
    ids=["password", "soap", "soap-no-token", "client-secret", "revoked-token", "blocked-flow"],
)
def test_refused_login_is_tried_once_and_explained_in_one_line(
    make_fake_salesforce: Callable[..., FakeSalesforce],
    flow: str,
    overrides: dict[str, Any],
    org: dict[str, Any],
    grant: str,
    fault: str,
    fix: str,
) -> None:
    sf = make_fake_salesforce(contacts=100, accounts=10, **org)
    run = run_tap(tap_config(sf, flow, **overrides), check=False)
    assert run.returncode == 1
    assert sf.counters["auth_calls"] == {grant: 1}, "a refused login is never retried"
    assert "Retrying" not in run.stderr
    lines = error_lines(run)
    assert len(lines) == 1, run.stderr[-3000:]
    assert fault in lines[0]
    assert fix in lines[0]
    for name in ("password", "client_secret", "refresh_token", "security_token"):
        value = overrides.get(name) or tap_config(sf, flow).get(name)
        if value:
            assert value not in run.stderr


def test_login_answered_503_is_retried(fake_salesforce: FakeSalesforce) -> None:
    sf = fake_salesforce
    sf.inject(faults.HttpError(on="soap", status=503))
    run = run_tap(tap_config(sf, "soap"))
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))
    assert sf.counters["faults_fired"] == {"HttpError": 1}
    requests_by_kind = sf.counters["requests_by_kind"]
    assert isinstance(requests_by_kind, dict)
    assert requests_by_kind["soap"] == 2  # the 503, then the login that got through
    assert sf.counters["auth_calls"] == {"soap_login": 1}


def test_refresh_token_path_that_cannot_be_written_is_refused_before_logging_in(
    fake_salesforce: FakeSalesforce, tmp_path: Path
) -> None:
    config = tap_config(
        fake_salesforce, "refresh_token", refresh_token_path=str(tmp_path / "missing" / "token")
    )
    run = run_tap(config, check=False)
    assert run.returncode == 1
    assert "refresh_token_path" in run.stderr
    assert fake_salesforce.counters["auth_calls"] == {}
