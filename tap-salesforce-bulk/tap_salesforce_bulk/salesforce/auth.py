"""The five login flows, and one re-login when Salesforce says a session is no longer valid.

Tokens are fetched lazily and shared by every thread; a 401 ``INVALID_SESSION_ID`` leads to one
re-login (never a storm: threads that saw the same stale token wait for the one that logs in).
A refused login is never sent again (:func:`classify.classify_login`): each attempt with a wrong
password counts towards the user's lockout. Under Refresh Token Rotation every re-login sends the
newest refresh token, which is also saved to ``refresh_token_path`` for the next run.
Nothing here logs or raises a secret: error messages are built from Salesforce's error code and
description plus our advice.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import jwt
import requests
from typing_extensions import override

from tap_salesforce_bulk.salesforce.classify import Verdict, classify_login
from tap_salesforce_bulk.salesforce.errors import (
    AuthenticationError,
    SalesforceRetriableError,
    TlsVerificationError,
)
from tap_salesforce_bulk.salesforce.login_faults import (
    ROTATED_INLINE_WARNING,
    oauth_failure_message,
    soap_failure_message,
)
from tap_salesforce_bulk.salesforce.retry import parse_retry_after, retrying
from tap_salesforce_bulk.salesforce.token_file import TokenFileError, write_token_file

logger = logging.getLogger(__name__)

LOGIN_TIMEOUT_SECONDS = 60
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts at most 3 minutes between now and exp.
JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SOAP_PARTNER_NS = "urn:partner.soap.sforce.com"
# SOAP login() is retired from API 65.0 on; the soap flow logs in at this version at most.
# https://help.salesforce.com/s/articleView?id=005132110&type=1
SOAP_LOGIN_MAX_API_VERSION = "64.0"
# The client credentials flow needs the org's My Domain: these hosts answer "request not
# supported on this domain". https://help.salesforce.com/s/articleView?id=000886201&type=1
GENERIC_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


class AuthFlow(StrEnum):
    """The five ways to obtain an access token."""

    PASSWORD = "password"  # noqa: S105 - the OAuth grant's name, not a secret
    SOAP = "soap"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - the OAuth grant's name, not a secret
    JWT = "jwt"
    CLIENT_CREDENTIALS = "client_credentials"


@dataclass(frozen=True)
class Credentials:
    """What one login flow sends. Secrets are left out of ``repr`` (tracebacks, debuggers)."""

    flow: AuthFlow
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    client_id: str | None = field(default=None, repr=False)
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_path: str | None = None
    private_key_pem: str | None = field(default=None, repr=False)


def needs_my_domain(flow: AuthFlow, login_url: str) -> bool:
    """Whether ``login_url`` is a generic login host the flow cannot use."""
    host = (urlsplit(login_url).hostname or "").lower()
    return flow is AuthFlow.CLIENT_CREDENTIALS and host in GENERIC_LOGIN_HOSTS


def soap_login_version(api_version: str) -> str:
    """The API version the SOAP ``login()`` call uses: never above the last one that has it."""
    return min(api_version, SOAP_LOGIN_MAX_API_VERSION, key=float)


@dataclass(frozen=True)
class Session:
    """An access token and where to use it."""

    access_token: str
    instance_url: str
    identity_url: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    username: str | None = None

    @override
    def __repr__(self) -> str:  # never print the token, even in a debugger or a traceback
        return f"Session(instance_url={self.instance_url!r}, user_id={self.user_id!r})"


def jwt_audience(login_url: str) -> str:
    """The ``aud`` claim: Salesforce wants the generic login host, test for sandboxes."""
    host = urlsplit(login_url).netloc.lower()
    sandbox = host.startswith("test.") or ".sandbox." in host
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


class SalesforceAuthenticator:
    """Logs in with the configured flow and hands out the current session to every thread."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        login_url: str,
        api_version: str,
        http: requests.Session | None = None,
        verify_tls: bool = True,
    ) -> None:
        self._credentials = credentials
        self.flow = credentials.flow
        self.login_url = login_url
        self.api_version = api_version
        self._http = http or requests.Session()
        self._http.verify = verify_tls
        self._lock = threading.Lock()
        self._session: Session | None = None
        self.login_count = 0
        # The refresh token to send next: Salesforce replaces it under Refresh Token Rotation.
        self._refresh_token = credentials.refresh_token
        self._warned_about_rotation = False

    @property
    def session(self) -> Session:
        """The current session, logging in first if needed."""
        with self._lock:
            if self._session is None:
                self._session = self._login()
            return self._session

    def renew(self, stale: Session) -> Session:
        """Log in again after ``stale`` was refused, unless another thread already did."""
        with self._lock:
            if self._session is None or self._session.access_token == stale.access_token:
                logger.info("Salesforce refused the session; logging in again (%s flow)", self.flow)
                self._session = self._login()
            return self._session

    def _login(self) -> Session:
        self.login_count += 1
        if self.flow is AuthFlow.SOAP:
            return self._soap_login()
        return self._oauth_login(self._token_request_body())

    def _token_request_body(self) -> dict[str, str]:
        c = self._credentials
        if self.flow is AuthFlow.PASSWORD:
            return {
                "grant_type": "password",
                "client_id": str(c.client_id),
                "client_secret": str(c.client_secret),
                "username": str(c.username),
                "password": f"{c.password}{c.security_token or ''}",
            }
        if self.flow is AuthFlow.REFRESH_TOKEN:
            body = {
                "grant_type": "refresh_token",
                "client_id": str(c.client_id),
                "refresh_token": str(self._refresh_token),
            }
            if c.client_secret:
                body["client_secret"] = c.client_secret
            return body
        if self.flow is AuthFlow.CLIENT_CREDENTIALS:
            return {
                "grant_type": "client_credentials",
                "client_id": str(c.client_id),
                "client_secret": str(c.client_secret),
            }
        return {"grant_type": JWT_GRANT_TYPE, "assertion": self._jwt_assertion()}

    def _jwt_assertion(self) -> str:
        claims = {
            "iss": str(self._credentials.client_id),
            "sub": str(self._credentials.username),
            "aud": jwt_audience(self.login_url),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, str(self._credentials.private_key_pem), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            msg = "the private key could not sign a JWT; it must be an RSA private key in PEM"
            raise AuthenticationError(msg) from None

    @retrying()
    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._http.post(url, timeout=LOGIN_TIMEOUT_SECONDS, **kwargs)
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but never transient
            raise TlsVerificationError(urlsplit(url).netloc, exc) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            msg = f"could not reach {urlsplit(url).netloc} to log in ({type(exc).__name__})"
            raise SalesforceRetriableError(msg) from None
        if classify_login(response) is Verdict.RETRY:
            raise SalesforceRetriableError(
                f"login endpoint answered HTTP {response.status_code}",
                retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    def _oauth_login(self, body: dict[str, str]) -> Session:
        response = self._post(f"{self.login_url}/services/oauth2/token", data=body)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict):
            raise AuthenticationError(
                oauth_failure_message(self.flow.value, response.status_code, payload)
            )
        identity_url = payload.get("id")
        user_id = org_id = None
        if isinstance(identity_url, str) and identity_url.count("/") >= 2:
            org_id, user_id = identity_url.rstrip("/").split("/")[-2:]
        logger.info("Logged in to %s (%s flow)", payload.get("instance_url"), self.flow.value)
        rotated = payload.get("refresh_token")
        if self.flow is AuthFlow.REFRESH_TOKEN and isinstance(rotated, str) and rotated:
            self._adopt_refresh_token(rotated)
        return Session(
            access_token=str(payload["access_token"]),
            instance_url=str(payload["instance_url"]).rstrip("/"),
            identity_url=identity_url if isinstance(identity_url, str) else None,
            user_id=user_id,
            organization_id=org_id,
        )

    def _adopt_refresh_token(self, token: str) -> None:
        """Keep the refresh token Salesforce sent back, for this run's next login and the next
        run's first; called under the lock."""
        if token == self._refresh_token:
            return
        self._refresh_token = token
        path = self._credentials.refresh_token_path
        if path is None:
            if not self._warned_about_rotation:
                self._warned_about_rotation = True
                logger.warning(ROTATED_INLINE_WARNING)
            return
        try:
            write_token_file(Path(path), token)
        except TokenFileError as exc:
            logger.error(
                "Could not save the rotated refresh token: %s; this run goes on, but the next "
                "one would send a spent token: make refresh_token_path writable and put a new "
                "refresh token in it (authorize the app again) before the next run",
                exc,
            )
            return
        logger.info("Saved the rotated refresh token to %s", path)

    def _soap_login(self) -> Session:
        c = self._credentials
        version = soap_login_version(self.api_version)
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:urn="{SOAP_PARTNER_NS}"><env:Body><urn:login>'
            f"<urn:username>{escape(str(c.username))}</urn:username>"
            f"<urn:password>{escape(str(c.password) + (c.security_token or ''))}"
            "</urn:password></urn:login></env:Body></env:Envelope>"
        )
        response = self._post(
            f"{self.login_url}/services/Soap/u/{version}",
            data=envelope.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
        )
        try:
            root = ET.fromstring(response.content)  # noqa: S314 - Salesforce's reply, expat guards entities
        except ET.ParseError:
            msg = f"Salesforce's SOAP login answered HTTP {response.status_code} without XML"
            raise AuthenticationError(msg) from None
        fault = root.find(".//faultstring")
        if fault is not None or response.status_code != 200:
            code = root.findtext(".//faultcode") or f"HTTP {response.status_code}"
            text = (fault.text if fault is not None else "") or "login refused"
            raise AuthenticationError(soap_failure_message(code, text))
        ns = {"p": SOAP_PARTNER_NS}
        session_id = root.findtext(".//p:sessionId", namespaces=ns)
        server_url = root.findtext(".//p:serverUrl", namespaces=ns)
        if not session_id or not server_url:
            msg = "Salesforce's SOAP login reply has no sessionId/serverUrl"
            raise AuthenticationError(msg)
        parts = urlsplit(server_url)
        logger.info("Logged in to %s://%s (soap flow, API %s)", parts.scheme, parts.netloc, version)
        return Session(
            access_token=session_id,
            instance_url=f"{parts.scheme}://{parts.netloc}",
            user_id=root.findtext(".//p:userId", namespaces=ns),
            organization_id=root.findtext(".//p:organizationId", namespaces=ns),
            username=root.findtext(".//p:userName", namespaces=ns),
        )
