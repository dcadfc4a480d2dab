"""What each reconcile pass costs: ``tap-salesforce-bulk | target-postgres-upsert`` over the emulator.

    .venv/bin/python -m tests.benchmarks.reconcile_cost --records 600000

Starts the emulator with N Contacts, loads them (full run), then runs incremental passes from the
saved state, each after its own change in the emulator:

* incremental, nothing to reconcile: the cost every pass below adds to;
* ``reconcile: ["deletes"]`` after purging 0.1% of the Contacts (the tap lists every Id; the
  target marks the rows missing from the list);
* ``reconcile: ["formula_fields"]`` after 1% of the formula values changed without
  SystemModstamp moving (the tap re-reads Id plus the formula fields of every row);
* a field added in Salesforce, plain incremental run (the tap backfills it for every row once).

For each pass: wall seconds of the pipe, Salesforce API calls and Bulk jobs (the emulator's
counters), rows the emulator served, and what the target did (from its log). Prints a Markdown
table. Needs ./scripts/test (or ./scripts/demo) to have installed .venv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from tests.benchmarks.common import BIN, ROOT, Emulator, drop_schema, emulator, print_table

SCHEMA = "bench_reconcile"
PURGED_SHARE = 0.001
FORMULA_SHARE = 0.01
NEW_FIELD = "Preferred_Pharmacy__c"
_MARKED = re.compile(r"Ids; (?:marked deleted|deleted) (\d+) rows")
_PATCHED = re.compile(r": (\d+) records, (\d+) rows updated")


@dataclass(frozen=True)
class Pass:
    """One measured run."""

    name: str
    change: str
    seconds: float
    api_calls: int
    jobs: int
    rows_served: int
    effect: str


class Runner:
    """``tap | target`` runs against one emulator and one schema, state kept between runs."""

    def __init__(self, sf: Emulator, database_url: str, directory: Path) -> None:
        self.sf = sf
        self.database_url = database_url
        self.directory = directory
        self.state: dict[str, Any] | None = None

    def run(self, name: str, change: str, **tap_settings: Any) -> Pass:
        """Reset the emulator's counters, run the pipe once, and read what it cost."""
        tap_json = self.directory / "tap.json"
        tap_json.write_text(json.dumps(self.sf.tap_config(lag_seconds=0, **tap_settings)))
        target_json = self.directory / "target.json"
        target_json.write_text(
            json.dumps({"database_url": self.database_url, "default_target_schema": SCHEMA})
        )
        tap_args = [str(BIN / "tap-salesforce-bulk"), "--config", str(tap_json)]
        if self.state is not None:
            state_json = self.directory / "state.json"
            state_json.write_text(json.dumps(self.state))
            tap_args += ["--state", str(state_json)]
        self.sf.reset()
        log = self.directory / "target.log"
        started = time.perf_counter()
        with log.open("wb") as target_err:
            tap = subprocess.Popen(
                tap_args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
            )
            target = subprocess.run(
                [str(BIN / "target-postgres-upsert"), "--config", str(target_json)],
                stdin=tap.stdout,
                stdout=subprocess.PIPE,
                stderr=target_err,
                cwd=ROOT,
                env=os.environ,
                check=False,
            )
            assert tap.stdout is not None
            tap.stdout.close()
            tap_code = tap.wait()
        seconds = time.perf_counter() - started
        if tap_code or target.returncode:
            raise SystemExit(f"{name}: tap exited {tap_code}, target {target.returncode}")
        states = [line for line in target.stdout.decode().splitlines() if line.strip()]
        self.state = json.loads(states[-1])
        counters = self.sf.control("counters", method="GET")
        print(f"{name}: {seconds:.1f} s", file=sys.stderr, flush=True)
        return Pass(
            name=name,
            change=change,
            seconds=seconds,
            api_calls=int(counters["api_calls"]),
            jobs=int(counters["jobs_created"]),
            rows_served=int(counters["rows_served"]),
            effect=_effect(log.read_text()),
        )


def _effect(log: str) -> str:
    """What the target's log says the side streams did."""
    parts = []
    marked = [int(m.group(1)) for m in _MARKED.finditer(log)]
    if marked:
        parts.append(f"{sum(marked):,} rows marked deleted")
    patched = [(int(m.group(1)), int(m.group(2))) for m in _PATCHED.finditer(log)]
    if patched:
        parts.append(
            f"{sum(p[0] for p in patched):,} patch records, {sum(p[1] for p in patched):,} rows updated"
        )
    return "; ".join(parts) or "-"


def some_ids(database_url: str, count: int) -> list[str]:
    """``count`` keys of the loaded table, spread over it."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT salesforce_id FROM {} TABLESAMPLE SYSTEM (5) LIMIT %s").format(
                sql.Identifier(SCHEMA, "contact")
            ),
            (count,),
        )
        return [row[0] for row in cur.fetchall()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    size = args.records
    drop_schema(args.database_url, SCHEMA)
    passes = []
    with emulator(size) as sf, tempfile.TemporaryDirectory() as tmp:
        runner = Runner(sf, args.database_url, Path(tmp))
        passes.append(runner.run("full load", f"{size:,} Contacts"))
        passes.append(runner.run("incremental", "nothing"))

        purged = some_ids(args.database_url, max(1, int(size * PURGED_SHARE)))
        sf.control("purge_records", {"object": "Contact", "ids": purged})
        passes.append(
            runner.run("reconcile deletes", f"{len(purged):,} purged", reconcile=["deletes"])
        )

        recalculated = max(1, int(size * FORMULA_SHARE))
        sf.control("recalculate_formulas", {"object": "Contact", "count": recalculated})
        passes.append(
            runner.run(
                "reconcile formula_fields",
                f"{recalculated:,} formula values changed",
                reconcile=["formula_fields"],
            )
        )

        sf.control(
            "add_field",
            {"object": "Contact", "name": NEW_FIELD, "values": ["CVS", "Walgreens", None]},
        )
        passes.append(runner.run("new field backfill", f"{NEW_FIELD} added"))
    drop_schema(args.database_url, SCHEMA)
    print()
    print_table(
        [
            "pass",
            "change in Salesforce",
            "seconds",
            "API calls",
            "Bulk jobs",
            "rows served",
            "target",
        ],
        [
            [
                p.name,
                p.change,
                f"{p.seconds:.1f}",
                p.api_calls,
                p.jobs,
                f"{p.rows_served:,}",
                p.effect,
            ]
            for p in passes
        ],
    )


if __name__ == "__main__":
    main()
