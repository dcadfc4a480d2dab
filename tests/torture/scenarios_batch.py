"""The SIGKILL and fault families again in the batch lane (the tap's ``batch_config``).

Same scenarios, same exact-table and STATE-claim checks as the record lane (``lanes.py`` adds
the batch lane's own), named "batch parquet: ..." or "batch jsonl.gz: ...". Parquet gets the
whole fault family (every page fault at the early, middle and last page, broken and short
pages, a failed and a stuck job) and 8 seeds per SIGKILL victim (the record lane: 20); jsonl.gz,
whose rows go through the record lane's code in both plugins (the tap's record builder, the
target's record path), gets the middle page of each fault and 3 seeds per victim. Under
``meltano run``: the tap and the target killed (parquet), a failed job (jsonl.gz).
"""

from __future__ import annotations

from tests.torture import scenarios_crash, scenarios_faults, scenarios_meltano, scenarios_tap_input
from tests.torture.lanes import JSONL_GZ, PARQUET, Lane
from tests.torture.scenario import Scenario
from tests.torture.scenarios_faults import PAGE_FAULTS, POINTS

PARQUET_CRASH_SEEDS = tuple(range(1, 9))
JSONL_CRASH_SEEDS = (1, 2, 3)
# The CI subset: a page broken mid-body and a target killed mid-load, in parquet (a few seconds).
QUICK_PAGE_FAULT = ("dropped-connection", "middle")
QUICK_CRASH_VICTIM = "target"
QUICK_CRASH_SEED = 9  # quick mode: the target is killed after 18 tap lines, mid-run


def _quick(lane: Lane, chosen: bool, seed: int) -> tuple[int, ...]:
    """The quick seed of a scenario in the CI subset (parquet only), else none."""
    return (seed,) if chosen and lane is PARQUET else ()


def _faults(lane: Lane, points: tuple[str, ...]) -> list[Scenario]:
    page = [
        scenarios_faults.page_fault(
            k, p, lane, quick_seeds=_quick(lane, (k, p) == QUICK_PAGE_FAULT, 12)
        )
        for k in PAGE_FAULTS
        for p in points
    ]
    broken = [
        scenarios_tap_input.broken_page(kind, point, persistent=persistent, lane=lane)
        for kind, persistent in (
            ("malformed CSV", False),
            ("short page", False),
            ("short page", True),
        )
        for point in points
    ]
    jobs = [
        scenarios_faults.job_fault(kind, "middle", lane)
        for kind in ("job-fails", "job-never-finishes")
    ]
    return [*page, *broken, *jobs]


def _crashes(lane: Lane, seeds: tuple[int, ...]) -> list[Scenario]:
    return [
        scenarios_crash.crash(
            v, lane, seeds, _quick(lane, v == QUICK_CRASH_VICTIM, QUICK_CRASH_SEED)
        )
        for v in ("tap", "target", "postgres")
    ]


SCENARIOS: list[Scenario] = [
    *_faults(PARQUET, POINTS),
    *_faults(JSONL_GZ, ("middle",)),
    *_crashes(PARQUET, PARQUET_CRASH_SEEDS),
    *_crashes(JSONL_GZ, JSONL_CRASH_SEEDS),
    scenarios_meltano.crash("tap", PARQUET, full_seeds=(1, 2)),
    scenarios_meltano.crash("target", PARQUET, full_seeds=(1,)),
    scenarios_meltano.fault("job-fails", JSONL_GZ),
]
