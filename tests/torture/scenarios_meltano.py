"""The same tortures through the real ``meltano run``: Meltano keeps the state between runs.

A rerun is simply ``meltano run`` again with the same state id, as a user or scheduler would do;
Meltano must have kept the STATE the target printed before the failure.
"""

from __future__ import annotations

import random
import uuid
import zlib
from collections.abc import Callable, Sequence

from tests.fake_salesforce import faults
from tests.torture.common import (
    JOBS_WITH_WINDOWS,
    WINDOW_DAYS_FIVE_JOBS,
    contacts,
    emulator,
    in_lane,
    make_plan,
)
from tests.torture.context import Context
from tests.torture.lanes import BatchLedger, Lane, describe_left
from tests.torture.meltano import MeltanoRun, settings_env
from tests.torture.outcome import Outcome
from tests.torture.pipeline import Running, Trigger
from tests.torture.scenario import Scenario
from tests.torture.sync import Plan, Sync, error_lines

FAMILY = "meltano run"


def meltano_env(plan: Plan) -> dict[str, str]:
    """The plan's tap and target configs as Meltano environment variables."""
    return {
        **settings_env("TAP_SALESFORCE_BULK", plan.tap_config),
        **settings_env("TARGET_POSTGRES_UPSERT", plan.target_config),
    }


def meltano_converge(
    ctx: Context,
    name: str,
    seed: int,
    plan: Plan,
    outcome: Outcome,
    *,
    triggers: Sequence[Trigger] = (),
    heal: Callable[[], str | None] | None = None,
    max_failed_reruns: int = 0,
    lane: Lane | None = None,
) -> list[MeltanoRun]:
    """``meltano run`` until it succeeds (at most the reruns allowed), then compare.

    In the batch lane (``lane``), the plan is put in it with its storage root in the scenario's
    directory; a run that succeeds must leave none of its own files there.
    """
    directory = ctx.directory(name, seed)
    in_lane(plan, lane, directory, random.Random(seed))
    project = ctx.meltano(parquet=lane is not None and lane.encoding.get("format") == "parquet")
    state_suffix = f"torture-{uuid.uuid4().hex[:12]}"
    env = meltano_env(plan)
    runs: list[MeltanoRun] = []
    ledger = BatchLedger(plan.batch_root) if plan.batch_root else None
    while True:
        if ledger:
            ledger.start_run()
        run = project.run(directory / f"run{len(runs) + 1}", state_suffix, env, triggers)
        triggers = ()
        runs.append(run)
        outcome.runs += 1
        outcome.notes += run.notes
        if ledger:  # no tee under meltano: only the files left are checked
            outcome.problems += ledger.check_run(run.ok, None)
        if run.ok:
            break
        errors = error_lines(run.stderr.read_text(errors="replace"))
        outcome.notes.append(f"meltano run {len(runs)} exited {run.returncode}: {errors[-1:]}")
        if heal is not None and (note := heal()):
            outcome.notes.append(note)
        if max_failed_reruns <= 0:
            outcome.fail(f"meltano run {len(runs)} failed and no more reruns were expected")
            break
        max_failed_reruns -= 1
    outcome.reruns += len(runs) - 1
    if ledger:
        outcome.batch_files_left = len(ledger.left())
        outcome.notes.append(describe_left(ledger.left()))
    comparison = Sync(ctx, directory, plan, outcome).compare()
    outcome.rows_expected = comparison.rows_expected
    outcome.rows_found = comparison.rows_found
    outcome.problems += comparison.summary()
    return runs


def fault(kind: str, lane: Lane | None = None) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
            tap: dict[str, object] = {"max_api_usage_percent": 100}
            reruns = 0
            if kind == "http503":
                sf.inject(faults.HttpError(on="results", nth=5, status=503))
            elif kind == "token-expiry":
                sf.inject(faults.ExpireToken(on="results", nth=5))
            else:  # a job fails in the middle window: Meltano must keep the windows before it
                tap["window_days"] = WINDOW_DAYS_FIVE_JOBS
                sf.inject(faults.JobFails(nth=(JOBS_WITH_WINDOWS + 1) // 2))
                reruns = 1
            plan = make_plan(sf, schema, ctx.database_url, flow="jwt", tap=tap)
            runs = meltano_converge(
                ctx, f"meltano-{kind}", seed, plan, outcome, max_failed_reruns=reruns, lane=lane
            )
            if kind == "job-fails" and len(runs) != 2:
                outcome.fail(f"{len(runs)} meltano runs; expected a failed one and a rerun")

    name = f"meltano run: {kind} on the middle page or job"
    return Scenario(lane.title(name) if lane else name, FAMILY, run, (91,))


def crash(
    victim: str, lane: Lane | None = None, full_seeds: tuple[int, ...] = (1, 2, 3)
) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(zlib.crc32(f"meltano:{victim}:{seed}".encode()))
        with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
            tap = {"page_size": rng.choice((100, 250)), "include_deleted": rng.random() < 0.5}
            target = {"batch_size_rows": rng.choice((100, 400))}
            plan = make_plan(sf, schema, ctx.database_url, flow="jwt", tap=tap, target=target)
            rows = rng.randrange(0, contacts(ctx))
            outcome.notes.append(f"tap {tap}, target {target}, kill after {rows} rows served")

            def kill(running: Running) -> str:
                return running.kill(victim)

            trigger = Trigger(kill, when=lambda: int(sf.counters["rows_served"]) >= max(1, rows))
            meltano_converge(
                ctx,
                f"meltano-kill-{victim}",
                seed,
                plan,
                outcome,
                triggers=[trigger],
                max_failed_reruns=2,
                lane=lane,
            )

    name = f"meltano run: SIGKILL {victim} at a random moment, rerun"
    return Scenario(
        lane.title(name) if lane else name,
        FAMILY,
        run,
        full_seeds=full_seeds,
        quick_seeds=(1,) if victim == "tap" and lane is None else (),
    )


SCENARIOS: list[Scenario] = [
    *(fault(kind) for kind in ("http503", "token-expiry", "job-fails")),
    crash("tap"),
    crash("target"),
]
