"""Helpers of the tap's batch-lane tests: batch configs, reading the files a run named, tap | target."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tap_salesforce_bulk.salesforce.timestamps import format_datetime
from tests.integration.tap_runner import TAP, TapRun, tap_config

TARGET = str(Path(sys.executable).parent / "target-postgres-upsert")
PIPE_TIMEOUT_SECONDS = 300
PARQUET = {"format": "parquet", "compression": "none"}
JSONL_GZ = {"format": "jsonl", "compression": "gzip"}


def batch_config(
    directory: Path, encoding: Mapping[str, str], batch_size: int = 250
) -> dict[str, Any]:
    """A ``batch_config`` writing into ``directory``."""
    return {
        "encoding": dict(encoding),
        "storage": {"root": str(directory)},
        "batch_size": batch_size,
    }


def batch_paths(messages: Iterable[Mapping[str, Any]], stream: str = "Contact") -> list[Path]:
    """The files the BATCH messages of ``stream`` name, in order."""
    return [
        Path(url.removeprefix("file://"))
        for m in messages
        if m["type"] == "BATCH" and m["stream"] == stream
        for url in m["manifest"]
    ]


def _as_record_lane(value: Any) -> Any:
    """A parquet value as the record lane writes it in JSON (datetimes, dates as text)."""
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def file_records(path: Path) -> list[dict[str, Any]]:
    """The rows of one batch file, with values as the record lane's RECORDs carry them."""
    if path.name.endswith(".parquet"):
        import pyarrow.parquet as pq

        rows = pq.read_table(path).to_pylist()
        return [{k: _as_record_lane(v) for k, v in row.items()} for row in rows]
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def batch_records(run: TapRun, stream: str = "Contact") -> list[dict[str, Any]]:
    """Every row of every file the run named for ``stream``."""
    return [row for path in batch_paths(run.messages, stream) for row in file_records(path)]


def pipe(
    sf: Any,
    directory: Path,
    target: Mapping[str, Any],
    *,
    state: Mapping[str, Any] | None = None,
    **tap: Any,
) -> tuple[str, str, dict[str, Any] | None]:
    """``tap | target`` once; (tap stderr, target stderr, the target's last STATE)."""
    tap_json = directory / "tap.json"
    tap_json.write_text(json.dumps(tap_config(sf, **tap)))
    target_json = directory / "target.json"
    target_json.write_text(json.dumps(dict(target)))
    tap_args = [TAP, "--config", str(tap_json)]
    if state is not None:
        state_json = directory / "state.json"
        state_json.write_text(json.dumps(state))
        tap_args += ["--state", str(state_json)]
    tap_stderr = directory / "tap.stderr"
    with tap_stderr.open("wb") as err:
        tap_proc = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=err)
        target_proc = subprocess.run(
            [TARGET, "--config", str(target_json)],
            stdin=tap_proc.stdout,
            capture_output=True,
            text=True,
            timeout=PIPE_TIMEOUT_SECONDS,
            check=False,
        )
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        tap_code = tap_proc.wait(timeout=60)
    tap_log = tap_stderr.read_text()
    assert tap_code == 0, tap_log[-3000:]
    assert target_proc.returncode == 0, target_proc.stderr[-3000:]
    states = [line for line in target_proc.stdout.splitlines() if line.strip()]
    return tap_log, target_proc.stderr, json.loads(states[-1]) if states else None
