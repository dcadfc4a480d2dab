"""BATCH files for the target's tests, made when a test runs (no binary fixtures in git).

``sdk_batches`` writes files with singer-sdk's own batch writers (the ``jsonl`` and ``parquet``
encoders a tap uses with ``batch_config``) and returns the BATCH messages such a tap sends;
``write_parquet`` writes a parquet file with explicit Arrow types (timestamps, dates), as a
columnar tap would. ``sdk_batch_tap.py`` beside this module is a whole SDK tap with
``batch_config``, for the interop test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from singer_sdk.batch import Batcher
from singer_sdk.helpers._batch import BatchConfig

TAP_NAME = "tap-test"


def batch_message(
    stream: str, manifest: Sequence[str], fmt: str, compression: str | None = "gzip", **extra: Any
) -> dict[str, Any]:
    """A BATCH message (the SDK's shape: stream, encoding, manifest of file:// URLs)."""
    return {
        "type": "BATCH",
        "stream": stream,
        "encoding": {"format": fmt, "compression": compression},
        "manifest": list(manifest),
        **extra,
    }


def sdk_batches(
    directory: Path,
    stream: str,
    records: Iterable[Mapping[str, Any]],
    *,
    fmt: str,
    batch_size: int = 10_000,
    compression: str | None = "gzip",
) -> list[dict[str, Any]]:
    """Write ``records`` as the SDK's batch writer does for a tap; its BATCH messages."""
    directory.mkdir(parents=True, exist_ok=True)
    config = BatchConfig.from_dict(
        {
            "encoding": {"format": fmt, "compression": compression},
            "storage": {"root": directory.as_uri()},
            "batch_size": batch_size,
        }
    )
    batcher = Batcher(TAP_NAME, stream, config)
    return [
        batch_message(stream, manifest, fmt, compression)
        for manifest in batcher.get_batches(records=iter([dict(r) for r in records]))
    ]


def write_parquet(path: Path, columns: Mapping[str, Any], *, row_group_rows: int = 0) -> str:
    """Write Arrow arrays (or lists, typed by Arrow) as one parquet file; its file:// URL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(dict(columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_rows or None)
    return path.as_uri()


def manifest_paths(messages: Iterable[Mapping[str, Any]]) -> list[Path]:
    """The local files the BATCH messages name."""
    return [Path(url.removeprefix("file://")) for m in messages for url in m["manifest"]]


def dumps(message: Mapping[str, Any]) -> str:
    """One message as a JSON line."""
    return json.dumps(message, ensure_ascii=False) + "\n"
