"""Every setting of the tap once: its declaration (shown by ``--about``), its default, its checks,
and the typed values the rest of the tap reads (:class:`TapSettings`).

Checks that a JSON schema cannot make (which login flow the given credentials imply, a domain or
URL, an API version, a relative ``start_date``) raise :class:`SettingError` with one line naming
the setting and the fix. The Salesforce client gets plain values from here, never the mapping.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_salesforce_bulk.salesforce.auth import AuthFlow, Credentials, needs_my_domain
from tap_salesforce_bulk.salesforce.login_faults import MY_DOMAIN_ADVICE
from tap_salesforce_bulk.salesforce.timestamps import format_datetime, parse_datetime
from tap_salesforce_bulk.salesforce.token_file import (
    TokenFileError,
    check_writable,
    read_token_file,
)

DEFAULT_API_VERSION = "64.0"
DEFAULT_DOMAIN = "login"
DEFAULT_OBJECTS = ("Contact",)
DEFAULT_INCLUDE_DELETED = False
DEFAULT_INCLUDE_FORMULA_FIELDS = True
DEFAULT_MAX_WAIT_SECONDS = 3600
DEFAULT_LAG_SECONDS = 300
DEFAULT_MAX_PARALLEL_JOBS = 3
DEFAULT_MAX_PARALLEL_DOWNLOADS = 3
DEFAULT_MAX_API_USAGE_PERCENT = 80
MAX_PAGE_SIZE = 1_000_000
ALL_OBJECTS = "*"
RELATIVE_START_DATE = re.compile(r"^\s*(\d+)\s*d(?:ays?)?\s*$", re.IGNORECASE)
API_VERSION_PATTERN = re.compile(r"^v?(\d{2,3})(?:\.0)?$")
DOMAIN_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class ReconcilePass(StrEnum):
    """The extra passes ``reconcile`` can ask for after each object."""

    DELETES = "deletes"
    FORMULA_FIELDS = "formula_fields"


class SettingError(ConfigValidationError):
    """A setting has a value the tap cannot use; the message names the setting and the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors=[message])


