"""The emulator's org options and faults for real-org logins and API calls, over real HTTP:
refresh token rotation, session timeout, blocked flows, the My Domain rule, a user without View
Setup and Configuration, the URI + headers limit, and a job created behind a lost answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from tests.fake_salesforce import FakeSalesforce, faults

SOAP_LOGIN = (
    '<?xml version="1.0" encoding="utf-8"?><env:Envelope '
    'xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:partner.soap.sforce.com">'
    "<env:Body><urn:login><urn:username>{username}</urn:username><urn:password>{password}"
    "</urn:password></urn:login></env:Body></env:Envelope>"
)


def _refresh(sf: FakeSalesforce, token: str) -> requests.Response:
    return requests.post(
        f"{sf.url}/services/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": sf.credentials.client_id,
            "refresh_token": token,
        },
        timeout=5,
    )


def _get(sf: FakeSalesforce, path: str, token: str, **kwargs: Any) -> requests.Response:
    return requests.get(
        f"{sf.url}/services/data/v64.0/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
        **kwargs,
    )


def _password_token(sf: FakeSalesforce) -> str:
    c = sf.credentials
    reply = requests.post(
        f"{sf.url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password + c.security_token,
        },
        timeout=5,
    )
    return str(reply.json()["access_token"])


def test_rotation_issues_a_new_refresh_token_and_reuse_revokes_the_chain(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=10, accounts=1, refresh_token_rotation=True)
    first = _refresh(sf, sf.credentials.refresh_token).json()
    second_token = first["refresh_token"]
    assert second_token != sf.credentials.refresh_token
    assert sf.oauth.current_refresh_token == second_token
    second = _refresh(sf, second_token).json()
    assert _get(sf, "limits", second["access_token"]).status_code == 200
    # The first token was rotated away: presenting it again revokes the whole chain.
    reused = _refresh(sf, sf.credentials.refresh_token)
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    assert _refresh(sf, second["refresh_token"]).status_code == 400
    assert _get(sf, "limits", second["access_token"]).status_code == 401
    assert sf.oauth.current_refresh_token is None
    assert sf.counters["auth_calls"] == {"refresh_token": 4}


def test_without_rotation_the_reply_has_no_refresh_token_and_the_token_stays_valid(
    fake_salesforce: FakeSalesforce,
) -> None:
    for _ in range(2):
        reply = _refresh(fake_salesforce, fake_salesforce.credentials.refresh_token)
        assert reply.status_code == 200
        assert "refresh_token" not in reply.json()


def test_session_timeout_makes_access_tokens_expire_after_issue(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=10, accounts=1, session_timeout_seconds=60)
    token = _password_token(sf)
    assert _get(sf, "limits", token).status_code == 200
    sf.advance_clock(61)
    refused = _get(sf, "limits", token)
    assert refused.status_code == 401
    assert refused.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_blocked_username_password_flow_answers_authentication_failure(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=10, accounts=1, username_password_flow=False)
    c = sf.credentials
    reply = requests.post(
        f"{sf.url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "username": c.username,
            "password": c.password + c.security_token,
        },
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    assert sf.counters["auth_calls"] == {"password": 1}


def test_client_credentials_are_refused_on_the_generic_login_hosts(
    fake_salesforce: FakeSalesforce,
) -> None:
    c = fake_salesforce.credentials
    form = {
        "grant_type": "client_credentials",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
    }
    url = f"{fake_salesforce.url}/services/oauth2/token"
    for host in ("login.salesforce.com", "test.salesforce.com"):
        refused = requests.post(url, data=form, headers={"Host": host}, timeout=5)
        assert refused.status_code == 400
        assert refused.json() == {
            "error": "invalid_grant",
            "error_description": "request not supported on this domain",
        }
    mine = requests.post(url, data=form, headers={"Host": "acme.my.salesforce.com"}, timeout=5)
    assert mine.status_code == 200
    assert fake_salesforce.counters["auth_calls"] == {"client_credentials": 3}


def test_soap_login_without_the_security_token_is_login_must_use_security_token(
    fake_salesforce: FakeSalesforce,
) -> None:
    c = fake_salesforce.credentials
    reply = requests.post(
        f"{fake_salesforce.url}/services/Soap/u/64.0",
        data=SOAP_LOGIN.format(username=c.username, password=c.password),
        headers={"Content-Type": "text/xml", "SOAPAction": "login"},
        timeout=5,
    )
    assert reply.status_code == 500
    assert "<faultcode>sf:LOGIN_MUST_USE_SECURITY_TOKEN</faultcode>" in reply.text
    assert "sf:LoginFault" in reply.text


def test_user_without_view_setup_is_refused_limits_and_record_counts_but_may_query(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=10, accounts=1, view_setup_permission=False)
    token = _password_token(sf)
    for path in ("limits", "limits/recordCount?sObjects=Contact"):
        refused = _get(sf, path, token)
        assert refused.status_code == 403
        assert refused.json()[0]["errorCode"] == "INSUFFICIENT_ACCESS"
        assert "View Setup and Configuration" in refused.json()[0]["message"]
    counted = _get(sf, "query", token, params={"q": "SELECT COUNT() FROM Contact"})
    assert counted.json()["totalSize"] == 10
    assert counted.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_uri_over_16384_bytes_is_414_and_uri_plus_headers_over_it_is_431(
    fake_salesforce: FakeSalesforce,
) -> None:
    token = _password_token(fake_salesforce)
    soql = "SELECT " + ", ".join(["Id"] * 3_000) + " FROM Contact"  # noqa: S608 - 18 kB encoded
    too_long = _get(fake_salesforce, "query", token, params={"q": soql})
    assert too_long.status_code == 414
    fits = "x" * 12_000
    assert _get(fake_salesforce, f"limits?pad={fits}", token).status_code == 200
    crowded = requests.get(
        f"{fake_salesforce.url}/services/data/v64.0/limits?pad={fits}",
        headers={"Authorization": f"Bearer {token}", "X-Padding": "y" * 5_000},
        timeout=5,
    )
    assert crowded.status_code == 431


def test_job_created_behind_a_lost_answer_exists_and_is_listed(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    token = _password_token(sf)
    sf.inject(faults.FailAfterCommit(status=503))
    sf.inject(faults.FailAfterCommit(status=0, nth=2))
    body = {"operation": "query", "query": "SELECT Id FROM Contact"}
    url = f"{sf.url}/services/data/v64.0/jobs/query"
    headers = {"Authorization": f"Bearer {token}"}
    answered = requests.post(url, json=body, headers=headers, timeout=5)
    assert answered.status_code == 503
    try:
        requests.post(url, json=body, headers=headers, timeout=5)
        raise AssertionError("the second create should have lost its answer")
    except requests.ConnectionError:
        pass
    created = requests.post(url, json=body, headers=headers, timeout=5)
    assert created.status_code == 200
    time.sleep(0.2)
    listing = requests.get(url, params={"jobType": "V2Query"}, headers=headers, timeout=5).json()
    assert listing["done"] is True
    assert len(listing["records"]) == 3
    assert {r["object"] for r in listing["records"]} == {"Contact"}
    assert {r["createdById"] for r in listing["records"]} == {sf.org.integration_user_id}
    assert sf.counters["jobs_created"] == 3
    assert sf.counters["faults_fired"] == {"FailAfterCommit": 2}
