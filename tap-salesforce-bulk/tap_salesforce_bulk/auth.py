"""The five login flows, and one re-login when Salesforce says a session is no longer valid.

Tokens are fetched lazily and shared by every thread; a 401 ``INVALID_SESSION_ID`` leads to one
re-login (never a storm: threads that saw the same stale token wait for the one that logs in).
Nothing here logs or raises a secret: error messages are built from Salesforce's error code and
description plus our advice.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import jwt
import requests

from tap_salesforce_bulk.config import (
    AuthFlow,
    resolve_api_version,
    resolve_auth_flow,
    resolve_login_url,
    soap_login_version,
)
from tap_salesforce_bulk.errors import (
    AuthenticationError,
    SalesforceRetriableError,
    SettingError,
    TlsVerificationError,
)
from tap_salesforce_bulk.retry import is_retriable_status, parse_retry_after, retrying

logger = logging.getLogger(__name__)

LOGIN_TIMEOUT_SECONDS = 60
JWT_LIFETIME_SECONDS = 180  # Salesforce accepts at most 3 minutes between now and exp.
JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SOAP_PARTNER_NS = "urn:partner.soap.sforce.com"

# Advice for the OAuth errors users actually hit; keys are (error, phrase in description).
# https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm
OAUTH_ERROR_HINTS: tuple[tuple[str, str, str], ...] = (
    (
        "invalid_grant",
        "authentication failure",
        "check username, password and security_token (Salesforce expects the token appended to "
        "the password), that the user is not locked out, and the org's login IP ranges",
    ),
    (
        "invalid_grant",
        "approved",
        "pre-authorize the user: set the connected app's Permitted Users to 'Admin approved users "
        "are pre-authorized' and grant its profile or permission set access",
    ),
    (
        "invalid_grant",
        "expired",
        "the refresh token was revoked or expired; create a new one, or switch to the jwt flow",
    ),
    (
        "invalid_grant",
        "audience",
        "the JWT audience must be https://login.salesforce.com (production) or "
        "https://test.salesforce.com (sandbox); set domain accordingly",
    ),
    (
        "invalid_client_id",
        "",
        "client_id (the consumer key) is wrong, or the connected app is new: Salesforce takes up "
        "to 10 minutes to make one usable",
    ),
    ("invalid_client", "", "client_secret (the consumer secret) does not match client_id"),
    (
        "unsupported_grant_type",
        "",
        "this flow is not enabled for the connected app or org (the username-password flow is "
        "blocked in new orgs and retired on 2027-02-20); use jwt or client_credentials",
    ),
    (
        "invalid_app_access",
        "",
        "the user is not assigned to the connected app; add the user's profile or permission set",
    ),
    (
        "inactive_user",
        "",
        "the user is inactive; activate it or use another user",
    ),
)


@dataclass(frozen=True)
class Session:
    """An access token and where to use it."""

    access_token: str
    instance_url: str
    identity_url: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    username: str | None = None

    def __repr__(self) -> str:  # never print the token, even in a debugger or a traceback
        return f"Session(instance_url={self.instance_url!r}, user_id={self.user_id!r})"


def oauth_failure_message(flow: AuthFlow, status: int, body: Any) -> str:
    """A one-line explanation of a failed token request, without echoing any credential."""
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    hint = next(
        (
            advice
            for code, phrase, advice in OAUTH_ERROR_HINTS
            if code == error and phrase in description.lower()
        ),
        None,
    )
    said = f"{error}: {description}" if error else f"HTTP {status}"
    text = f"Salesforce refused the {flow.value} login ({said})"
    return f"{text}; {hint}" if hint else text


def load_private_key(config: Mapping[str, Any]) -> str:
    """The PEM text of the JWT signing key, from ``private_key`` or ``private_key_path``."""
    text = config.get("private_key")
    if not text and config.get("private_key_path"):
        try:
            text = Path(str(config["private_key_path"])).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"private_key_path: cannot read the key file ({exc.strerror})"
            raise SettingError(msg) from None
    pem = str(text or "").replace("\\n", "\n").strip()  # env vars often carry literal \n
    if "-----BEGIN" not in pem or "PRIVATE KEY-----" not in pem:
        msg = "private_key: not a PEM private key; paste the whole -----BEGIN ... PRIVATE KEY----- block"
        raise SettingError(msg)
    return pem + "\n"


def jwt_audience(login_url: str) -> str:
    """The ``aud`` claim: Salesforce wants the generic login host, test for sandboxes."""
    host = urlsplit(login_url).netloc.lower()
    sandbox = host.startswith("test.") or ".sandbox." in host
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


class SalesforceAuthenticator:
    """Logs in with the configured flow and hands out the current session to every thread."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        http: requests.Session | None = None,
        verify_tls: bool = True,
    ) -> None:
        self._config = config
        self.flow = resolve_auth_flow(config)
        self.login_url = resolve_login_url(config)
        self.api_version = resolve_api_version(config)
        self._http = http or requests.Session()
        self._http.verify = verify_tls
        self._lock = threading.Lock()
        self._session: Session | None = None
        self.login_count = 0
        if self.flow is AuthFlow.JWT:
            self._private_key = load_private_key(config)

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
        c = self._config
        if self.flow is AuthFlow.PASSWORD:
            return {
                "grant_type": "password",
                "client_id": str(c["client_id"]),
                "client_secret": str(c["client_secret"]),
                "username": str(c["username"]),
                "password": f"{c['password']}{c.get('security_token') or ''}",
            }
        if self.flow is AuthFlow.REFRESH_TOKEN:
            body = {
                "grant_type": "refresh_token",
                "client_id": str(c["client_id"]),
                "refresh_token": str(c["refresh_token"]),
            }
            if c.get("client_secret"):
                body["client_secret"] = str(c["client_secret"])
            return body
        if self.flow is AuthFlow.CLIENT_CREDENTIALS:
            return {
                "grant_type": "client_credentials",
                "client_id": str(c["client_id"]),
                "client_secret": str(c["client_secret"]),
            }
        return {"grant_type": JWT_GRANT_TYPE, "assertion": self._jwt_assertion()}

    def _jwt_assertion(self) -> str:
        claims = {
            "iss": str(self._config["client_id"]),
            "sub": str(self._config["username"]),
            "aud": jwt_audience(self.login_url),
            "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
        }
        try:
            return jwt.encode(claims, self._private_key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            msg = "private_key: the key could not sign a JWT; it must be an RSA private key in PEM"
            raise SettingError(msg) from None

    @retrying()
    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            response = self._http.post(url, timeout=LOGIN_TIMEOUT_SECONDS, **kwargs)
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but never transient
            raise TlsVerificationError(urlsplit(url).netloc, exc) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            msg = f"could not reach {urlsplit(url).netloc} to log in ({type(exc).__name__})"
            raise SalesforceRetriableError(msg) from None
        if is_retriable_status(response.status_code):
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
                oauth_failure_message(self.flow, response.status_code, payload)
            )
        identity_url = payload.get("id")
        user_id = org_id = None
        if isinstance(identity_url, str) and identity_url.count("/") >= 2:
            org_id, user_id = identity_url.rstrip("/").split("/")[-2:]
        logger.info("Logged in to %s (%s flow)", payload.get("instance_url"), self.flow.value)
        return Session(
            access_token=str(payload["access_token"]),
            instance_url=str(payload["instance_url"]).rstrip("/"),
            identity_url=identity_url if isinstance(identity_url, str) else None,
            user_id=user_id,
            organization_id=org_id,
        )

    def _soap_login(self) -> Session:
        c = self._config
        version = soap_login_version(self.api_version)
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
            f'xmlns:urn="{SOAP_PARTNER_NS}"><env:Body><urn:login>'
            f"<urn:username>{escape(str(c['username']))}</urn:username>"
            f"<urn:password>{escape(str(c['password']) + str(c.get('security_token') or ''))}"
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
            hint = (
                "check username, password and security_token"
                if "INVALID_LOGIN" in code
                else "use the jwt or client_credentials flow"
            )
            msg = f"Salesforce refused the soap login ({code}: {text}); {hint}"
            raise AuthenticationError(msg)
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