CONFIG_JSONSCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "auth_flow",
        th.StringType,
        allowed_values=[flow.value for flow in AuthFlow],
        description="How to log in: jwt or client_credentials (recommended), refresh_token, "
        "password (OAuth username-password, retired by Salesforce on 2027-02-20) or soap "
        "(SOAP login(), retired from API 65.0 on; the tap uses API 64.0 for it). Inferred from "
        "the credentials given when unset.",
    ),
    th.Property(
        "username", th.StringType, description="Salesforce username (jwt, password, soap)."
    ),
    th.Property("password", th.StringType, secret=True, description="Password (password, soap)."),
    th.Property(
        "security_token",
        th.StringType,
        secret=True,
        description="Security token, appended to the password (password, soap); not needed "
        "when the login IP is trusted.",
    ),
    th.Property(
        "client_id",
        th.StringType,
        secret=True,
        description="Connected app consumer key (every flow but soap).",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="Connected app consumer secret (client_credentials, password; "
        "refresh_token when the app requires it).",
    ),
    th.Property("refresh_token", th.StringType, secret=True, description="OAuth refresh token."),
    th.Property(
        "refresh_token_path",
        th.StringType,
        description="File holding the refresh token, read at start and rewritten (atomically, "
        "mode 0600) whenever Salesforce returns a new one: needed when the connected app has "
        "Refresh Token Rotation on. Instead of refresh_token, or with it to start a file that "
        "does not exist yet.",
    ),
    th.Property(
        "private_key",
        th.StringType,
        secret=True,
        description="PEM text of the RSA key whose certificate is on the connected app (jwt). "
        "Literal \\n sequences are accepted.",
    ),
    th.Property(
        "private_key_path",
        th.StringType,
        description="Path of a PEM key file, instead of private_key (jwt).",
    ),
    th.Property(
        "domain",
        th.StringType,
        default=DEFAULT_DOMAIN,
        description="login (production), test (sandbox), or your My Domain such as acme.my "
        "(required for client_credentials).",
    ),
    th.Property(
        "login_url",
        th.StringType,
        description="Full base URL for logins, overriding domain (e.g. https://acme.my.salesforce.com).",
    ),
    th.Property(
        "api_version",
        th.StringType,
        default=DEFAULT_API_VERSION,
        description="Salesforce API version for REST and Bulk 2.0 calls.",
    ),
    th.Property(
        "objects",
        th.ArrayType(th.StringType),
        default=list(DEFAULT_OBJECTS),
        description='sObject API names to sync; ["*"] means every object Bulk API 2.0 can query.',
    ),
    th.Property(
        "start_date",
        th.StringType,
        description="Sync records modified at or after this ISO 8601 date/timestamp, or within "
        "the last N days written as 7d. Unset means the whole history. A relative 7d never "
        "moves the start past a saved bookmark.",
    ),
    th.Property(
        "include_deleted",
        th.BooleanType,
        default=DEFAULT_INCLUDE_DELETED,
        description="Use queryAll and emit deleted (recycle bin) rows with IsDeleted=true.",
    ),
    th.Property(
        "include_formula_fields",
        th.BooleanType,
        default=DEFAULT_INCLUDE_FORMULA_FIELDS,
        description="Emit formula and roll-up fields. Their values can change without "
        "SystemModstamp moving, so incremental runs can leave them stale.",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        description="maxRecords per result page. Unset lets Salesforce choose and enables "
        "parallel result URLs (resultPages, API 58.0+).",
    ),
    th.Property(
        "max_wait_time",
        th.IntegerType,
        default=DEFAULT_MAX_WAIT_SECONDS,
        description="Seconds a Bulk job may take before the tap aborts it and fails.",
    ),
    th.Property(
        "lag_seconds",
        th.NumberType,
        default=DEFAULT_LAG_SECONDS,
        description="Safety margin: a bookmark never passes a job's creation time minus this, "
        "nor getUpdated's latestDateCovered (the start of the oldest open transaction), so "
        "records committed late with an earlier SystemModstamp are read next run.",
    ),
    th.Property(
        "window_days",
        th.NumberType,
        description="Split each object into SystemModstamp windows of this many days, one job "
        "each (parallel jobs, and the bookmark moves after each window). Unset: one job.",
    ),
    th.Property(
        "max_parallel_jobs",
        th.IntegerType,
        default=DEFAULT_MAX_PARALLEL_JOBS,
        description="Bulk jobs alive at once (objects or windows Salesforce runs ahead).",
    ),
    th.Property(
        "max_parallel_downloads",
        th.IntegerType,
        default=DEFAULT_MAX_PARALLEL_DOWNLOADS,
        description="Result pages downloaded ahead to disk in parallel; 1 streams each page "
        "straight from its socket.",
    ),
    th.Property(
        "reconcile",
        th.ArrayType(th.StringType),
        default=[],
        description='Extra passes after each object: "deletes" lists every existing Id (one '
        "Id-only Bulk job) so the target can mark rows deleted or purged in Salesforce; "
        '"formula_fields" re-reads formula and roll-up fields, which change without '
        "SystemModstamp. Fields added in Salesforce are backfilled on every incremental run.",
    ),
    th.Property(
        "max_api_usage_percent",
        th.NumberType,
        default=DEFAULT_MAX_API_USAGE_PERCENT,
        description="Stop (with resumable state) before creating a job once an org allocation "
        "(DailyApiRequests, DailyBulkV2QueryJobs, DailyBulkV2QueryFileStorageMB) is this much used.",
    ),
).to_dict()


@dataclass(frozen=True)
class TapSettings:
    """Every setting, validated, defaulted and typed. Built once per run (no network)."""

    credentials: Credentials
    login_url: str
    api_version: str
    objects: tuple[str, ...]
    start_date: str | None
    start_date_relative: bool  # 7d: bounds a run without state, never passes a saved bookmark
    include_deleted: bool
    include_formula_fields: bool
    page_size: int | None
    max_wait_seconds: float
    lag_seconds: float
    window_days: float | None
    max_parallel_jobs: int
    max_parallel_downloads: int
    max_api_usage_percent: float
    reconcile: frozenset[ReconcilePass]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, now: dt.datetime) -> TapSettings:
        """Check and type the configuration; ``now`` resolves a relative ``start_date``."""
        page_size = _positive_int(config, "page_size", None)
        if page_size is not None and page_size > MAX_PAGE_SIZE:
            msg = f"page_size: {page_size} is above {MAX_PAGE_SIZE:,}; leave it unset to let Salesforce choose"
            raise SettingError(msg)
        lag = config.get("lag_seconds", DEFAULT_LAG_SECONDS)
        if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
            msg = f"lag_seconds: '{lag}' must be a number of seconds, 0 or more"
            raise SettingError(msg)
        usage = _positive_number(config, "max_api_usage_percent", DEFAULT_MAX_API_USAGE_PERCENT)
        if usage > 100:
            msg = f"max_api_usage_percent: {usage:g} is above 100"
            raise SettingError(msg)
        credentials = resolve_credentials(config)
        login_url = resolve_login_url(config)
        if needs_my_domain(credentials.flow, login_url):
            setting = "login_url" if config.get("login_url") else "domain"
            host = urlsplit(login_url).hostname
            msg = f"{setting}: {host} cannot be used with auth_flow client_credentials; {MY_DOMAIN_ADVICE}"
            raise SettingError(msg)
        return cls(
            credentials=credentials,
            login_url=login_url,
            api_version=resolve_api_version(config),
            objects=tuple(config.get("objects") or DEFAULT_OBJECTS),
            start_date=resolve_start_date(config.get("start_date"), now=now),
            start_date_relative=bool(
                RELATIVE_START_DATE.match(str(config.get("start_date") or ""))
            ),
            include_deleted=bool(config.get("include_deleted", DEFAULT_INCLUDE_DELETED)),
            include_formula_fields=bool(
                config.get("include_formula_fields", DEFAULT_INCLUDE_FORMULA_FIELDS)
            ),
            page_size=page_size,
            max_wait_seconds=_positive_number(config, "max_wait_time", DEFAULT_MAX_WAIT_SECONDS),
            lag_seconds=float(lag),
            window_days=_positive_number(config, "window_days", 1.0)
            if config.get("window_days")
            else None,
            max_parallel_jobs=_positive_int(config, "max_parallel_jobs", DEFAULT_MAX_PARALLEL_JOBS)
            or DEFAULT_MAX_PARALLEL_JOBS,
            max_parallel_downloads=_positive_int(
                config, "max_parallel_downloads", DEFAULT_MAX_PARALLEL_DOWNLOADS
            )
            or DEFAULT_MAX_PARALLEL_DOWNLOADS,
            max_api_usage_percent=usage,
            reconcile=_reconcile_passes(config.get("reconcile")),
        )

    @property
    def syncs_every_object(self) -> bool:
        """``objects: ["*"]``: every object Bulk API 2.0 can query; refusals skip, not fail."""
        return list(self.objects) == [ALL_OBJECTS]


