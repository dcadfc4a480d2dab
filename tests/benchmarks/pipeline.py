"""End-to-end figures: ``meltano run tap-salesforce-bulk target-postgres-upsert`` over the emulator.

    .venv/bin/python -m tests.benchmarks.pipeline --records 600000 60000 2000000
    .venv/bin/python -m tests.benchmarks.pipeline --records 600000 --lanes record batch-parquet batch-jsonl

For each size: start the emulator (pages uncompressed, so Salesforce's own gzip CPU is not
charged to this machine), load into an empty schema with ``meltano run --full-refresh``, change
1% of the Contacts and run again incrementally. Peak RSS of the tap and of the target are polled
from /proc while Meltano runs them. In the same run, the rows that landed are copied out and
loaded again by PostgreSQL alone: ``COPY`` into a staging table plus one ``INSERT ... ON
CONFLICT`` into an empty table (the physical limit of the load), and the same full load is run
as ``tap | target`` without Meltano, which shows what Meltano's line-by-line relay costs.
``--repeat N`` runs each size N times and prints medians. Prints a Markdown table.
Needs ./scripts/test (or ./scripts/demo) to have installed .venv and .tools/meltano.

``--lanes``: the record lane (RECORD lines), and the batch lane with parquet or jsonl.gz files
(``batch_config``, files of 50,000 rows in a directory under /tmp). Lanes run interleaved, each
repetition in turn, in a Meltano project made under /tmp whose plugins are this checkout's
packages with their ``[parquet]`` extras; the peak disk the batch files take is polled too.
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
import yaml
from psycopg2 import sql

from tests.benchmarks.common import ROOT, Emulator, drop_schema, emulator, print_table

MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
SCHEMA = "bench_pipeline"
PLUGINS = ("tap-salesforce-bulk", "target-postgres-upsert")
LANES = ("record", "batch-parquet", "batch-jsonl")
BATCH_ROWS = 50_000
ENCODINGS = {
    "batch-parquet": {"format": "parquet", "compression": "none"},
    "batch-jsonl": {"format": "jsonl", "compression": "gzip"},
}


def make_project(directory: Path) -> Path:
    """A Meltano project like the repository's, plugins installed with their [parquet] extras."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for kind in project["plugins"].values():
        for plugin in kind:
            if plugin["name"] in PLUGINS:
                plugin["pip_url"] = f"-e {ROOT / plugin['name']}[parquet]"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "meltano.yml").write_text(yaml.safe_dump(project, sort_keys=False))
    subprocess.run([str(MELTANO), "install"], cwd=directory, check=True, capture_output=True)
    return directory


def directory_bytes(path: Path) -> int:
    """Bytes of the files in ``path`` now (0 if it does not exist)."""
    total = 0
    try:
        for entry in os.scandir(path):
            try:
                total += entry.stat().st_size
            except OSError:
                continue  # removed meanwhile
    except OSError:
        return 0
    return total


class PeakRss:
    """Polls /proc for the plugins' processes and keeps each one's highest VmHWM."""

    def __init__(self, project: Path, batch_dir: Path | None = None) -> None:
        self.peak_mb = dict.fromkeys(PLUGINS, 0.0)
        # Only this project's plugin processes: other pipelines may run on a shared machine.
        self.prefix = str(project).encode()
        self.batch_dir = batch_dir
        self.peak_disk_mb = 0.0
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
            if self.batch_dir is not None:
                disk = directory_bytes(self.batch_dir) / 2**20
                self.peak_disk_mb = max(self.peak_disk_mb, disk)
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                try:
                    cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                    status = (proc / "status").read_text()
                except OSError:
                    continue
                for plugin in PLUGINS:
                    if any(
                        part.startswith(self.prefix) and part.endswith(plugin.encode())
                        for part in cmdline[:2]
                    ):
                        line = next(ln for ln in status.splitlines() if ln.startswith("VmHWM:"))
                        self.peak_mb[plugin] = max(
                            self.peak_mb[plugin], int(line.split()[1]) / 1024
                        )


