"""Runs of one scenario the way a user would make them, until the table matches Salesforce.

A user reruns a failed or killed sync from the last STATE line the target printed (or from the
state they started with, if it printed none), after fixing what stopped it (``heal``: a limit
lifted, PostgreSQL restarted). A run that exits 0 should leave an exact copy; only scenarios
whose records change while a job runs get catch-up runs, as the next scheduled run would be.
After every failed run the last STATE the target printed is checked against the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.torture.claims import state_claim_problems
from tests.torture.compare import Comparison, compare_table, salesforce_types
from tests.torture.context import Context
from tests.torture.lanes import BatchLedger, describe_left
from tests.torture.outcome import Outcome
from tests.torture.pipeline import PipelineRun, Trigger, run_pipeline

ERROR_LINE = re.compile(r"\| (ERROR|CRITICAL) ")


@dataclass
class Plan:
    """One scenario's pipeline: the emulator, the configs, where the table lives."""

    sf: FakeSalesforce
    schema: str
    database_url: str
    tap_config: dict[str, Any]
    target_config: dict[str, Any]
    stale_ok: set[str] = field(default_factory=set)
    field_types: dict[str, str] | None = None
    batch_root: Path | None = None  # the batch lane's storage root (None: the record lane)

    @property
    def include_deleted(self) -> bool:
        """The tap emits deleted records (queryAll)."""
        return bool(self.tap_config.get("include_deleted"))

    @property
    def hard_delete(self) -> bool:
        """The target deletes rows of deleted records instead of marking them."""
        return bool(self.target_config.get("hard_delete"))


def error_lines(text: str) -> list[str]:
    """Log lines at ERROR level or above."""
    return [line for line in text.splitlines() if ERROR_LINE.search(line)]


class Sync:
    """Runs of one plan, with the state carried from run to run."""

    def __init__(self, ctx: Context, directory: Path, plan: Plan, outcome: Outcome) -> None:
        self.ctx = ctx
        self.directory = directory
        self.plan = plan
        self.outcome = outcome
        self.state: Any = None
        self.runs: list[PipelineRun] = []
        self.ledger = BatchLedger(plan.batch_root) if plan.batch_root else None

    @property
    def batch_archive(self) -> Path | None:
        """Where the batch tee keeps links to the files BATCH messages named (batch lane)."""
        return self.directory / "batch-archive" if self.ledger else None

    def run(self, triggers: Sequence[Trigger] = (), *, counted: bool = True) -> PipelineRun:
        """One ``tap | target`` run from the current state; the state follows the target.

        ``counted=False`` for a scenario's setup (a first full sync before the tortured one).
        """
        if self.ledger:
            self.ledger.start_run()
        run = run_pipeline(
            self.directory / f"run{len(self.runs) + 1}",
            self.plan.tap_config,
            self.plan.target_config,
            state=self.state,
            triggers=list(triggers),
            batch_archive=self.batch_archive,
        )
        if self.ledger:
            self.outcome.problems += self.ledger.check_run(run.ok, run.tap_out)
        self.runs.append(run)
        self.outcome.runs += counted
        self.outcome.notes += run.notes
        states = run.target_states
        if states:
            self.state = states[-1]
        if run.timed_out:
            self.outcome.fail(f"run {len(self.runs)} hung and was killed: {run.notes[-1]}")
        return run

    def compare(self) -> Comparison:
        """The table against the emulator's current data."""
        plan = self.plan
        soft = plan.include_deleted and not plan.hard_delete
        truth = plan.sf.truth("Contact", include_deleted=soft)
        types = plan.field_types or salesforce_types(plan.sf)
        conn = self.ctx.connect(plan.database_url)
        try:
            return compare_table(
                conn, plan.schema, truth, types, soft_deletes=soft, stale_ok=plan.stale_ok
            )
        finally:
            conn.close()

    def claim_problems(self, run: PipelineRun) -> list[str]:
        """Rows the last STATE printed in ``run`` vouched for that are not in the table."""
        conn = self.ctx.connect(self.plan.database_url)
        try:
            return state_claim_problems(
                conn,
                self.plan.schema,
                run.tap_out,
                run.target_states,
                hard_delete=self.plan.hard_delete,
                batch_archive=self.batch_archive,
            )
        finally:
            conn.close()


def describe_failure(run: PipelineRun) -> str:
    """Exit codes and the last error line, for notes and problems."""
    codes = ", ".join(f"{name} {rc}" for name, rc in run.returncodes.items())
    errors = error_lines(run.stderr("tap")) + error_lines(run.stderr("target"))
    return f"exit codes {codes}" + (f"; {errors[-1][-300:]}" if errors else "")


def converge(
    sync: Sync,
    *,
    triggers: Sequence[Trigger] = (),
    heal: Callable[[], str | None] | None = None,
    max_failed_reruns: int = 0,
    catch_up_runs: int = 0,
    on_failure: Callable[[PipelineRun], list[str]] | None = None,
) -> Comparison:
    """Run, rerun as a user would, then record the final comparison in the outcome.

    ``max_failed_reruns``: reruns allowed after runs that fail (a fault that stops the tap, a
    kill); a transient fault that the tap should ride out allows none. ``catch_up_runs``: further
    runs allowed after a run that succeeded but left the table behind Salesforce.
    ``on_failure`` checks a failed run's output (e.g. a clear error line).
    """
    outcome = sync.outcome
    run = sync.run(triggers)
    first = len(sync.runs)
    while True:
        if run.ok:
            comparison = sync.compare()
            if comparison.exact or catch_up_runs <= 0:
                break
            catch_up_runs -= 1
        else:
            outcome.notes.append(f"run {len(sync.runs)} failed: {describe_failure(run)}")
            if on_failure is not None:
                outcome.problems += on_failure(run)
            if heal is not None and (note := heal()):
                outcome.notes.append(note)
            outcome.problems += sync.claim_problems(run)
            if max_failed_reruns <= 0:
                outcome.fail(
                    f"run {len(sync.runs)} failed and no more reruns were expected: "
                    f"{describe_failure(run)}"
                )
                comparison = sync.compare()
                break
            max_failed_reruns -= 1
        run = sync.run()
    outcome.reruns += len(sync.runs) - first
    if sync.ledger:
        left = sync.ledger.left()
        outcome.batch_files_left = len(left)
        outcome.notes.append(describe_left(left))
    outcome.rows_expected = comparison.rows_expected
    outcome.rows_found = comparison.rows_found
    outcome.problems += comparison.summary()
    return comparison