# --- Checks a JSON schema cannot make ---

# Which settings each flow needs, in the order a user would want to be told about them.
REQUIRED_SETTINGS: dict[AuthFlow, tuple[str, ...]] = {
    AuthFlow.PASSWORD: ("client_id", "client_secret", "username", "password"),
    AuthFlow.SOAP: ("username", "password"),
    AuthFlow.REFRESH_TOKEN: ("client_id", "refresh_token"),
    AuthFlow.JWT: ("client_id", "username", "private_key"),
    AuthFlow.CLIENT_CREDENTIALS: ("client_id", "client_secret"),
}


def _given(config: Mapping[str, Any], name: str) -> bool:
    value = config.get(name)
    return value is not None and value != ""


def resolve_auth_flow(config: Mapping[str, Any]) -> AuthFlow:
    """The configured ``auth_flow``, or the one the given settings imply, checked for completeness."""
    raw = config.get("auth_flow")
    if raw:
        try:
            flow = AuthFlow(str(raw).strip().lower())
        except ValueError:
            choices = ", ".join(f.value for f in AuthFlow)
            msg = f"auth_flow: '{raw}' is not a login flow; use one of {choices}"
            raise SettingError(msg) from None
    elif _given(config, "private_key") or _given(config, "private_key_path"):
        flow = AuthFlow.JWT
    elif _given(config, "refresh_token") or _given(config, "refresh_token_path"):
        flow = AuthFlow.REFRESH_TOKEN
    elif _given(config, "username") and _given(config, "password"):
        flow = AuthFlow.PASSWORD if _given(config, "client_id") else AuthFlow.SOAP
    elif _given(config, "client_id") and _given(config, "client_secret"):
        flow = AuthFlow.CLIENT_CREDENTIALS
    else:
        msg = (
            "auth_flow: no credentials given; set client_id + private_key + username (jwt), "
            "client_id + client_secret (client_credentials), client_id + refresh_token, "
            "or username + password (+ security_token)"
        )
        raise SettingError(msg)
    missing = [
        name
        for name in REQUIRED_SETTINGS[flow]
        if not _given(config, name)
        and not (name == "private_key" and _given(config, "private_key_path"))
        and not (name == "refresh_token" and _given(config, "refresh_token_path"))
    ]
    if missing:
        msg = (
            f"auth_flow '{flow.value}' needs {', '.join(missing)}; set them or choose another flow"
        )
        raise SettingError(msg)
    return flow


def resolve_credentials(config: Mapping[str, Any]) -> Credentials:
    """The flow and what it sends, as plain values for the Salesforce client."""
    flow = resolve_auth_flow(config)

    def text(name: str) -> str | None:
        return str(config[name]) if _given(config, name) else None

    refresh_token, refresh_token_path = text("refresh_token"), None
    if flow is AuthFlow.REFRESH_TOKEN and _given(config, "refresh_token_path"):
        refresh_token_path = str(Path(str(config["refresh_token_path"])).expanduser())
        refresh_token = load_refresh_token(Path(refresh_token_path), refresh_token)
    return Credentials(
        flow=flow,
        username=text("username"),
        password=text("password"),
        security_token=text("security_token"),
        client_id=text("client_id"),
        client_secret=text("client_secret"),
        refresh_token=refresh_token,
        refresh_token_path=refresh_token_path,
        private_key_pem=load_private_key(config) if flow is AuthFlow.JWT else None,
    )


