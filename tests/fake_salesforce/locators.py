"""Result locators: opaque strings naming a row offset into a job's results.

Salesforce's locators are "pseudo-random" strings such as ``MTAwMDA`` (base64 of "10000",
"Get Results for a Query Job"); the last page answers the literal string ``null``. A locator
stays valid for as long as its job exists, so it can be fetched again.
"""

from __future__ import annotations

import base64
import binascii

LAST_PAGE = "null"


def encode(offset: int) -> str:
    """The locator of the page starting at row ``offset``."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode(locator: str) -> int | None:
    """The row offset of a locator, or None when it is not one of ours."""
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return int(text) if text.isdigit() else None
