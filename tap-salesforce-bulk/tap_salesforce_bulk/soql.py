"""SOQL text, built only from names that describe returned and from formatted literals.

No user text is ever pasted into a query: field and object names must be among the names
Salesforce's describe returned (which are plain API names), and values go through a literal
formatter. There is deliberately no ``ORDER BY``: Salesforce documents that it stops Bulk API 2.0
from chunking a query, which makes large jobs slow and prone to time out.
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from tap_salesforce_bulk.salesforce.timestamps import soql_datetime_literal

API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
DELETED_FIELD = "IsDeleted"


class UnsafeNameError(ValueError):
    """A name that is not a plain Salesforce API name, or not one describe returned."""


def checked_name(name: str, known: Collection[str]) -> str:
    """``name`` if it is a described API name; raise otherwise."""
    if name not in known or not API_NAME.match(name):
        msg = f"'{name}' is not a field or object that describe returned"
        raise UnsafeNameError(msg)
    return name


def soql_boolean(value: bool) -> str:
    """A SOQL boolean literal: ``true`` or ``false``, never quoted."""
    return "true" if value else "false"


@dataclass(frozen=True)
class TimeWindow:
    """``start <= replication_key < end``; either side may be open (None)."""

    start: str | None = None
    end: str | None = None


def build_query(
    sobject: str,
    fields: Sequence[str],
    *,
    described_fields: Collection[str],
    described_objects: Collection[str],
    replication_key: str | None = None,
    window: TimeWindow | None = None,
    limit: int | None = None,
    live_only: bool = False,
) -> str:
    """``SELECT f1, f2 FROM Obj [WHERE [IsDeleted = false AND] rk >= start AND rk < end]
    [LIMIT n]``; ``live_only`` is for queryAll, which also returns deleted rows."""
    select = ", ".join(checked_name(name, described_fields) for name in fields)
    text = f"SELECT {select} FROM {checked_name(sobject, described_objects)}"  # noqa: S608 - described names only
    conditions: list[str] = []
    if live_only:
        conditions.append(
            f"{checked_name(DELETED_FIELD, described_fields)} = {soql_boolean(False)}"
        )
    if window is not None and replication_key is not None:
        key = checked_name(replication_key, described_fields)
        if window.start is not None:
            conditions.append(f"{key} >= {soql_datetime_literal(window.start)}")
        if window.end is not None:
            conditions.append(f"{key} < {soql_datetime_literal(window.end)}")
    if conditions:
        text += " WHERE " + " AND ".join(conditions)
    if limit is not None:
        text += f" LIMIT {int(limit)}"
    return text


def count_query(sobject: str, *, described_objects: Collection[str]) -> str:
    """``SELECT COUNT() FROM Obj`` for the REST query resource (never a Bulk job)."""
    return f"SELECT COUNT() FROM {checked_name(sobject, described_objects)}"  # noqa: S608


def fields_that_fit(
    fields: Sequence[str], keep: Collection[str], fits: Callable[[list[str]], bool]
) -> list[str]:
    """The fields ``keep`` plus as many others as ``fits`` accepts, taken in order and returned
    in the order of ``fields`` (``fits`` must hold for fewer fields whenever it holds for more)."""
    kept = [name for name in fields if name in keep]
    others = [name for name in fields if name not in keep]

    def chosen(count: int) -> list[str]:
        wanted = set(kept) | set(others[:count])
        return [name for name in fields if name in wanted]

    low, high = 0, len(others)  # fits(chosen(low)) is assumed; find the largest count that fits
    while low < high:
        middle = (low + high + 1) // 2
        if fits(chosen(middle)):
            low = middle
        else:
            high = middle - 1
    return chosen(low)
