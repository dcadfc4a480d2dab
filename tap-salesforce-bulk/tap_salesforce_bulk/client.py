"""HTTP to Salesforce: per-request auth headers, one re-login on 401, retries, error judgement.

All judgement of HTTP statuses and Salesforce ``errorCode`` values lives in :func:`classify`;
callers only see a good response, a :class:`SalesforceRetriableError` (already retried), or a
:class:`SalesforceApiError` that says what went wrong in plain words.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import requests

from tap_salesforce_bulk.auth import SalesforceAuthenticator
from tap_salesforce_bulk.errors import (
    ApiFailure,
    InvalidSessionError,
    SalesforceApiError,
    SalesforceRetriableError,
    TlsVerificationError,
)
from tap_salesforce_bulk.retry import is_retriable_status, parse_retry_after, retrying

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30
# Salesforce may take minutes to start streaming a large result page.
READ_TIMEOUT_SECONDS = 600
USER_AGENT = "tap-salesforce-bulk"


class Verdict(Enum):
    """What to do with a response."""

    OK = "ok"
    RETRY = "retry"
    RELOGIN = "relogin"
    FAIL = "fail"


def parse_failure(response: requests.Response) -> ApiFailure:
    """Salesforce's ``[{"errorCode", "message"}]`` (or OAuth-style) body, reduced to safe text."""
    code: str | None = None
    message = response.reason or "no message"
    try:
        body = response.json()
    except ValueError:
        body = None
    entry = body[0] if isinstance(body, list) and body else body
    if isinstance(entry, dict):
        code = entry.get("errorCode") or entry.get("error")
        message = str(entry.get("message") or entry.get("error_description") or message)
    elif response.text:
        message = response.text.strip().splitlines()[0][:300]
    return ApiFailure(
        status=response.status_code,
        error_code=str(code) if code else None,
        message=message,
        path=urlsplit(response.url).path,
    )


def classify(response: requests.Response, ok_statuses: tuple[int, ...]) -> Verdict:
    """Decide whether a response is usable, worth a retry, needs a new session, or is final."""
    status = response.status_code
    if status in ok_statuses:
        return Verdict.OK
    if status == 401:
        return Verdict.RELOGIN
    if is_retriable_status(status):
        return Verdict.RETRY
    if status == 403:
        failure = parse_failure(response)
        # Concurrent-request limits clear within seconds; the daily allocation does not.
        # https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm
        if (
            failure.error_code == "REQUEST_LIMIT_EXCEEDED"
            and "concurrent" in failure.message.lower()
        ):
            return Verdict.RETRY
    return Verdict.FAIL


class SalesforceClient:
    """REST and Bulk API 2.0 requests against the instance the authenticator logged in to."""

    def __init__(self, auth: SalesforceAuthenticator, *, verify_tls: bool = True) -> None:
        self.auth = auth
        self.api_version = auth.api_version
        self._verify_tls = verify_tls
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.api_calls = 0

    def _http(self) -> requests.Session:
        # One connection pool per thread: parallel page downloads must not share a socket.
        http = getattr(self._local, "http", None)
        if http is None:
            http = requests.Session()
            http.verify = self._verify_tls
            http.headers["User-Agent"] = USER_AGENT
            self._local.http = http
        return http

    def url(self, path: str) -> str:
        """An absolute URL for ``path``: a data-API path (``sobjects``) or a server path (``/...``)."""
        base = self.auth.session.instance_url
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return f"{base}{path}"
        return f"{base}/services/data/v{self.api_version}/{path}"

    @retrying()
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        ok_statuses: tuple[int, ...] = (200,),
    ) -> requests.Response:
        """Send one call, logging in again once on 401 and retrying transient failures."""
        session = self.auth.session
        for relogin_allowed in (True, False):
            response = self._send(session.access_token, method, path, params, json, headers, stream)
            verdict = classify(response, ok_statuses)
            if verdict is Verdict.OK:
                return response
            failure = parse_failure(response)
            response.close()
            if verdict is Verdict.RELOGIN and relogin_allowed:
                session = self.auth.renew(session)
                continue
            if verdict is Verdict.RETRY:
                raise SalesforceRetriableError(
                    failure.describe(),
                    retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
                )
            if verdict is Verdict.RELOGIN:
                raise InvalidSessionError(failure.describe())
            raise SalesforceApiError(failure)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        token: str,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> requests.Response:
        # Headers are built per request so a re-login takes effect at once and the caller's
        # mapping is never mutated.
        merged = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        merged.update(headers or {})
        with self._count_lock:
            self.api_calls += 1
        try:
            return self._http().request(
                method,
                self.url(path),
                params=params,
                json=json,
                headers=merged,
                stream=stream,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except requests.exceptions.SSLError as exc:  # a ConnectionError, but never transient
            raise TlsVerificationError(urlsplit(self.url(path)).netloc, exc) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            where = urlsplit(self.url(path)).path
            msg = f"{method} {where} failed: {type(exc).__name__}"
            raise SalesforceRetriableError(msg) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON resource."""
        return self.request("GET", path, params=params).json()
