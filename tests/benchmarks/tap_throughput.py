"""Tap throughput and memory: the tap to /dev/null against a standard-library baseline.

Usage (from the repository root, with the dev venv)::

    .venv/bin/python -m tests.benchmarks.tap_throughput --records 600000 60000 --repeat 3

For each size it starts the emulator, then alternates runs of

* the tap (``tap-salesforce-bulk`` to /dev/null, default settings plus ``page_size``), and
* the baseline: the same Bulk job and pages fetched with ``urllib`` and turned into JSON lines
  with ``csv.DictReader`` + ``json.dumps`` (no typing, no Singer, no state),

and prints records/s and peak RSS medians, and the tap's share of the baseline's rate.

``--batch parquet`` (or ``jsonl``) runs the tap in the batch lane instead (``batch_config``,
files of 50,000 rows in a temporary directory, each removed as soon as it is complete, as a
target that loads at once would): its rate and peak RSS against the same baseline.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from tests.benchmarks.common import BIN, Emulator, emulator, median, print_table, run_measured

API = "64.0"


def baseline(url: str, credentials: dict[str, str], page_size: int) -> int:
    """Log in, run one Bulk job over every Contact field, stream pages to JSON lines on stdout."""
    token_body = urllib.parse.urlencode(
        {
            "grant_type": "password",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "username": credentials["username"],
            "password": credentials["password"] + credentials["security_token"],
        }
    ).encode()
    with urllib.request.urlopen(f"{url}/services/oauth2/token", token_body) as r:  # noqa: S310
        token = json.loads(r.read())["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(path: str, body: object = None, method: str = "GET") -> urllib.request.Request:
        data = json.dumps(body).encode() if body is not None else None
        target = f"{url}/services/data/v{API}/{path}"
        return urllib.request.Request(target, data, headers, method=method)  # noqa: S310

    with urllib.request.urlopen(call("sobjects/Contact/describe")) as r:  # noqa: S310
        fields = [
            f["name"]
            for f in json.loads(r.read())["fields"]
            if f["type"] not in ("address", "location", "base64")
        ]
    job = {"operation": "query", "query": f"SELECT {', '.join(fields)} FROM Contact"}  # noqa: S608
    with urllib.request.urlopen(call("jobs/query", job, "POST")) as r:  # noqa: S310
        job_id = json.loads(r.read())["id"]
    while True:
        with urllib.request.urlopen(call(f"jobs/query/{job_id}")) as r:  # noqa: S310
            if json.loads(r.read())["state"] == "JobComplete":
                break
        time.sleep(0.25)
    out = sys.stdout
    count, locator = 0, None
    while True:
        query = {"maxRecords": page_size, **({"locator": locator} if locator else {})}
        page = call(f"jobs/query/{job_id}/results?{urllib.parse.urlencode(query)}")
        with urllib.request.urlopen(page) as r:  # noqa: S310
            for row in csv.DictReader(io.TextIOWrapper(r, encoding="utf-8", newline="")):
                out.write(json.dumps(row))
                out.write("\n")
                count += 1
            locator = r.headers.get("Sforce-Locator")
        if not locator or locator == "null":
            return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, nargs="+", default=[600_000, 60_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=50_000)
    parser.add_argument("--gzip", action="store_true", help="let the emulator compress pages")
    parser.add_argument("--batch", choices=["parquet", "jsonl"], help="the batch lane's files")
    parser.add_argument(
        "--baseline-run", nargs=2, metavar=("URL", "CREDENTIALS_JSON"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.baseline_run:
        baseline(args.baseline_run[0], json.loads(args.baseline_run[1]), args.page_size)
        return

    rows = []
    for size in args.records:
        with emulator(size, gzip=args.gzip) as sf:
            rows.append(measure(sf, size, args.repeat, args.page_size, args.batch))
    print()
    print_table(
        [
            "records",
            "tap rec/s",
            "tap peak RSS MB",
            "baseline rec/s",
            "baseline peak RSS MB",
            "tap / baseline",
        ],
        rows,
    )


def batch_config(fmt: str | None, directory: Path) -> dict[str, object]:
    """The tap's ``batch_config`` for ``--batch`` (none without it)."""
    if fmt is None:
        return {}
    compression = "none" if fmt == "parquet" else "gzip"
    return {
        "batch_config": {
            "encoding": {"format": fmt, "compression": compression},
            "storage": {"root": str(directory)},
            "batch_size": 50_000,
        }
    }


class FileRemover:
    """Removes complete batch files as they appear, as a target that loads at once would."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FileRemover:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for path in self.directory.glob("*"):
                if not path.name.endswith(".part"):
                    path.unlink(missing_ok=True)


def measure(
    sf: Emulator, size: int, repeat: int, page_size: int, batch: str | None = None
) -> list[str]:
    """Alternate tap and baseline runs; return one table row of medians."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "tap.json"
        files = Path(tmp) / "batches"
        files.mkdir()
        config.write_text(
            json.dumps(sf.tap_config(page_size=page_size, **batch_config(batch, files)))
        )
        taps, bases, served = [], [], []
        for _ in range(repeat):
            sf.reset()
            with FileRemover(files):
                taps.append(
                    run_measured([str(BIN / "tap-salesforce-bulk"), "--config", str(config)])
                )
            served.append(sf.rows_served_since_reset())
            bases.append(
                run_measured(
                    [sys.executable, "-m", "tests.benchmarks.tap_throughput", "--page-size", str(page_size),
                     "--baseline-run", sf.url, json.dumps(sf.credentials)]
                )
            )  # fmt: skip
            print(
                f"{size:,}: tap {taps[-1].seconds:.1f}s, baseline {bases[-1].seconds:.1f}s",
                file=sys.stderr,
            )
    if any(m.returncode for m in taps + bases):
        raise SystemExit("a run failed")
    records = served[0]  # deleted rows are not served to a query job
    tap_rate = records / median([m.seconds for m in taps])
    base_rate = records / median([m.seconds for m in bases])
    return [
        f"{size:,}",
        f"{tap_rate:,.0f}",
        f"{median([m.peak_rss_mb for m in taps]):.0f}",
        f"{base_rate:,.0f}",
        f"{median([m.peak_rss_mb for m in bases]):.0f}",
        f"{tap_rate / base_rate:.2f}",
    ]


if __name__ == "__main__":
    main()
