"""The emulator's OAuth 2.0 grants, identity URL and SOAP login, over real HTTP."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_salesforce import FakeSalesforce

SOAP_LOGIN = """<?xml version="1.0" encoding="utf-8"?>
<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:urn="urn:partner.soap.sforce.com"><env:Body><urn:login><urn:username>{username}</urn:username>
  <urn:password>{password}</urn:password></urn:login></env:Body></env:Envelope>"""


def _token(sf: FakeSalesforce, **form: str) -> requests.Response:
    return requests.post(f"{sf.url}/services/oauth2/token", data=form, timeout=5)


def _password_form(sf: FakeSalesforce, **overrides: str) -> dict[str, str]:
    c = sf.credentials
    form = {
        "grant_type": "password",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "username": c.username,
        "password": c.password + c.security_token,
    }
    return {**form, **overrides}


def _assertion(sf: FakeSalesforce, **claims: object) -> str:
    c = sf.credentials
    payload: dict[str, object] = {
        "iss": c.client_id,
        "sub": c.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    payload.update(claims)
    return jwt.encode(payload, c.private_key_pem, algorithm="RS256")


def test_password_grant_returns_salesforce_token_fields(fake_salesforce: FakeSalesforce) -> None:
    reply = _token(fake_salesforce, **_password_form(fake_salesforce))
    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == fake_salesforce.url
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith("00D")
    assert "!AQ" in body["access_token"]
    assert body["issued_at"].isdigit()
    assert len(body["issued_at"]) == 13
    assert (
        body["id"]
        == f"{fake_salesforce.url}/id/{fake_salesforce.org.org_id}/{fake_salesforce.org.integration_user_id}"
    )
    identity = requests.get(
        body["id"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=5
    )
    assert identity.status_code == 200
    assert identity.json()["username"] == fake_salesforce.credentials.username
    assert {"user_id", "organization_id", "display_name"} <= set(identity.json())
    assert fake_salesforce.counters["auth_calls"] == {"password": 1}


@pytest.mark.parametrize(
    ("override", "error", "description"),
    [
        ({"password": "wrong"}, "invalid_grant", "authentication failure"),
        ({"username": "nobody@example.com"}, "invalid_grant", "authentication failure"),
        ({"client_id": "3MVGunknown"}, "invalid_client_id", "client identifier invalid"),
        ({"client_secret": "nope"}, "invalid_client", "invalid client credentials"),
        (
            {"grant_type": "authorization_codez"},
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ],
)
def test_password_grant_errors(
    fake_salesforce: FakeSalesforce, override: dict[str, str], error: str, description: str
) -> None:
    reply = _token(fake_salesforce, **_password_form(fake_salesforce, **override))
    assert reply.status_code == 400
    assert reply.json() == {"error": error, "error_description": description}


def test_refresh_grant_has_no_refresh_token_in_the_reply(fake_salesforce: FakeSalesforce) -> None:
    c = fake_salesforce.credentials
    ok = _token(
        fake_salesforce,
        grant_type="refresh_token",
        client_id=c.client_id,
        client_secret=c.client_secret,
        refresh_token=c.refresh_token,
    )
    assert ok.status_code == 200
    assert "refresh_token" not in ok.json()
    assert {"access_token", "scope", "signature"} <= set(ok.json())
    bad = _token(
        fake_salesforce, grant_type="refresh_token", client_id=c.client_id, refresh_token="stale"
    )
    assert bad.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }


def test_client_credentials_grant(fake_salesforce: FakeSalesforce) -> None:
    c = fake_salesforce.credentials
    ok = _token(
        fake_salesforce,
        grant_type="client_credentials",
        client_id=c.client_id,
        client_secret=c.client_secret,
    )
    assert ok.status_code == 200
    assert ok.json()["scope"] == "api"
    basic = base64.b64encode(f"{c.client_id}:{c.client_secret}".encode()).decode()
    via_header = requests.post(
        f"{fake_salesforce.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=5,
    )
    assert via_header.status_code == 200
    bad = _token(
        fake_salesforce, grant_type="client_credentials", client_id=c.client_id, client_secret="x"
    )
    assert bad.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }


def test_jwt_bearer_grant(fake_salesforce: FakeSalesforce) -> None:
    ok = _token(
        fake_salesforce,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(fake_salesforce),
    )
    assert ok.status_code == 200
    assert set(ok.json()) == {"access_token", "scope", "instance_url", "id", "token_type"}
    with_emulator_audience = _assertion(fake_salesforce, aud=fake_salesforce.url)
    assert (
        _token(
            fake_salesforce,
            grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
            assertion=with_emulator_audience,
        ).status_code
        == 200
    )
    assert fake_salesforce.counters["auth_calls"] == {"jwt_bearer": 2}


def _other_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"aud": "https://evil.example.com"}, "invalid_grant", "audience is invalid"),
        ({"exp": 1_000_000_000}, "invalid_grant", "expired authorization code"),
        ({"iss": "3MVGunknown"}, "invalid_client_id", "client identifier invalid"),
        (
            {"sub": "someone.else@example.com"},
            "invalid_grant",
            "user hasn't approved this consumer",
        ),
    ],
)
def test_jwt_bearer_errors(
    fake_salesforce: FakeSalesforce, claims: dict[str, object], error: str, description: str
) -> None:
    reply = _token(
        fake_salesforce,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(fake_salesforce, **claims),
    )
    assert reply.status_code == 400
    assert reply.json() == {"error": error, "error_description": description}


def test_jwt_signed_by_another_key_is_an_invalid_assertion(fake_salesforce: FakeSalesforce) -> None:
    c = fake_salesforce.credentials
    forged = jwt.encode(
        {
            "iss": c.client_id,
            "sub": c.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 60,
        },
        _other_key_pem(),
        algorithm="RS256",
    )
    reply = _token(
        fake_salesforce, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=forged
    )
    assert reply.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_missing_and_expired_tokens_get_401_invalid_session_id(
    fake_salesforce: FakeSalesforce,
) -> None:
    url = f"{fake_salesforce.url}/services/data/v62.0/limits"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    token = _token(fake_salesforce, **_password_form(fake_salesforce)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    fake_salesforce.expire_tokens()
    expired = requests.get(url, headers=headers, timeout=5)
    assert expired.status_code == 401
    assert expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def _soap(sf: FakeSalesforce, version: str, password: str | None = None) -> requests.Response:
    c = sf.credentials
    body = SOAP_LOGIN.format(
        username=c.username, password=password or c.password + c.security_token
    )
    return requests.post(
        f"{sf.url}/services/Soap/u/{version}",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        timeout=5,
    )


def test_soap_login_at_64_returns_a_session_usable_on_rest(fake_salesforce: FakeSalesforce) -> None:
    reply = _soap(fake_salesforce, "64.0")
    assert reply.status_code == 200
    text = reply.text
    session = text.split("<sessionId>")[1].split("</sessionId>")[0]
    assert f"<serverUrl>{fake_salesforce.url}/services/Soap/u/64.0/" in text
    assert f"<organizationId>{fake_salesforce.org.org_id}</organizationId>" in text
    assert f"<userName>{fake_salesforce.credentials.username}</userName>" in text
    rest = requests.get(
        f"{fake_salesforce.url}/services/data/v64.0/limits",
        headers={"Authorization": f"Bearer {session}"},
        timeout=5,
    )
    assert rest.status_code == 200


def test_soap_login_bad_password_is_invalid_login(fake_salesforce: FakeSalesforce) -> None:
    reply = _soap(fake_salesforce, "58.0", password="wrong")
    assert reply.status_code == 500
    assert "<faultcode>sf:INVALID_LOGIN</faultcode>" in reply.text
    assert "Invalid username, password, security token; or user locked out." in reply.text


@pytest.mark.parametrize("version", ["65.0", "67.0"])
def test_soap_login_is_refused_from_api_65(fake_salesforce: FakeSalesforce, version: str) -> None:
    reply = _soap(fake_salesforce, version)
    assert reply.status_code == 500
    assert "<faultcode>sf:INVALID_OPERATION</faultcode>" in reply.text
    assert "login()" in reply.text
    assert "sessionId" not in reply.text


def test_token_reply_is_json(fake_salesforce: FakeSalesforce) -> None:
    reply = _token(fake_salesforce, **_password_form(fake_salesforce))
    assert reply.headers["Content-Type"].startswith("application/json")
    json.loads(reply.text)
