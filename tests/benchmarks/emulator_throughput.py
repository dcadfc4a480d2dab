"""How fast the emulator serves Bulk API 2.0 results (a script, not a test).

Starts ``python -m tests.fake_salesforce`` as its own process (as the pipeline benchmarks do),
creates one query job over every non-compound Contact field, and downloads all pages through
locator paging, without and with ``Accept-Encoding: gzip``. The client discards bodies without
parsing or decompressing them, so the figures are the emulator's, not the client's. Reports
rows/s, MB/s on the wire and of CSV, job processing time, and the emulator's peak RSS (VmHWM).

    .venv/bin/python tests/benchmarks/emulator_throughput.py --contacts 600000 --max-records 50000

``--changed N`` first changes N Contacts through the control API (as the pipeline benchmark does
before each incremental run, 1% at a time): changed rows are rendered by a slower generic path.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from tests.fake_salesforce.auth import Credentials  # noqa: E402
from tests.fake_salesforce.client import EmulatorClient  # noqa: E402

READY_TIMEOUT_SECONDS = 300
READ_CHUNK_BYTES = 1 << 20
MB = 1_000_000


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_emulator(
    args: argparse.Namespace, ready: Path
) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    """Launch the standalone emulator and wait for its ready file."""
    command = [
        sys.executable,
        "-m",
        "tests.fake_salesforce",
        "--contacts",
        str(args.contacts),
        "--accounts",
        str(args.accounts),
        "--seed",
        str(args.seed),
        "--ready-file",
        str(ready),
        "--job-processing-seconds",
        "0.1",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("emulator did not start")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())


def download(client: EmulatorClient, job_id: str, max_records: int, gzip: bool) -> dict[str, float]:
    """Fetch every page; count rows (from Sforce-NumberOfRecords) and bytes on the wire."""
    url = f"{client.base}/jobs/query/{job_id}/results"
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    locator: str | None = None
    rows = wire = pages = 0
    started = time.perf_counter()
    while True:
        params: dict[str, str | int] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator
        with client.session.get(
            url, params=params, headers=headers, stream=True, timeout=600
        ) as reply:
            reply.raise_for_status()
            for chunk in reply.raw.stream(READ_CHUNK_BYTES, decode_content=False):
                wire += len(chunk)
            rows += int(reply.headers["Sforce-NumberOfRecords"])
            locator = reply.headers["Sforce-Locator"]
        pages += 1
        if locator == "null":
            break
    seconds = time.perf_counter() - started
    return {
        "pages": pages,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "wire_mb": round(wire / MB, 1),
        "wire_mb_per_second": round(wire / MB / seconds, 1),
    }


def main() -> int:
    """Run the benchmark and print a JSON report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=600_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-records", type=int, default=50_000)
    parser.add_argument("--modes", default="identity,gzip", help="comma-separated: identity, gzip")
    parser.add_argument("--changed", type=int, default=0, help="Contacts changed before the job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        process, ready = start_emulator(args, Path(scratch) / "ready.json")
        report: dict[str, object] = {
            "contacts": args.contacts,
            "max_records": args.max_records,
            "startup_seconds": round(time.perf_counter() - started, 2),
        }
        try:
            client = EmulatorClient(str(ready["url"]), Credentials(**ready["credentials"]))  # type: ignore[arg-type]
            describe = client.session.get(
                f"{client.base}/sobjects/Contact/describe", timeout=60
            ).json()
            fields = [
                f["name"] for f in describe["fields"] if f["type"] not in ("address", "location")
            ]
            report["fields"] = len(fields)
            if args.changed:
                client.session.post(
                    f"{ready['url']}/__emulator/update_records",
                    json={"object": "Contact", "count": args.changed, "fields": {"Title": "x"}},
                    timeout=600,
                ).raise_for_status()
                report["changed"] = args.changed
            created = time.perf_counter()
            job_id = str(client.create_job(f"SELECT {', '.join(fields)} FROM Contact").json()["id"])  # noqa: S608
            info = client.wait(job_id, timeout=600)
            report["job_seconds"] = round(time.perf_counter() - created, 2)
            report["rows_in_job"] = info["numberRecordsProcessed"]
            report["rss_after_job_mb"] = round(peak_rss_mb(process.pid), 1)
            for mode in args.modes.split(","):
                report[mode] = download(client, job_id, args.max_records, gzip=mode == "gzip")
                report[f"{mode}"]["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)  # type: ignore[index]
            if "identity" in report and "gzip" in report:
                plain, packed = report["identity"], report["gzip"]
                report["gzip_ratio"] = round(packed["wire_mb"] / plain["wire_mb"], 3)  # type: ignore[index]
                # CSV produced per second when compressing (the identity wire size is the CSV size)
                packed["csv_mb_per_second"] = round(plain["wire_mb"] / packed["seconds"], 1)  # type: ignore[index]
            report["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
