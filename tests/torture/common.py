"""Building blocks shared by scenarios: the emulator, tap and target configs, a plan per run.

Data sets are small and pages smaller, so a few thousand Contacts make many pages: every page
boundary, retry and resume path is crossed in seconds.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import tap_config
from tests.torture.context import Context
from tests.torture.lanes import Lane, batch_config
from tests.torture.sync import Plan

CONTACTS_FULL = 3_000
CONTACTS_QUICK = 1_200
PAGE_SIZE = 200
ACCOUNTS = 20
JOB_PROCESSING_SECONDS = 0.05
FLOWS = ("password", "jwt", "client_credentials", "refresh_token", "soap")
# Rows per batch file: several files per page, a page and its remainder, one file per page.
BATCH_SIZES = (70, 120, 200, 1_000)
# Five one-year windows over the emulator's data (2022-2024 stamps, "now" late 2026).
WINDOW_DAYS_FIVE_JOBS = 365
JOBS_WITH_WINDOWS = 5


def contacts(ctx: Context) -> int:
    """How many Contacts a scenario's org holds."""
    return CONTACTS_QUICK if ctx.quick else CONTACTS_FULL


@contextlib.contextmanager
def emulator(seed: int, count: int, **kwargs: Any) -> Iterator[FakeSalesforce]:
    """A started emulator with ``count`` Contacts, stopped afterwards."""
    kwargs.setdefault("job_processing_seconds", JOB_PROCESSING_SECONDS)
    sf = FakeSalesforce(contacts=count, accounts=ACCOUNTS, seed=seed, **kwargs).start()
    try:
        yield sf
    finally:
        sf.stop()


def pages_of(count: int, page_size: int = PAGE_SIZE) -> int:
    """How many result pages a full sync of about ``count`` rows makes."""
    return max(1, -(-count // page_size))


def point_nth(point: str, total: int) -> int:
    """The request number (1-based) of the early, middle or last page or job."""
    return {"early": 1, "middle": max(1, (total + 1) // 2), "last": total}[point]


def target_settings(url: str, schema: str, **overrides: Any) -> dict[str, Any]:
    """A target config loading into ``schema`` with small batches, so STATE moves often."""
    return {
        "database_url": url,
        "default_target_schema": schema,
        "batch_size_rows": 500,
        "max_batch_age_seconds": 1,
        **overrides,
    }


def make_plan(
    sf: FakeSalesforce,
    schema: str,
    url: str,
    *,
    flow: str = "password",
    tap: dict[str, Any] | None = None,
    target: dict[str, Any] | None = None,
) -> Plan:
    """A plan with the emulator's credentials for ``flow`` and the given overrides."""
    tap_settings = {"page_size": PAGE_SIZE, **(tap or {})}
    return Plan(
        sf=sf,
        schema=schema,
        database_url=url,
        tap_config=tap_config(sf, flow, **tap_settings),
        target_config=target_settings(url, schema, **(target or {})),
    )


def seeded_flow(seed: int) -> str:
    """A login flow chosen by seed, so faults meet every flow's re-login path."""
    return FLOWS[seed % len(FLOWS)]


def change_records(
    sf: FakeSalesforce, rng: random.Random, plan: Plan, *, updates: int, inserts: int, deletes: int
) -> str:
    """Update, insert and soft-delete Contacts now; deleted ids may linger as stale rows when
    the tap does not read deletes."""
    title = f"changed {rng.randrange(10**6)}"
    updated = sf.update_records("Contact", count=max(updates, deletes), fields={"Title": title})
    sf.insert_records("Contact", inserts)
    # Live rows picked by the emulator, without a full scan of its data.
    doomed = rng.sample(updated, min(deletes, len(updated)))
    sf.delete_records("Contact", doomed)
    plan.stale_ok.update(str(i) for i in doomed)
    return f"{updates} updated, {inserts} inserted, {len(doomed)} deleted"


def in_lane(plan: Plan, lane: Lane | None, directory: Path, rng: random.Random) -> Plan:
    """``plan`` in ``lane`` (None: the record lane, unchanged): batch files of a size drawn by
    ``rng`` in a storage root of the scenario's own."""
    if lane is not None:
        plan.batch_root = directory / "batches"
        size = rng.choice(BATCH_SIZES)
        plan.tap_config["batch_config"] = batch_config(lane, plan.batch_root, size)
    return plan
