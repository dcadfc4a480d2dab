"""HTTP to Salesforce: per-request auth headers, one re-login on 401, retries.

What a response means is decided in :mod:`classify`; callers only see a good response, a
:class:`SalesforceRetriableError` (already retried), or a :class:`SalesforceApiError` that says
what went wrong in plain words.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from tap_salesforce_bulk.salesforce.auth import SalesforceAuthenticator
from tap_salesforce_bulk.salesforce.classify import Verdict, classify, parse_failure
from tap_salesforce_bulk.salesforce.errors import (
    InvalidSessionError,
    SalesforceApiError,
    SalesforceRetriableError,
    TlsVerificationError,
)
from tap_salesforce_bulk.salesforce.retry import parse_retry_after, retrying

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30
# Salesforce may take minutes to start streaming a large result page.
READ_TIMEOUT_SECONDS = 600
USER_AGENT = "tap-salesforce-bulk"


class SalesforceClient:
    """REST and Bulk API 2.0 requests against the instance the authenticator logged in to."""

    def __init__(self, auth: SalesforceAuthenticator, *, verify_tls: bool = True) -> None:
        self.auth = auth
        self.api_version = auth.api_version
        self._verify_tls = verify_tls
        self._local = threading.local()
        self._count_lock = threading.Lock()
        self.api_calls = 0
        # The last ``Sforce-Limit-Info`` Salesforce sent ("api-usage=used/max"): the one view of
        # DailyApiRequests left to a user who may not read /limits.
        self.last_limit_info: str | None = None

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
        return self.send_once(
            method,
            path,
            params=params,
            json=json,
            headers=headers,
            stream=stream,
            ok_statuses=ok_statuses,
        )

    def send_once(
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
        """One attempt (with one re-login on 401): a transient failure raises
        :class:`SalesforceRetriableError` for the caller to retry, as :meth:`request` does."""
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
            response = self._http().request(
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
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            self.last_limit_info = limit_info
        return response

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a JSON resource."""
        return self.request("GET", path, params=params).json()
