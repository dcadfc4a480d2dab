"""End-to-end figures: ``meltano run tap-salesforce-bulk target-postgres-upsert`` over the emulator.

    .venv/bin/python -m tests.benchmarks.pipeline --records 600000 60000 2000000

For each size: start the emulator (pages uncompressed, so Salesforce's own gzip CPU is not
charged to this machine), load into an empty schema with ``meltano run --full-refresh``, change
1% of the Contacts and run again incrementally. Peak RSS of the tap and of the target are polled
from /proc while Meltano runs them. In the same run, the rows that landed are copied out and
loaded again by PostgreSQL alone: ``COPY`` into a staging table plus one ``INSERT ... ON
CONFLICT`` into an empty table (the physical limit of the load), and the same full load is run
as ``tap | target`` without Meltano, which shows what Meltano's line-by-line relay costs.
``--repeat N`` runs each size N times and prints medians. Prints a Markdown table.
Needs ./scripts/test (or ./scripts/demo) to have installed .venv and .tools/meltano.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

import psycopg2
from psycopg2 import sql

from tests.benchmarks.common import ROOT, Emulator, drop_schema, emulator, print_table

MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
SCHEMA = "bench_pipeline"
PLUGINS = ("tap-salesforce-bulk", "target-postgres-upsert")


class PeakRss:
    """Polls /proc for the plugins' processes and keeps each one's highest VmHWM."""

    def __init__(self) -> None:
        self.peak_mb = dict.fromkeys(PLUGINS, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                    status = (proc / "status").read_text()
                except OSError:
                    continue
                for plugin in PLUGINS:
                    if any(part.endswith(plugin.encode()) for part in cmdline[:2]):
                        line = next(ln for ln in status.splitlines() if ln.startswith("VmHWM:"))
                        self.peak_mb[plugin] = max(
                            self.peak_mb[plugin], int(line.split()[1]) / 1024
                        )


def meltano_run(sf: Emulator, database_url: str, *extra: str) -> tuple[float, dict[str, float]]:
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_ENVIRONMENT": "dev",
        "TAP_SALESFORCE_BULK_AUTH_FLOW": "client_credentials",
        "TAP_SALESFORCE_BULK_LOGIN_URL": sf.url,
        "TAP_SALESFORCE_BULK_CLIENT_ID": sf.credentials["client_id"],
        "TAP_SALESFORCE_BULK_CLIENT_SECRET": sf.credentials["client_secret"],
        "TAP_SALESFORCE_BULK_LAG_SECONDS": "0",
        "TARGET_POSTGRES_UPSERT_DATABASE_URL": database_url,
        "TARGET_POSTGRES_UPSERT_DEFAULT_TARGET_SCHEMA": SCHEMA,
    }
    with PeakRss() as peaks:
        started = time.perf_counter()
        subprocess.run(
            [str(MELTANO), "run", *extra, *PLUGINS],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
    return seconds, peaks.peak_mb


def copy_merge_baseline(database_url: str) -> float:
    """Seconds for PostgreSQL alone to COPY the landed rows into a stage and merge them."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        data = io.BytesIO()
        cur.copy_expert(sql.SQL("COPY {}.contact TO STDOUT").format(sql.Identifier(SCHEMA)), data)
        cur.execute(
            sql.SQL(
                "DROP TABLE IF EXISTS {s}.baseline; CREATE TABLE {s}.baseline (LIKE {s}.contact INCLUDING ALL)"
            ).format(s=sql.Identifier(SCHEMA))
        )
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema=%s AND table_name='contact' ORDER BY ordinal_position",
            (SCHEMA,),
        )
        columns = [row[0] for row in cur.fetchall()]
        conn.commit()
        data.seek(0)
        started = time.perf_counter()
        cur.execute(
            sql.SQL("CREATE TEMP TABLE stage (LIKE {}.contact) ON COMMIT DROP").format(
                sql.Identifier(SCHEMA)
            )
        )
        cur.copy_expert("COPY stage FROM STDIN", data)
        updates = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
            for c in columns
            if c != "salesforce_id"
        )
        cur.execute(
            sql.SQL(
                "INSERT INTO {}.baseline SELECT * FROM stage ON CONFLICT (salesforce_id) DO UPDATE SET {}"
            ).format(sql.Identifier(SCHEMA), updates)
        )
        conn.commit()
        seconds = time.perf_counter() - started
        cur.execute(sql.SQL("DROP TABLE {}.baseline").format(sql.Identifier(SCHEMA)))
    return seconds


