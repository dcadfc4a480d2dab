"""Every judgement of an HTTP status or Salesforce ``errorCode``: use it, retry, log in again, or fail.

https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm

Logins are judged apart (:func:`classify_login`): a refused login must never be sent again, since
every attempt with a wrong password counts towards the org's lockout threshold.
"""

from __future__ import annotations

from enum import Enum
from urllib.parse import urlsplit

import requests

from tap_salesforce_bulk.salesforce.errors import ApiFailure
from tap_salesforce_bulk.salesforce.retry import is_retriable_status

# A login is sent again only when no authentication server judged it: throttled (429) or a
# gateway or maintenance answer (502, 503, 504). SOAP login() faults come back as HTTP 500, and a
# wrong password retried eight times locks the user out.
# https://developer.salesforce.com/docs/platform/api/guide/sforce-api-calls-login.html
LOGIN_RETRIABLE_STATUSES = frozenset({429, 502, 503, 504})
SOAP_FAULT_MARKER = b"faultcode"


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


def judged_credentials(response: requests.Response) -> bool:
    """Whether a login reply is Salesforce's judgement of the credentials (a SOAP fault, or an
    OAuth ``{"error": ...}`` body), whatever status it came with."""
    if SOAP_FAULT_MARKER in response.content:
        return True
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body


def classify_login(response: requests.Response) -> Verdict:
    """What to do with a reply of the token endpoint or SOAP ``login()``: use it, send the same
    login again (only when no authentication server judged it), or fail with Salesforce's words."""
    status = response.status_code
    if status == 200:
        return Verdict.OK
    if status in LOGIN_RETRIABLE_STATUSES and not judged_credentials(response):
        return Verdict.RETRY
    return Verdict.FAIL
