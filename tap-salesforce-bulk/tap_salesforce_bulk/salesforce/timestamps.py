"""One timestamp format for everything the tap emits, compares or sends in SOQL.

The SDK compares bookmark values as strings, so ``...05Z`` and ``...05.000Z`` for one instant would
compare wrongly and lose a record. Every datetime leaves the tap as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in
UTC: Salesforce's own Bulk CSV format, millisecond precision, and valid RFC 3339.
"""

from __future__ import annotations

import datetime as dt

CANONICAL_LENGTH = len("2024-01-02T03:04:05.000Z")


def format_datetime(value: dt.datetime) -> str:
    """``2024-01-02T03:04:05.000Z`` for an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> dt.datetime:
    """Parse the ISO 8601 spellings Salesforce and users write; raise ValueError otherwise.

    Accepts a date alone (midnight UTC), ``Z``, ``+00:00`` and Salesforce's ``+0000`` offsets, and no
    offset at all (taken as UTC, which is what Salesforce means by a literal without one).
    """
    cleaned = text.strip()
    if len(cleaned) >= 5 and cleaned[-5] in "+-" and cleaned[-4:].isdigit() and "T" in cleaned:
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"  # +0000 -> +00:00
    parsed = dt.datetime.fromisoformat(cleaned)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def is_canonical(text: str) -> bool:
    """True when ``text`` already has the exact canonical shape (the fast path for CSV values)."""
    return (
        len(text) == CANONICAL_LENGTH
        and text[23] == "Z"
        and text[19] == "."
        and text[10] == "T"
        and text[4] == "-"
    )


def normalize_datetime(text: str) -> str:
    """Any accepted spelling of an instant, rewritten in the canonical format."""
    return text if is_canonical(text) else format_datetime(parse_datetime(text))


def soql_datetime_literal(value: dt.datetime | str) -> str:
    """A SOQL datetime literal (UTC, milliseconds). SOQL datetime literals are never quoted.

    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
    """
    instant = parse_datetime(value) if isinstance(value, str) else value
    return format_datetime(instant)
