"""Comparisons between what the tap emitted and the emulator's data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tap_salesforce_bulk.salesforce.timestamps import normalize_datetime


def same_value(emitted: Any, truth: str | None, schema: Mapping[str, Any]) -> bool:
    """Whether a typed value equals the emulator's CSV text for it."""
    if truth is None or truth == "":
        return emitted is None
    types = set(schema.get("type", []))
    if "boolean" in types:
        return emitted is (truth == "true")
    if "integer" in types or "number" in types:
        return Decimal(str(emitted)) == Decimal(truth)
    if schema.get("format") == "date-time":
        return emitted == normalize_datetime(truth)
    return bool(emitted == truth)


def mismatches(
    records: Iterable[Mapping[str, Any]],
    truth_rows: Iterable[Mapping[str, str | None]],
    properties: Mapping[str, Any],
) -> list[str]:
    """Every difference between emitted records and the truth, keyed by Id (empty: identical)."""
    truth = {row["Id"]: row for row in truth_rows}
    seen: dict[str, Mapping[str, Any]] = {}
    problems: list[str] = []
    for record in records:
        seen[str(record["Id"])] = record
    for missing in sorted(set(truth) - set(seen))[:5]:
        problems.append(f"{missing}: not emitted")
    for extra in sorted(set(seen) - set(truth))[:5]:
        problems.append(f"{extra}: emitted but not in Salesforce")
    for record_id, record in seen.items():
        row = truth.get(record_id)
        if row is None:
            continue
        for name, schema in properties.items():
            if name in row and not same_value(record.get(name), row[name], schema):
                problems.append(f"{record_id}.{name}: {record.get(name)!r} != {row[name]!r}")
                if len(problems) > 20:
                    return problems
    return problems
