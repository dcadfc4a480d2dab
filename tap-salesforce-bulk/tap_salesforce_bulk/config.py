"""Settings that need more than a JSON schema: login URL, auth flow inference, relative dates.

Pure functions over the configuration mapping, so that the rules are testable without a network.
Every failure raises :class:`SettingError` with one line naming the setting and the fix.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tap_salesforce_bulk.errors import SettingError
from tap_salesforce_bulk.timestamps import format_datetime, parse_datetime

DEFAULT_API_VERSION = "64.0"
# SOAP login() is retired from API 65.0 on; the soap flow logs in at this version at most.
# https://help.salesforce.com/s/articleView?id=005132110&type=1
SOAP_LOGIN_MAX_API_VERSION = "64.0"
RELATIVE_START_DATE = re.compile(r"^\s*(\d+)\s*d(?:ays?)?\s*$", re.IGNORECASE)
API_VERSION_PATTERN = re.compile(r"^v?(\d{2,3})(?:\.0)?$")
DOMAIN_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


class AuthFlow(StrEnum):
    """The five ways the tap can obtain an access token."""

    PASSWORD = "password"  # noqa: S105 - the OAuth grant's name, not a secret
    SOAP = "soap"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - the OAuth grant's name, not a secret
    JWT = "jwt"
    CLIENT_CREDENTIALS = "client_credentials"


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
    elif _given(config, "refresh_token"):
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
    ]
    if missing:
        msg = (
            f"auth_flow '{flow.value}' needs {', '.join(missing)}; set them or choose another flow"
        )
        raise SettingError(msg)
    return flow


def resolve_login_url(config: Mapping[str, Any]) -> str:
    """The base URL logins go to: ``login_url`` if given, else built from ``domain``."""
    login_url = config.get("login_url")
    if login_url:
        parts = urlsplit(str(login_url))
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            msg = f"login_url: '{login_url}' is not an http(s) URL; use e.g. https://acme.my.salesforce.com"
            raise SettingError(msg)
        return f"{parts.scheme}://{parts.netloc}"
    domain = str(config.get("domain") or "login").strip().lower()
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


def soap_login_version(api_version: str) -> str:
    """The API version the SOAP ``login()`` call uses: never above the last one that has it."""
    return min(api_version, SOAP_LOGIN_MAX_API_VERSION, key=float)


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


def positive_number(config: Mapping[str, Any], name: str, default: float) -> float:
    """A numeric setting that must be above zero."""
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        msg = f"{name}: '{value}' must be a number above 0"
        raise SettingError(msg)
    return float(value)
