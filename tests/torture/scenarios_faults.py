"""Salesforce faults at the early, middle and last page or job.

Transient faults (5xx, 429, a dropped connection, a slow or short page, a token expiring) must be
ridden out inside one run: no rerun allowed. Faults that end a job (Failed, never finishing, the
daily job limit) must stop the run with one clear error line, and one rerun after the cause is
gone must converge.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from tests.fake_salesforce import faults
from tests.torture.common import (
    JOBS_WITH_WINDOWS,
    WINDOW_DAYS_FIVE_JOBS,
    contacts,
    emulator,
    in_lane,
    make_plan,
    pages_of,
    point_nth,
    seeded_flow,
)
from tests.torture.context import Context
from tests.torture.lanes import Lane
from tests.torture.outcome import Outcome
from tests.torture.pipeline import PipelineRun
from tests.torture.scenario import Scenario
from tests.torture.sync import Sync, converge, error_lines

POINTS = ("early", "middle", "last")
FAMILY = "salesforce faults"
SLOW_PAGE_SECONDS = 3.0
STUCK_MAX_WAIT_SECONDS = 3

# The CI subset: one fault that breaks a body, one that needs a new login, two that stop a job.
QUICK_PAGE_FAULTS = {"dropped-connection", "token-expiry"}
QUICK_JOB_FAULTS = {"job-fails", "daily-job-limit"}

FaultMaker = Callable[[int, random.Random], faults.Fault]

PAGE_FAULTS: dict[str, FaultMaker] = {
    "http500": lambda nth, rng: faults.HttpError(
        on="results", nth=nth, status=500, error_code="UNKNOWN_EXCEPTION", message="injected"
    ),
    "http503": lambda nth, rng: faults.HttpError(on="results", nth=nth, status=503),
    "http429-retry-after": lambda nth, rng: faults.RateLimited(
        on="results", nth=nth, times=2, retry_after_seconds=1
    ),
    "dropped-connection": lambda nth, rng: faults.DropConnection(
        on="results", nth=nth, after_bytes=rng.randrange(0, 60_000)
    ),
    "slow-page": lambda nth, rng: faults.Slow(
        on="results", nth=nth, seconds=SLOW_PAGE_SECONDS, during_body=True
    ),
    "token-expiry": lambda nth, rng: faults.ExpireToken(on="results", nth=nth),
}


def one_clear_error(pattern: str, process: str = "tap") -> Callable[[PipelineRun], list[str]]:
    """A failed run must say why in an ERROR line matching ``pattern``, without a traceback."""

    def check(run: PipelineRun) -> list[str]:
        text = run.stderr(process)
        problems = []
        if "Traceback" in text:
            problems.append(f"{process} printed a traceback")
        matching = [line for line in error_lines(text) if re.search(pattern, line)]
        if not matching:
            last = error_lines(text)[-1:] or text.strip().splitlines()[-1:]
            problems.append(f"no {process} error line matching {pattern!r}; last: {last}")
        return problems

    return check


def page_fault(
    kind: str, point: str, lane: Lane | None = None, quick_seeds: tuple[int, ...] | None = None
) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(seed)
        with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
            downloads = rng.choice((1, 3))  # streamed from the socket, or spooled ahead
            plan = make_plan(
                sf,
                schema,
                ctx.database_url,
                flow=seeded_flow(seed),
                tap={"max_parallel_downloads": downloads},
            )
            directory = ctx.directory(kind, seed)
            in_lane(plan, lane, directory, rng)
            pages = pages_of(sum(1 for _ in sf.truth("Contact")))
            sf.inject(PAGE_FAULTS[kind](point_nth(point, pages), rng))
            outcome.notes.append(f"{pages} pages, max_parallel_downloads {downloads}")
            converge(Sync(ctx, directory, plan, outcome))
            if not sf.counters["faults_fired"]:
                outcome.fail("the fault never fired")

    name = f"{kind} on {point} page"
    if quick_seeds is None:
        quick_seeds = (12,) if point == "middle" and kind in QUICK_PAGE_FAULTS else ()
    return Scenario(
        lane.title(name) if lane else name,
        FAMILY,
        run,
        # One seed per point, each a different login flow and page mode.
        full_seeds=(11 + POINTS.index(point),),
        quick_seeds=quick_seeds,
    )


def job_fault(kind: str, point: str, lane: Lane | None = None) -> Scenario:
    nth = point_nth(point, JOBS_WITH_WINDOWS)

    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
            tap = {"window_days": WINDOW_DAYS_FIVE_JOBS, "max_api_usage_percent": 100}
            heal: Callable[[], str | None] | None = None
            if kind == "job-fails":
                sf.inject(faults.JobFails(nth=nth))
                check = one_clear_error(r"Bulk query job 750\w+ ended Failed")
            elif kind == "job-never-finishes":
                sf.inject(faults.JobStuck(nth=nth))
                tap["max_wait_time"] = STUCK_MAX_WAIT_SECONDS
                check = one_clear_error(r"max_wait_time")
            else:  # the org's daily Bulk query jobs run out before job nth
                sf.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=nth - 1)

                def heal() -> str:
                    sf.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=10_000)
                    return "daily job limit lifted"

                check = one_clear_error(r"DailyBulkV2QueryJobs|LIMIT_EXCEEDED|query jobs")
            plan = make_plan(sf, schema, ctx.database_url, flow=seeded_flow(seed), tap=tap)
            directory = ctx.directory(kind, seed)
            in_lane(plan, lane, directory, random.Random(seed))
            sync = Sync(ctx, directory, plan, outcome)
            converge(sync, heal=heal, max_failed_reruns=1, on_failure=check)
            if len(sync.runs) < 2:
                outcome.fail(f"the first run did not stop at job {nth}")

    name = f"{kind} at {point} job (of {JOBS_WITH_WINDOWS} windows)"
    quick = point == "middle" and kind in QUICK_JOB_FAULTS and lane is None
    return Scenario(
        lane.title(name) if lane else name,
        FAMILY,
        run,
        full_seeds=(21,),
        quick_seeds=(21,) if quick else (),
    )


def _quota_guard(ctx: Context, seed: int, outcome: Outcome) -> None:
    """The tap's own guard stops before the org's limit, with state a rerun resumes from."""
    with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
        sf.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=1_000)

        def heal() -> str:
            sf.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=10_000)
            return "daily job limit lifted"

        plan = make_plan(sf, schema, ctx.database_url, tap={"window_days": WINDOW_DAYS_FIVE_JOBS})
        converge(
            Sync(ctx, ctx.directory("quota-guard", seed), plan, outcome),
            heal=heal,
            max_failed_reruns=1,
            on_failure=one_clear_error(r"DailyBulkV2QueryJobs has 1,000 of 10,000 left"),
        )


SCENARIOS: list[Scenario] = [
    *(page_fault(kind, point) for kind in PAGE_FAULTS for point in POINTS),
    *(
        job_fault(kind, point)
        for kind in ("job-fails", "job-never-finishes", "daily-job-limit")
        for point in POINTS
    ),
    Scenario("quota guard at 80% of daily jobs", FAMILY, _quota_guard, full_seeds=(31,)),
]
