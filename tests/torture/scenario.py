"""A scenario: a name, a function of (context, seed) that returns an Outcome, and its seeds."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tests.torture.context import Context
from tests.torture.outcome import Outcome

QUICK = "quick"
FULL = "full"


@dataclass(frozen=True)
class Scenario:
    """One named scenario, run once per seed."""

    name: str
    family: str
    run: Callable[[Context, int, Outcome], None]
    full_seeds: tuple[int, ...] = (1,)
    quick_seeds: tuple[int, ...] = ()
    known_defect: str | None = None  # why it is expected to fail (reported, never hidden)
    tags: frozenset[str] = field(default_factory=frozenset)

    def seeds(self, mode: str) -> tuple[int, ...]:
        """The seeds this scenario runs with in ``mode`` (quick or full)."""
        return self.quick_seeds if mode == QUICK else self.full_seeds


def execute(scenario: Scenario, ctx: Context, seed: int) -> Outcome:
    """Run one scenario with one seed; a harness error becomes a problem, not a crash."""
    outcome = Outcome(scenario.name, seed)
    started = time.monotonic()
    try:
        scenario.run(ctx, seed, outcome)
    except Exception as exc:  # reported as the scenario's problem
        last = traceback.format_exception(exc)[-3:]
        outcome.fail(f"harness error: {exc!r} at {''.join(last).strip()[-600:]}")
    outcome.seconds = time.monotonic() - started
    return outcome


def select(scenarios: Iterable[Scenario], mode: str, only: str | None = None) -> list[Scenario]:
    """The scenarios that run in ``mode`` whose name contains ``only``."""
    return [s for s in scenarios if s.seeds(mode) and (only is None or only in s.name)]
