"""Error types, and the plain-words messages for Salesforce failures users meet in practice.

Plain exceptions (this layer imports nothing from singer_sdk); the tap ends a run on any of them
with one line (``tap.py``).

Every error carries what a user needs to act (HTTP status, Salesforce ``errorCode``, job id, path)
and never a token, password or key: messages are built from response bodies and our own words,
never from request headers or configuration values.
"""

from __future__ import annotations

from dataclasses import dataclass

# Salesforce documents the ``errorCode`` values; these are the ones whose raw message confuses users.
# https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
KNOWN_FAILURE_HINTS: dict[str, str] = {
    "INVALID_SESSION_ID": "the access token expired or was revoked; check the credentials and "
    "that the connected app's session policies allow API access",
    "REQUEST_LIMIT_EXCEEDED": "the org used up its daily API request allocation "
    "(a rolling 24-hour window); wait, or ask Salesforce for a higher limit",
    "API_DISABLED_FOR_ORG": "API access is not enabled for this org or user; the user's profile "
    "or permission set needs the 'API Enabled' permission (Enterprise, Unlimited, Performance "
    "and Developer editions)",
    "INVALID_FIELD": "a field in the query does not exist or is not visible to this user "
    "(deleted, renamed, or hidden by field-level security); run discovery again or "
    "deselect the field",
    "MALFORMED_QUERY": "Salesforce rejected the SOQL; this is a bug in the tap, please report it "
    "with the query from the log",
    "INVALIDJOBSTATE": "the Bulk job is not in a state that allows this call",
    "NOT_FOUND": "the resource does not exist (a deleted job, an unknown object, or a wrong "
    "API version)",
    "INVALID_TYPE": "the object does not exist or is not visible to this user",
    "FUNCTIONALITY_NOT_ENABLED": "this feature is not enabled for the org",
    "INSUFFICIENT_ACCESS": "the user lacks a permission this call needs",
    "LIMIT_EXCEEDED": "a daily Bulk API 2.0 allocation is used up (10,000 query jobs or 1 TB of "
    "results per rolling 24 hours; see DailyBulkV2QueryJobs and DailyBulkV2QueryFileStorageMB "
    "in /limits); rerun once older usage ages out",
    "INVALIDENTITY": "Bulk API 2.0 cannot query this object; remove it from objects",
}

# Phrases inside Bulk 2.0 ``errorMessage`` texts, mapped to what a user should do about them.
JOB_FAILURE_HINTS: tuple[tuple[str, str], ...] = (
    (
        "implementation restriction",
        "Salesforce reads this object only with a filter on one particular field, which a sync "
        "of the whole object cannot write",
    ),
    (
        "can not be filtered",
        "describe calls a field filterable that Salesforce will not filter on",
    ),
    (
        "compound",
        "Bulk API 2.0 cannot query compound fields (address, location); query their "
        "component fields instead",
    ),
    (
        "not supported by the bulk api",
        "this field or object is not supported by Bulk API 2.0; deselect it",
    ),
    (
        "max bulk v2 query jobs",
        "the org reached its 10,000 Bulk API 2.0 query jobs per rolling 24 hours; rerun once "
        "older jobs age out, and avoid small window_days on big histories",
    ),
    (
        "base64",
        "Bulk API 2.0 cannot return base64 fields; deselect the field",
    ),
    (
        "storage",
        "the org's Bulk query result storage (DailyBulkV2QueryFileStorageMB, 1 TB per rolling 24 "
        "hours) is used up; rerun once older results age out, or sync fewer fields",
    ),
    (
        "timed out",
        "the query timed out inside Salesforce; narrow it with a start_date or window_days",
    ),
    (
        "retried more than",
        "Salesforce retried the query too often; narrow it with a start_date or window_days",
    ),
)


class SalesforceError(Exception):
    """A Salesforce call failed for a reason retrying will not fix."""


@dataclass(frozen=True)
class ApiFailure:
    """What Salesforce said about a failed call, reduced to what is safe to show."""

    status: int
    error_code: str | None
    message: str
    path: str

    def describe(self) -> str:
        """One line: status, code, Salesforce's words and our hint, without any secret."""
        code = f" {self.error_code}" if self.error_code else ""
        hint = job_failure_hint(self.message) or KNOWN_FAILURE_HINTS.get(self.error_code or "")
        text = f"HTTP {self.status}{code} on {self.path}: {self.message}"
        return f"{text} ({hint})" if hint else text


class SalesforceApiError(SalesforceError):
    """A REST or Bulk call answered with an error Salesforce will repeat if asked again."""

    def __init__(self, failure: ApiFailure) -> None:
        super().__init__(failure.describe())
        self.failure = failure


class SalesforceRetriableError(Exception):
    """A transient failure (5xx, 429, dropped connection, truncated body) worth retrying."""

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class InvalidSessionError(SalesforceError):
    """The access token was refused (401 INVALID_SESSION_ID); one re-login may fix it."""


class AuthenticationError(SalesforceError):
    """Logging in failed: bad credentials, a disabled app, or a retired login flow."""


class BulkJobError(SalesforceError):
    """A Bulk 2.0 query job ended Failed or Aborted, or took longer than allowed."""

    def __init__(self, job_id: str, state: str, detail: str) -> None:
        hint = job_failure_hint(detail)
        text = f"Bulk query job {job_id} ended {state}: {detail}"
        super().__init__(f"{text} ({hint})" if hint else text)
        self.job_id = job_id
        self.state = state
        self.detail = detail


class ResultCountMismatchError(SalesforceError):
    """Fewer or more rows arrived than Salesforce said it sent: never a silent short sync."""


class QuotaGuardError(SalesforceError):
    """The tap stopped before creating jobs because a Salesforce allocation is nearly used up."""


