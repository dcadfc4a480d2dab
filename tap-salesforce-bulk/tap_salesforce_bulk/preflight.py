"""``--preflight``: check login, limits and record counts, estimate the sync, show sample records.

It creates no Bulk job: everything here is a handful of REST calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from singer_sdk.exceptions import ConfigValidationError

from tap_salesforce_bulk.progress import format_eta
from tap_salesforce_bulk.runtime import SyncRuntime
from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import (
    SalesforceApiError,
    SalesforceError,
    is_permission_refusal,
)
from tap_salesforce_bulk.salesforce.rest import (
    QUERY_URI_MAX_BYTES,
    identity,
    query_total_size,
    record_counts,
)
from tap_salesforce_bulk.soql import count_query
from tap_salesforce_bulk.streams import SObjectStream

# The whole-pipeline rate measured by tests/benchmarks/pipeline.py (meltano run of 600,000 Contacts,
# 2 cores: 13,665 records/s); see the README's Figures.
BENCHMARK_RECORDS_PER_SECOND = 13_000
SAMPLE_RECORDS = 3
SAMPLE_FIELDS_SHOWN = 6


def run_preflight(
    runtime: SyncRuntime,
    selected_objects: Callable[[], Sequence[SObjectStream]],
    emit: Callable[[str], None] = print,
) -> int:
    """Print the checks; 0 when all passed, 1 otherwise (with the reason).

    ``selected_objects`` is called after the login check (listing streams runs describe).
    """
    try:
        _run(runtime, selected_objects, emit)
    except (SalesforceError, ConfigValidationError) as exc:
        emit(f"FAILED: {exc}")
        return 1
    emit("Preflight passed.")
    return 0


def _run(
    runtime: SyncRuntime,
    selected_objects: Callable[[], Sequence[SObjectStream]],
    emit: Callable[[str], None],
) -> None:
    client = runtime.client
    session = runtime.auth.session
    emit(f"Login: OK ({runtime.auth.flow.value} flow) to {session.instance_url}")
    user = identity(client, session.identity_url)
    emit(
        "User: "
        + ", ".join(
            f"{label} {value}"
            for label, value in (
                ("username", user.get("username") or session.username),
                ("user id", user.get("user_id") or session.user_id),
                ("org id", user.get("organization_id") or session.organization_id),
            )
            if value
        )
    )
    allocations = runtime.guard.read()
    if runtime.guard.refusal:
        emit(
            f"Limits: /limits was refused ({runtime.guard.refusal}; it needs the View Setup and "
            "Configuration permission): DailyApiRequests comes from the Sforce-Limit-Info header, "
            "the Bulk API 2.0 allocations cannot be checked"
        )
    for allocation in allocations.values():
        emit(
            f"Limit {allocation.name}: {allocation.remaining:,} of {allocation.maximum:,} left "
            f"({allocation.used_percent:.0f}% used; the tap stops at "
            f"{runtime.settings.max_api_usage_percent:g}%)"
        )
    streams = selected_objects()
    names = [s.name for s in streams]
    counts = _record_counts(client, names, emit)
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
        records = list(stream.sample_records(SAMPLE_RECORDS))
        took = time.monotonic() - started
        fields, left_out = stream.sample_fields(SAMPLE_RECORDS)
        narrowed = (
            f"; {left_out:,} of {len(fields) + left_out:,} selected fields left out of the sample "
            f"to keep its URL under {QUERY_URI_MAX_BYTES:,} bytes"
            if left_out
            else ""
        )
        emit(f"Sample of {stream.name} ({len(records)} records in {took:.2f} s{narrowed}):")
        for record in records:
            shown = dict(list(record.items())[:SAMPLE_FIELDS_SHOWN])
            emit(f"  {shown}")


def _record_counts(
    client: SalesforceClient, names: list[str], emit: Callable[[str], None]
) -> dict[str, int]:
    """Counts from ``/limits/recordCount``; for a user without View Setup and Configuration, from
    ``SELECT COUNT()`` per object (exact, one query each).
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_record_count.htm
    """
    try:
        return record_counts(client, names)
    except SalesforceApiError as exc:
        if not is_permission_refusal(exc):
            raise
        failure = exc.failure
        emit(
            f"Record counts: /limits/recordCount was refused (HTTP {failure.status} "
            f"{failure.error_code or ''}; it needs the View Setup and Configuration permission): "
            "counting with SELECT COUNT() instead"
        )
    counts: dict[str, int] = {}
    for name in names:
        try:
            counts[name] = query_total_size(client, count_query(name, described_objects=names))
        except SalesforceApiError as exc:  # an object REST cannot count: shown as unknown
            emit(f"Object {name}: SELECT COUNT() failed ({exc})")
    return counts
