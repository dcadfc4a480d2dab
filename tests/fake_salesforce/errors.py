"""Salesforce's error shapes, raised anywhere in the emulator and turned into responses by the handler.

REST errors are a JSON list of ``{"message", "errorCode"}`` objects
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm); the
OAuth token endpoint answers ``{"error", "error_description"}`` instead.
"""

from __future__ import annotations

import json


class SalesforceError(Exception):
    """A REST/Bulk error: HTTP status, Salesforce errorCode and message."""

    def __init__(
        self, status: int, error_code: str, message: str, headers: dict[str, str] | None = None
    ):
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.headers = headers or {}

    def body(self) -> bytes:
        """The JSON error list Salesforce returns."""
        return json.dumps([{"message": self.message, "errorCode": self.error_code}]).encode()


class OAuthError(Exception):
    """A token endpoint error (always HTTP 400 in Salesforce's examples)."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> bytes:
        """``{"error": ..., "error_description": ...}``."""
        return json.dumps({"error": self.error, "error_description": self.description}).encode()


def invalid_session() -> SalesforceError:
    """401 for a missing, unknown or expired access token."""
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def not_found() -> SalesforceError:
    """404 for an unknown resource (unknown API version, job id, object...)."""
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