class TlsVerificationError(SalesforceError):
    """The server's TLS certificate failed verification: retrying cannot fix that."""

    def __init__(self, host: str, exc: BaseException) -> None:
        reason = _tls_reason(exc)
        super().__init__(
            f"TLS certificate verification failed for {host}{': ' + reason if reason else ''}; "
            "if the server uses a private certificate authority, point REQUESTS_CA_BUNDLE at "
            "its certificate (checks stay on)"
        )


def _tls_reason(exc: BaseException) -> str:
    """OpenSSL's words ("certificate verify failed: self-signed certificate"), if present."""
    text = str(exc)
    marker = "certificate verify failed"
    start = text.find(marker)
    if start < 0:
        return ""
    end = text.find(")", start)
    return text[start : end if end > 0 else None].strip(" ('\"")


def job_failure_hint(detail: str) -> str | None:
    """The user-facing advice for a Bulk job ``errorMessage``, if we know one."""
    lowered = detail.lower()
    return next((hint for phrase, hint in JOB_FAILURE_HINTS if phrase in lowered), None)


# Refusals of an object itself, by errorCode (any message) or by a phrase of the message, with
# what they mean. Salesforce answers them when the Bulk job is created (HTTP 400/403) or as a
# Failed job's errorMessage. Sources: airbytehq/airbyte source-salesforce ``rate_limiting.py``
# (API_ERROR "Implementation restriction" on job creation, INVALIDENTITY), singer-io/tap-salesforce
# ``Blacklisting.md`` (MALFORMED_QUERY "Implementation restriction", "does not support query",
# EXTERNAL_OBJECT_UNSUPPORTED_EXCEPTION), airbytehq/airbyte#62877 ("can not be filtered"),
# Stitch's Salesforce extraction error reference (OPERATION_TOO_LARGE without View All Data).
REFUSAL_CODES: dict[str, str] = {
    "INVALIDENTITY": "Bulk API 2.0 cannot query it",
    "INVALID_TYPE_FOR_OPERATION": "Salesforce does not let it be queried",
    "EXTERNAL_OBJECT_UNSUPPORTED_EXCEPTION": "Salesforce only queries it with a special filter",
    "INSUFFICIENT_ACCESS": "the integration user may not read it",
    "INSUFFICIENT_ACCESS_OR_READONLY": "the integration user may not read it",
}
REFUSAL_PHRASES: tuple[tuple[str, str], ...] = (
    ("implementation restriction", "Salesforce only queries it with a filter the tap cannot write"),
    ("not supported by the bulk api", "Bulk API 2.0 cannot query it"),
    ("does not support query", "Salesforce does not let it be queried"),
    ("can not be filtered", "Salesforce refuses a filter on its replication key"),
    ("a filter on a reified column is required", "Salesforce only queries it with a filter"),
    ("insufficient_access", "the integration user may not read it"),
    ("insufficient access rights", "the integration user may not read it"),
    ("operation_too_large", "the integration user lacks View All Data for it"),
)
# Failures of the org or the session rather than of one object: every object would fail alike,
# so the run stops at once.
ORG_WIDE_CODES = frozenset(
    {
        "INVALID_SESSION_ID",
        "REQUEST_LIMIT_EXCEEDED",
        "LIMIT_EXCEEDED",
        "API_DISABLED_FOR_ORG",
        "API_CURRENTLY_DISABLED",
        "FUNCTIONALITY_NOT_ENABLED_FOR_ORG",
    }
)
ORG_WIDE_JOB_PHRASES = ("max bulk v2 query jobs", "storage")
QUERY_PATHS = ("/jobs/query", "/query", "/queryAll")


def refusal_reason(error: BaseException) -> str | None:
    """Why Salesforce refuses to let a plain query read the object, or None for other failures.

    A refusal is about the object (it needs a filter, the user may not read it, Bulk cannot
    query it); it will be the same on every run until the org or the configuration changes.
    """
    if isinstance(error, SalesforceApiError):
        if not error.failure.path.endswith(QUERY_PATHS):
            return None  # e.g. /limits refused: not about the object
        code, message = error.failure.error_code or "", error.failure.message
    elif isinstance(error, BulkJobError):
        code, message = "", error.detail
    else:
        return None
    if code in REFUSAL_CODES:
        return REFUSAL_CODES[code]
    lowered = message.lower()
    return next((reason for phrase, reason in REFUSAL_PHRASES if phrase in lowered), None)


def affects_every_object(error: BaseException) -> bool:
    """Whether a failure is the org's or the session's (limits, login, TLS, quota guard), so
    going on with the next object would only fail again."""
    if isinstance(error, AuthenticationError | InvalidSessionError | QuotaGuardError):
        return True
    if isinstance(error, TlsVerificationError):
        return True
    if isinstance(error, SalesforceApiError):
        return (error.failure.error_code or "") in ORG_WIDE_CODES
    if isinstance(error, BulkJobError):
        lowered = error.detail.lower()
        return any(phrase in lowered for phrase in ORG_WIDE_JOB_PHRASES)
    return False


class ObjectsFailedError(SalesforceError):
    """Some objects failed while the others were synced: one line per failed object."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.lines = [f"{name}: {reason}" for name, reason in failures.items()]
        names = ", ".join(failures)
        super().__init__(
            f"{len(failures)} object(s) failed ({names}); the others were synced and their "
            "state saved. Rerun to resume the failed ones from their last saved point"
        )


def is_permission_refusal(error: SalesforceApiError) -> bool:
    """Whether a resource was refused for lack of a permission (403), or hidden from this user
    (404): /limits and /limits/recordCount need "View Setup and Configuration", and how
    Salesforce refuses them is not documented."""
    return error.failure.status in (403, 404)
