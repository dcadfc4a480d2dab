"""``--preflight``: check login, limits and record counts, estimate the sync, show sample records.

It creates no Bulk job: everything here is a handful of REST calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from singer_sdk.exceptions import ConfigValidationError

from tap_salesforce_bulk.errors import SalesforceError
from tap_salesforce_bulk.progress import format_eta

if TYPE_CHECKING:
    from tap_salesforce_bulk.tap import TapSalesforceBulk

# The whole-pipeline rate measured by tests/benchmarks/pipeline.py (meltano run of 600,000 Contacts,
# 2 cores: 13,665 records/s); see the README's Figures.
BENCHMARK_RECORDS_PER_SECOND = 13_000
SAMPLE_RECORDS = 3
SAMPLE_FIELDS_SHOWN = 6


def run_preflight(tap: TapSalesforceBulk, emit: Callable[[str], None] = print) -> int:
    """Print the checks; 0 when all passed, 1 otherwise (with the reason)."""
    try:
        _run(tap, emit)
    except (SalesforceError, ConfigValidationError) as exc:
        emit(f"FAILED: {exc}")
        return 1
    emit("Preflight passed.")
    return 0


def _run(tap: TapSalesforceBulk, emit: Callable[[str], None]) -> None:
    runtime = tap.runtime
    client = runtime.client
    session = runtime.auth.session
    emit(f"Login: OK ({runtime.auth.flow.value} flow) to {session.instance_url}")
    identity = _identity(client, session.identity_url)
    emit(
        "User: "
        + ", ".join(
            f"{label} {value}"
            for label, value in (
                ("username", identity.get("username") or session.username),
                ("user id", identity.get("user_id") or session.user_id),
                ("org id", identity.get("organization_id") or session.organization_id),
            )
            if value
        )
    )
    for allocation in runtime.guard.read().values():
        emit(
            f"Limit {allocation.name}: {allocation.remaining:,} of {allocation.maximum:,} left "
            f"({allocation.used_percent:.0f}% used; the tap stops at "
            f"{runtime.settings.max_api_usage_percent:g}%)"
        )
    streams = [s for s in tap.streams.values() if s.selected]
    names = [s.name for s in streams]
    counts = _record_counts(client, names)
    total = 0
    for name in names:
        count = counts.get(name)
        total += count or 0
        emit(f"Object {name}: {'unknown' if count is None else f'{count:,}'} records")
    estimate = format_eta(total / BENCHMARK_RECORDS_PER_SECOND)
    emit(
        f"Estimate: about {estimate} for {total:,} records at the benchmark rate of "
        f"{BENCHMARK_RECORDS_PER_SECOND:,} records/s, plus the time Salesforce takes to run "
        "each Bulk job"
    )
    for stream in streams:
        started = time.monotonic()
        records = list(stream.sample_records(SAMPLE_RECORDS))  # type: ignore[attr-defined]
        took = time.monotonic() - started
        emit(f"Sample of {stream.name} ({len(records)} records in {took:.2f} s):")
        for record in records:
            shown = dict(list(record.items())[:SAMPLE_FIELDS_SHOWN])
            emit(f"  {shown}")


def _identity(client: Any, identity_url: str | None) -> dict[str, Any]:
    if not identity_url:
        return {}
    try:
        body = client.get_json(identity_url)
    except SalesforceError:
        return {}
    return body if isinstance(body, dict) else {}


def _record_counts(client: Any, names: list[str]) -> dict[str, int]:
    """Approximate counts from ``/limits/recordCount`` (one call for every object)."""
    if not names:
        return {}
    body = client.get_json("limits/recordCount", {"sObjects": ",".join(names)})
    return {
        str(entry.get("name")): int(entry.get("count", 0))
        for entry in body.get("sObjects", [])
        if isinstance(entry, dict)
    }
