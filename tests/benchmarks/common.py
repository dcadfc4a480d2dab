"""Shared parts of the benchmark scripts: a standalone emulator, child processes with peak RSS."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_SECONDS = 120
RSS_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Emulator:
    """A running standalone emulator."""

    url: str
    credentials: dict[str, str]

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """A password-flow tap config for this emulator."""
        c = self.credentials
        return {
            "auth_flow": "password",
            "login_url": self.url,
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "username": c["username"],
            "password": c["password"],
            "security_token": c["security_token"],
            **overrides,
        }

    def control(self, path: str, body: dict[str, Any] | None = None, method: str = "POST") -> Any:
        """Call the emulator's control API (``/__emulator/...``)."""
        request = urllib.request.Request(  # noqa: S310 - loopback URL we started
            f"{self.url}/__emulator/{path}",
            data=json.dumps(body or {}).encode() if method == "POST" else None,
            headers={"Content-Type": "application/json"},
            method=method,
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def rows_served_since_reset(self) -> int:
        """Rows the emulator has sent in result pages since the last ``reset()``."""
        return int(self.control("counters", method="GET")["rows_served"])

    def reset(self) -> None:
        """Zero the emulator's counters."""
        self.control("reset_counters")


@contextmanager
def emulator(contacts: int, *, gzip: bool = False, extra: Sequence[str] = ()) -> Iterator[Emulator]:
    """Start ``python -m tests.fake_salesforce`` and stop it afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        command = [
            sys.executable, "-m", "tests.fake_salesforce",
            "--contacts", str(contacts), "--accounts", "1000",
            "--ready-file", str(ready), "--job-processing-seconds", "0.5", *extra,
        ]  # fmt: skip
        if not gzip:
            command.append("--no-gzip")
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the emulator did not start")
                time.sleep(0.2)
            info = json.loads(ready.read_text())
            yield Emulator(url=info["url"], credentials=info["credentials"])
        finally:
            process.terminate()
            process.wait(timeout=30)


@dataclass(frozen=True)
class Measured:
    """One child process: wall seconds and peak resident memory."""

    seconds: float
    peak_rss_mb: float
    returncode: int


def run_measured(
    command: Sequence[str],
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[bytes] | int | None = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
) -> Measured:
    """Run a command, returning its wall time and its own peak RSS.

    The peak is ``VmHWM`` polled from /proc: ``ru_maxrss`` of a child also counts the pages it
    shared with this (possibly large) process between fork and exec.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _high_water_kb(process.pid))
        time.sleep(RSS_POLL_SECONDS)
    seconds = time.perf_counter() - started
    return Measured(seconds, peak_kb / 1024.0, process.returncode)


def _high_water_kb(pid: int) -> int:
    """A process's peak resident set so far (``VmHWM``), 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def median(values: Sequence[float]) -> float:
    """The median, the figure the README reports for noisy machines."""
    return statistics.median(values)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table on stdout, ready to paste into the README."""
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


def drop_schema(database_url: str, schema: str) -> None:
    """Drop a benchmark's schema and everything in it (a fresh start, or cleaning up)."""
    import psycopg2  # only the benchmarks that load PostgreSQL need it
    from psycopg2 import sql

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
