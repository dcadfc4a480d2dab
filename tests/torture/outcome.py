"""What one scenario run found, and the Markdown table that sums scenarios up.

A scenario passes only when ``problems`` is empty: every data mismatch, STATE that claimed an
uncommitted row, missing or unclear error line, and leaked secret is one problem.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

PROBLEMS_SHOWN_PER_FAILURE = 8


@dataclass
class Outcome:
    """The result of one scenario with one seed."""

    scenario: str
    seed: int
    runs: int = 0  # tap/target (or meltano) runs made, setup runs excluded
    reruns: int = 0  # of those, runs a user had to make again after a failure or to catch up
    rows_expected: int = 0
    rows_found: int = 0
    problems: list[str] = field(default_factory=list)
    secrets_found: int | None = None  # None: the scenario does not look for secrets
    batch_files_left: int | None = None  # in the storage root at the end; None: record lane
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Exact match and no other problem."""
        return not self.problems

    def fail(self, problem: str) -> None:
        """Record one problem."""
        self.problems.append(problem)


@dataclass
class _Row:
    scenario: str
    seeds: int = 0
    runs: int = 0
    reruns: list[int] = field(default_factory=list)
    expected: int = 0
    found: int = 0
    mismatches: int = 0
    secrets: int | None = None
    failed_seeds: list[int] = field(default_factory=list)


def _reruns_text(reruns: list[int]) -> str:
    low, high = min(reruns), max(reruns)
    return str(low) if low == high else f"{low}-{high} (total {sum(reruns)})"


def markdown_table(outcomes: Iterable[Outcome]) -> str:
    """One line per scenario (its seeds summed): runs, reruns, rows, mismatches, secrets."""
    rows: dict[str, _Row] = {}
    for outcome in outcomes:
        row = rows.setdefault(outcome.scenario, _Row(outcome.scenario))
        row.seeds += 1
        row.runs += outcome.runs
        row.reruns.append(outcome.reruns)
        row.expected += outcome.rows_expected
        row.found += outcome.rows_found
        row.mismatches += len(outcome.problems)
        if outcome.secrets_found is not None:
            row.secrets = (row.secrets or 0) + outcome.secrets_found
        if not outcome.passed:
            row.failed_seeds.append(outcome.seed)
    lines = [
        "| scenario | runs | reruns needed | rows expected | rows found | mismatches | secrets found |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows.values():
        name = row.scenario + (f" ({row.seeds} seeds)" if row.seeds > 1 else "")
        if row.failed_seeds:
            name += f" **FAILED** (seeds {', '.join(map(str, row.failed_seeds))})"
        name = name.replace("|", "\\|")  # a pipe in a name would end the Markdown cell
        secrets = "-" if row.secrets is None else str(row.secrets)
        lines.append(
            f"| {name} | {row.runs} | {_reruns_text(row.reruns)} | {row.expected:,} | "
            f"{row.found:,} | {row.mismatches} | {secrets} |"
        )
    return "\n".join(lines)


def failure_report(outcomes: Iterable[Outcome]) -> str:
    """The problems of every failed scenario run, a few lines each."""
    lines: list[str] = []
    for outcome in outcomes:
        if outcome.passed:
            continue
        lines.append(f"- **{outcome.scenario}** seed {outcome.seed}:")
        lines += [f"  - {p}" for p in outcome.problems[:PROBLEMS_SHOWN_PER_FAILURE]]
        hidden = len(outcome.problems) - PROBLEMS_SHOWN_PER_FAILURE
        if hidden > 0:
            lines.append(f"  - ... and {hidden} more")
    return "\n".join(lines)


def batch_files_report(outcomes: Iterable[Outcome]) -> str:
    """Batch-lane scenarios that ended with files in their storage root (left by killed runs:
    a successful run that leaves its own files is a problem of its scenario): files and seeds;
    empty if no scenario ran in the batch lane."""
    left: dict[str, list[int]] = {}
    for outcome in outcomes:
        if outcome.batch_files_left is not None:
            left.setdefault(outcome.scenario, []).append(outcome.batch_files_left)
    if not left:
        return ""
    clean = [name for name, counts in left.items() if not any(counts)]
    lines = []
    if len(clean) < len(left):
        lines += [
            "| batch scenario | seeds | files left at the end | seeds with files left |",
            "|---|---:|---:|---:|",
        ]
    for scenario, counts in left.items():
        if scenario in clean:
            continue
        name = scenario.replace("|", "\\|")
        with_files = sum(1 for c in counts if c)
        lines.append(f"| {name} | {len(counts)} | {sum(counts)} | {with_files} |")
    if lines:
        lines.append(f"\n{len(clean)} other batch scenarios left no file.")
    else:
        lines.append(f"{len(clean)} batch scenarios left no file.")
    return "\n".join(lines)