def load_refresh_token(path: Path, inline: str | None) -> str:
    """The newest refresh token: the file's when it exists, else ``refresh_token`` (the file is
    written at the first rotation). The file's directory must be writable, checked now: a token
    rotated mid-run and then lost would revoke the chain at the next run."""
    try:
        check_writable(path)
        if path.exists() or inline is None:
            return read_token_file(path)
    except TokenFileError as exc:
        msg = f"refresh_token_path: {exc}"
        raise SettingError(msg) from None
    return inline


def load_private_key(config: Mapping[str, Any]) -> str:
    """The PEM text of the JWT signing key, from ``private_key`` or ``private_key_path``."""
    text, setting = config.get("private_key"), "private_key"
    if not text and config.get("private_key_path"):
        setting = "private_key_path"
        try:
            text = Path(str(config["private_key_path"])).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"private_key_path: cannot read the key file ({exc.strerror})"
            raise SettingError(msg) from None
    pem = str(text or "").replace("\\n", "\n").strip()  # env vars often carry literal \n
    if "-----BEGIN" not in pem or "PRIVATE KEY-----" not in pem:
        msg = f"{setting}: not a PEM private key; paste the whole -----BEGIN ... PRIVATE KEY----- block"
        raise SettingError(msg)
    # Checked here, not at the first login, so the error names the setting before any request.
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = (
            f"{setting}: the key cannot sign a JWT; it must be an unencrypted RSA private key in "
            "PEM (openssl genrsa -out server.key 2048)"
        )
        raise SettingError(msg)
    return pem + "\n"


def resolve_login_url(config: Mapping[str, Any]) -> str:
    """The base URL logins go to: ``login_url`` if given, else built from ``domain``."""
    login_url = config.get("login_url")
    if login_url:
        parts = urlsplit(str(login_url))
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            msg = f"login_url: '{login_url}' is not an http(s) URL; use e.g. https://acme.my.salesforce.com"
            raise SettingError(msg)
        return f"{parts.scheme}://{parts.netloc}"
    domain = str(config.get("domain") or DEFAULT_DOMAIN).strip().lower()
    domain = domain.removeprefix("https://").removesuffix("/")
    domain = domain.removesuffix(".salesforce.com")
    if not DOMAIN_PATTERN.match(domain):
        msg = f"domain: '{domain}' is not a Salesforce domain; use login, test, or a My Domain like acme.my"
        raise SettingError(msg)
    return f"https://{domain}.salesforce.com"


def resolve_api_version(config: Mapping[str, Any]) -> str:
    """``api_version`` as Salesforce spells it in paths (``64.0``)."""
    raw = str(config.get("api_version") or DEFAULT_API_VERSION).strip()
    match = API_VERSION_PATTERN.match(raw)
    if not match or not 47 <= int(match.group(1)) <= 999:
        msg = f"api_version: '{raw}' is not a Bulk API 2.0 query version; use 47.0 or later, e.g. 64.0"
        raise SettingError(msg)
    return f"{int(match.group(1))}.0"


def resolve_start_date(value: Any, *, now: dt.datetime) -> str | None:
    """``start_date`` as a canonical UTC timestamp; ``7d`` means seven days before ``now``."""
    if value is None or value == "":
        return None
    text = str(value)
    relative = RELATIVE_START_DATE.match(text)
    if relative:
        return format_datetime(now - dt.timedelta(days=int(relative.group(1))))
    try:
        return format_datetime(parse_datetime(text))
    except ValueError:
        msg = (
            f"start_date: '{text}' is neither an ISO 8601 date or timestamp "
            "(2024-01-31 or 2024-01-31T00:00:00Z) nor a relative age like 7d"
        )
        raise SettingError(msg) from None


def _positive_number(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{name}: '{value}' must be a number above 0"
        raise SettingError(msg)
    return float(value)


def _positive_int(config: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{name}: '{value}' must be a whole number of at least 1"
        raise SettingError(msg)
    return value


def _reconcile_passes(value: Any) -> frozenset[ReconcilePass]:
    given = [value] if isinstance(value, str) else list(value or [])
    choices = [p.value for p in ReconcilePass]
    unknown = [v for v in given if v not in choices]
    if unknown:
        msg = f"reconcile: {unknown} are not reconcile passes; use any of {choices}"
        raise SettingError(msg)
    return frozenset(ReconcilePass(v) for v in given)
