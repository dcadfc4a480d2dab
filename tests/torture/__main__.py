"""``python -m tests.torture [--quick] [--only TEXT] [--keep]``: run the suite, print the table.

Exit status 0 only if every scenario passed.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.torture.context import Context
from tests.torture.outcome import Outcome, batch_files_report, failure_report, markdown_table
from tests.torture.scenario import FULL, QUICK, execute, select
from tests.torture.scenarios import ALL


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios and print the Markdown report."""
    parser = argparse.ArgumentParser(prog="python -m tests.torture", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the CI subset, smaller data")
    parser.add_argument("--only", help="run scenarios whose name contains this text")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--list", action="store_true", help="list scenarios and seeds")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    scenarios = select(ALL, mode, args.only)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name}: seeds {list(scenario.seeds(mode))}")
        return 0
    ctx = Context(quick=args.quick)
    started = time.monotonic()
    outcomes: list[Outcome] = []
    try:
        for scenario in scenarios:
            for seed in scenario.seeds(mode):
                outcome = execute(scenario, ctx, seed)
                outcomes.append(outcome)
                status = "ok" if outcome.passed else f"FAILED ({len(outcome.problems)} problems)"
                print(
                    f"[{time.monotonic() - started:7.1f}s] {scenario.name} seed {seed}: "
                    f"{status}, {outcome.runs} runs, {outcome.seconds:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"work directory kept: {ctx.workdir}", file=sys.stderr)
        else:
            ctx.close()
    elapsed = time.monotonic() - started
    print(markdown_table(outcomes))
    if leftovers := batch_files_report(outcomes):
        print("\nBatch files left in the storage root at the end:\n\n" + leftovers)
    failures = failure_report(outcomes)
    if failures:
        print("\n### Failures\n\n" + failures)
    print(
        f"\n{len(outcomes)} scenario runs in {elapsed / 60:.1f} min; "
        f"{sum(not o.passed for o in outcomes)} failed."
    )
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
