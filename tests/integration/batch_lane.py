"""Helpers of the tap's batch-lane tests: batch configs, reading the files a run named, tap | target."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tap_salesforce_bulk.salesforce.timestamps import format_datetime
from tests.integration.tap_runner import TapRun

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