def row_count(database_url: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}.contact").format(sql.Identifier(SCHEMA)))
        return int(cur.fetchone()[0])


def direct_pipe(sf: Emulator, database_url: str, workdir: Path) -> float:
    """Seconds for ``tap | target`` without Meltano (the same full load, same plugins)."""
    tap_config = workdir / "tap.json"
    target_config = workdir / "target.json"
    tap_config.write_text(json.dumps(sf.tap_config(lag_seconds=0)))
    target_config.write_text(
        json.dumps({"database_url": database_url, "default_target_schema": SCHEMA})
    )
    bin_dir = ROOT / ".venv" / "bin"
    started = time.perf_counter()
    tap = subprocess.Popen(
        [str(bin_dir / PLUGINS[0]), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = subprocess.run(
        [str(bin_dir / PLUGINS[1]), "--config", str(target_config)],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    if tap.wait() != 0 or target.returncode != 0:
        sys.exit("tap | target failed")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, nargs="+", default=[600_000, 60_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs per size; medians")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if not MELTANO.exists():
        sys.exit("meltano is missing: run ./scripts/test or ./scripts/demo first")
    subprocess.run([str(MELTANO), "install"], cwd=ROOT, check=True, capture_output=True)
    rows = []
    for size in args.records:
        fulls, incrementals, baselines, pipes = [], [], [], []
        tap_peak = target_peak = 0.0
        landed = changed = 0
        with emulator(size) as sf, tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeat):
                drop_schema(args.database_url, SCHEMA)
                full, full_peaks = meltano_run(sf, args.database_url, "--full-refresh")
                landed = row_count(args.database_url)
                changed = size // 100
                sf.control(
                    "update_records",
                    {"object": "Contact", "count": changed, "fields": {"Title": "bench"}},
                )
                incremental, inc_peaks = meltano_run(sf, args.database_url)
                baseline = copy_merge_baseline(args.database_url)
                drop_schema(args.database_url, SCHEMA)
                pipe = direct_pipe(sf, args.database_url, Path(tmp))
                print(
                    f"{size:,}: meltano full {full:.1f}s, incremental {incremental:.1f}s, "
                    f"COPY+merge {baseline:.1f}s, tap | target {pipe:.1f}s",
                    file=sys.stderr,
                )
                fulls.append(full)
                incrementals.append(incremental)
                baselines.append(baseline)
                pipes.append(pipe)
                for peaks in (full_peaks, inc_peaks):
                    tap_peak = max(tap_peak, peaks[PLUGINS[0]])
                    target_peak = max(target_peak, peaks[PLUGINS[1]])
        full, baseline, pipe = median(fulls), median(baselines), median(pipes)
        rows.append(
            [
                f"{landed:,}",
                f"{full:.1f}",
                f"{landed / full:,.0f}",
                f"{tap_peak:.0f}",
                f"{target_peak:.0f}",
                f"{changed:,} in {median(incrementals):.1f}",
                f"{baseline:.1f}",
                f"{full / baseline:.1f}",
                f"{pipe:.1f} ({pipe / baseline:.1f})",
            ]
        )
    drop_schema(args.database_url, SCHEMA)
    print()
    print(f"medians of {args.repeat} run(s) per size")
    print_table(
        [
            "records",
            "meltano run s",
            "records/s",
            "tap peak RSS MB",
            "target peak RSS MB",
            "incremental: changed rows in s",
            "COPY+merge s",
            "meltano run / COPY+merge",
            "tap → target s (/ COPY+merge)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