def meltano_run(
    sf: Emulator,
    database_url: str,
    project: Path,
    lane: str,
    batch_dir: Path,
    *extra: str,
) -> tuple[float, PeakRss]:
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
    if lane in ENCODINGS:
        batch = {
            "encoding": ENCODINGS[lane],
            "storage": {"root": str(batch_dir)},
            "batch_size": BATCH_ROWS,
        }
        env["TAP_SALESFORCE_BULK_BATCH_CONFIG"] = json.dumps(batch)
    with PeakRss(project, batch_dir if lane in ENCODINGS else None) as peaks:
        started = time.perf_counter()
        subprocess.run(
            [str(MELTANO), "run", *extra, *PLUGINS],
            cwd=project,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - started
    return seconds, peaks


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
    parser.add_argument("--lanes", nargs="+", choices=LANES, default=["record"])
    parser.add_argument(
        "--no-pipe", action="store_true", help="skip tap | target without Meltano (record lane)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    if not MELTANO.exists():
        sys.exit("meltano is missing: run ./scripts/test or ./scripts/demo first")
    workdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    project = make_project(workdir / "project")
    batch_dir = workdir / "batches"
    rows = []
    for size in args.records:
        runs: dict[str, dict[str, list[float]]] = {
            lane: {"full": [], "incremental": [], "tap": [], "target": [], "disk": []}
            for lane in args.lanes
        }
        baselines: list[float] = []
        pipes: list[float] = []
        landed = changed = 0
        with emulator(size) as sf:
            for _ in range(args.repeat):
                for lane in args.lanes:
                    drop_schema(args.database_url, SCHEMA)
                    full, full_peaks = meltano_run(
                        sf, args.database_url, project, lane, batch_dir, "--full-refresh"
                    )
                    landed = row_count(args.database_url)
                    changed = size // 100
                    sf.control(
                        "update_records",
                        {"object": "Contact", "count": changed, "fields": {"Title": "bench"}},
                    )
                    incremental, inc_peaks = meltano_run(
                        sf, args.database_url, project, lane, batch_dir
                    )
                    measured = runs[lane]
                    measured["full"].append(full)
                    measured["incremental"].append(incremental)
                    measured["tap"].append(
                        max(p.peak_mb[PLUGINS[0]] for p in (full_peaks, inc_peaks))
                    )
                    measured["target"].append(
                        max(p.peak_mb[PLUGINS[1]] for p in (full_peaks, inc_peaks))
                    )
                    measured["disk"].append(max(full_peaks.peak_disk_mb, inc_peaks.peak_disk_mb))
                    print(
                        f"{size:,} {lane}: meltano full {full:.1f}s, incremental {incremental:.1f}s",
                        file=sys.stderr,
                    )
                baseline = copy_merge_baseline(args.database_url)
                baselines.append(baseline)
                print(f"{size:,}: COPY+merge {baseline:.1f}s", file=sys.stderr)
                if "record" in args.lanes and not args.no_pipe:
                    drop_schema(args.database_url, SCHEMA)
                    pipes.append(direct_pipe(sf, args.database_url, workdir))
                    print(f"{size:,}: tap | target {pipes[-1]:.1f}s", file=sys.stderr)
        baseline = median(baselines)
        for lane in args.lanes:
            measured = runs[lane]
            full = median(measured["full"])
            pipe = (
                f"{median(pipes):.1f} ({median(pipes) / baseline:.1f})"
                if lane == "record" and pipes
                else ""
            )
            disk = f"{max(measured['disk']):.0f}" if lane in ENCODINGS else ""
            rows.append(
                [
                    f"{landed:,}",
                    lane,
                    f"{full:.1f}",
                    f"{landed / full:,.0f}",
                    f"{max(measured['tap']):.0f}",
                    f"{max(measured['target']):.0f}",
                    disk,
                    f"{changed:,} in {median(measured['incremental']):.1f}",
                    f"{baseline:.1f}",
                    f"{full / baseline:.2f}",
                    pipe,
                ]
            )
    drop_schema(args.database_url, SCHEMA)
    print()
    print(f"medians of {args.repeat} run(s) per size and lane")
    print_table(
        [
            "records",
            "lane",
            "meltano run s",
            "records/s",
            "tap peak RSS MB",
            "target peak RSS MB",
            "peak batch files MB",
            "incremental: changed rows in s",
            "COPY+merge s",
            "meltano run / COPY+merge",
            "tap → target s (/ COPY+merge)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
