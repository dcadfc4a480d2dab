"""Run the emulator as a process: ``python -m tests.fake_salesforce --contacts 600000 --ready-file F``.

Once listening it writes ``{"url": ..., "credentials": {...}, "pid": ...}`` as JSON to the ready
file (atomically) and prints it; it serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from tests.fake_salesforce.emulator import DEFAULT_JOB_PROCESSING_SECONDS, FakeSalesforce


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_salesforce", description=__doc__)
    parser.add_argument("--contacts", type=int, default=10_000, help="Contact rows to generate")
    parser.add_argument("--accounts", type=int, default=500, help="Account rows to generate")
    parser.add_argument("--tasks", type=int, default=0, help="Task rows (a third archived)")
    parser.add_argument("--events", type=int, default=0, help="Event rows (a third archived)")
    parser.add_argument(
        "--restricted-objects",
        action="store_true",
        help="list objects that refuse a plain query (ContentDocumentLink, ...)",
    )
    parser.add_argument("--type-zoo", type=int, default=0, help="Type_Zoo__c rows (odd types)")
    parser.add_argument(
        "--licenses", type=int, default=0, help="License__c rows (a custom object; 0: none)"
    )
    parser.add_argument("--seed", type=int, default=1, help="data seed (same seed, same data)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument(
        "--job-processing-seconds",
        type=float,
        default=DEFAULT_JOB_PROCESSING_SECONDS,
        help="time a query job spends in UploadComplete+InProgress",
    )
    parser.add_argument(
        "--default-page-records",
        type=int,
        default=None,
        help="rows per results page when maxRecords is absent (default: 1 GiB worth)",
    )
    parser.add_argument("--no-shuffle", action="store_true", help="serve results in row order")
    parser.add_argument(
        "--no-gzip",
        action="store_true",
        help="ignore Accept-Encoding: gzip (keeps compression CPU out of benchmarks)",
    )
    parser.add_argument(
        "--refresh-token-rotation",
        action="store_true",
        help="each refresh grant returns a new refresh token and invalidates the old one",
    )
    parser.add_argument(
        "--session-timeout-seconds",
        type=float,
        default=None,
        help="access tokens stop working this long after they were issued",
    )
    parser.add_argument(
        "--no-username-password-flow",
        action="store_true",
        help="block the OAuth username-password flow (orgs created from Summer '23 on)",
    )
    parser.add_argument(
        "--no-view-setup",
        action="store_true",
        help="the integration user lacks View Setup and Configuration (/limits refused)",
    )
    parser.add_argument(
        "--ready-file", type=Path, default=None, help="write URL and credentials here as JSON"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start, announce, serve until a signal."""
    args = parse_args(argv)
    sf = FakeSalesforce(
        contacts=args.contacts,
        accounts=args.accounts,
        seed=args.seed,
        job_processing_seconds=args.job_processing_seconds,
        default_page_records=args.default_page_records,
        shuffle_results=not args.no_shuffle,
        port=args.port,
        host=args.host,
        gzip=not args.no_gzip,
        tasks=args.tasks,
        events=args.events,
        restricted_objects=args.restricted_objects,
        type_zoo=args.type_zoo,
        licenses=args.licenses,
        refresh_token_rotation=args.refresh_token_rotation,
        session_timeout_seconds=args.session_timeout_seconds,
        username_password_flow=not args.no_username_password_flow,
        view_setup_permission=not args.no_view_setup,
    ).start()
    ready = json.dumps({"url": sf.url, "credentials": sf.credentials.as_json(), "pid": os.getpid()})
    if args.ready_file is not None:
        temporary = args.ready_file.with_suffix(args.ready_file.suffix + ".tmp")
        temporary.write_text(ready)
        temporary.replace(args.ready_file)
    print(ready, flush=True)
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    done.wait()
    sf.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
