"""Records updated, inserted and deleted in Salesforce while a sync runs.

A job reads a snapshot, so changes made after it started are read by the next run: the run itself
must succeed, and one catch-up run (the next scheduled sync) must make the table exact. Seeds
alternate between reading deletes (soft or hard in the target) and not reading them (rows of
deleted records then stay as they were, which the comparison allows for those ids only).
"""

from __future__ import annotations

import random
import threading
import time

from tests.torture.common import change_records, contacts, emulator, make_plan, seeded_flow
from tests.torture.context import Context
from tests.torture.outcome import Outcome
from tests.torture.pipeline import Running, Trigger
from tests.torture.scenario import Scenario
from tests.torture.sync import Sync, converge

FAMILY = "salesforce faults"
JOB_PROCESSING_SECONDS = 1.0  # long enough for changes to land while the job is in progress
CHURN_PAUSE_SECONDS = 0.1
# Where the changes land: a fraction of the run's records, or "job" (once a job exists).
MOMENTS = {"job": None, "early": 0.05, "middle": 0.5, "late": 0.95}


def _deletes_mode(seed: int) -> tuple[dict[str, object], dict[str, object]]:
    include_deleted = seed % 3 != 0
    return {"include_deleted": include_deleted}, {"hard_delete": include_deleted and seed % 2 == 0}


def _changes_at(moment: str, seed: int) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(seed)
        count = contacts(ctx)
        with (
            emulator(seed, count, job_processing_seconds=JOB_PROCESSING_SECONDS) as sf,
            ctx.schema() as schema,
        ):
            tap, target = _deletes_mode(seed)
            plan = make_plan(
                sf, schema, ctx.database_url, flow=seeded_flow(seed), tap=tap, target=target
            )
            outcome.notes.append(f"tap {tap}, target {target}")

            def change(running: Running) -> str:
                return change_records(sf, rng, plan, updates=60, inserts=20, deletes=15)

            fraction = MOMENTS[moment]
            if fraction is None:
                trigger = Trigger(change, when=lambda: sf.counters["jobs_created"] >= 1)
            else:
                trigger = Trigger(change, after_lines=max(1, int(count * fraction)))
            sync = Sync(ctx, ctx.directory(f"changes-{moment}", seed), plan, outcome)
            converge(sync, triggers=[trigger], catch_up_runs=1)

    where = "once the job exists" if moment == "job" else f"at {moment} paging"
    return Scenario(
        f"records change {where}",
        FAMILY,
        run,
        full_seeds=(seed,),
        quick_seeds=(seed,) if moment == "middle" else (),
    )


def _churn(ctx: Context, seed: int, outcome: Outcome) -> None:
    """A thread keeps changing records for as long as the tap runs."""
    rng = random.Random(seed)
    with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
        tap, target = _deletes_mode(seed)
        plan = make_plan(
            sf, schema, ctx.database_url, flow=seeded_flow(seed), tap=tap, target=target
        )
        outcome.notes.append(f"tap {tap}, target {target}")
        rounds = 0

        def start(running: Running) -> str:
            def loop() -> None:
                nonlocal rounds
                while running.processes["tap"].poll() is None:
                    change_records(sf, rng, plan, updates=5, inserts=2, deletes=1)
                    rounds += 1
                    time.sleep(CHURN_PAUSE_SECONDS)

            threading.Thread(target=loop, name="churn", daemon=True).start()
            return "churn started"

        sync = Sync(ctx, ctx.directory("churn", seed), plan, outcome)
        converge(sync, triggers=[Trigger(start, after_seconds=0.0)], catch_up_runs=1)
        outcome.notes.append(f"{rounds} rounds of changes during the first run")


SCENARIOS: list[Scenario] = [
    *(_changes_at(moment, 61 + i) for i, moment in enumerate(MOMENTS)),
    Scenario("records change all through the run (churn thread)", FAMILY, _churn, (66, 67)),
]
