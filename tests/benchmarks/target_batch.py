"""The target's batch lane: N Contacts from BATCH files against bare COPY + INSERT ON CONFLICT.

A script that prints figures, not a test. It writes the Contact-like stream of
``target_throughput.py`` (90 properties) as BATCH files, one per ``--file-rows`` rows as a tap
writes one per result page: parquet (date-times as the tap's canonical strings, or with
``--arrow-timestamps`` as Arrow timestamps) and the SDK's jsonl.gz. Then, interleaved,
``--repeat`` times, into empty schemas of a real PostgreSQL:

* the target on ``SCHEMA, (BATCH, STATE)*`` of the parquet files, and of the jsonl.gz files:
  wall seconds, CPU seconds of the target process, peak RSS (VmHWM polled from /proc);
* ``COPY`` into a temporary stage + one ``INSERT ... ON CONFLICT ... WHERE (row) IS DISTINCT
  FROM (new row)`` per 10,000 rows, of the same rows already formatted as COPY text: the
  database work alone (``target_throughput.baseline_merge``).

Medians; the batch files' size on disk (the target deletes each file once its rows are
committed; here ``keep_batch_files`` keeps them for the next repetition). Also the peak RSS of
one parquet file holding all N rows (``--one-file``), which the target reads a chunk at a time.

    .venv/bin/python -m tests.benchmarks.target_batch --records 600000 --repeat 3
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from target_postgres_upsert.types import pg_type_for, value_kinds
from tests.benchmarks.target_throughput import (
    BATCH_ROWS,
    TARGET_BIN,
    Run,
    StreamShape,
    _copy_text,
    _Schemas,
    baseline_merge,
    contact_records,
    contact_schema,
    run_target,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_RECORDS = 600_000
DEFAULT_FILE_ROWS = 50_000  # one file per Salesforce result page of 50,000 records
GENERATE_ROWS = 10_000
_JSON = msgspec.json.Encoder()


def _canonical(record: dict[str, Any], stamps: list[str]) -> dict[str, Any]:
    """The tap's one date-time format: ``...+0000`` becomes ``...Z``."""
    for name in stamps:
        value = record[name]
        if value is not None:
            record[name] = value[:-5] + "Z"
    return record


def _arrow_schema(properties: dict[str, Any], arrow_timestamps: bool) -> pa.Schema:
    fields = []
    for name, prop in properties.items():
        kinds = (
            [t for t in prop["type"] if t != "null"]
            if isinstance(prop["type"], list)
            else [prop["type"]]
        )
        kind = "date-time" if prop.get("format") == "date-time" else kinds[0]
        arrow = {
            "string": pa.string(),
            "date-time": pa.timestamp("ms", tz="UTC") if arrow_timestamps else pa.string(),
            "boolean": pa.bool_(),
            "integer": pa.int64(),
            "number": pa.float64(),
        }[kind]
        fields.append(pa.field(name, arrow))
    return pa.schema(fields)


def _chunks(count: int, stamps: list[str]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for record in contact_records(count, version=0):
        chunk.append(_canonical(record, stamps))
        if len(chunk) == GENERATE_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_files(
    workdir: Path, count: int, file_rows: int, arrow_timestamps: bool
) -> dict[str, list[Path]]:
    """Parquet and jsonl.gz batch files of ``count`` Contacts, and one all-rows parquet file."""
    properties = contact_schema()["schema"]["properties"]
    stamps = [p for p, s in properties.items() if s.get("format") == "date-time"]
    schema = _arrow_schema(properties, arrow_timestamps)
    text_schema = _arrow_schema(properties, False)
    files: dict[str, list[Path]] = {"parquet": [], "jsonl": [], "one": [workdir / "all.parquet"]}
    chunks = _chunks(count, stamps)
    per_file = max(file_rows // GENERATE_ROWS, 1)
    with pq.ParquetWriter(files["one"][0], schema) as one:
        while True:
            group = list(itertools.islice(chunks, per_file))
            if not group:
                break
            index = len(files["parquet"]) + 1
            files["parquet"].append(workdir / f"contacts-{index}.parquet")
            files["jsonl"].append(workdir / f"contacts-{index}.json.gz")
            with (
                pq.ParquetWriter(files["parquet"][-1], schema) as writer,
                gzip.open(files["jsonl"][-1], "wb") as jsonl,
            ):
                for chunk in group:
                    table = pa.Table.from_pylist(chunk, schema=text_schema)
                    if arrow_timestamps:
                        for name in stamps:
                            i = table.schema.get_field_index(name)
                            column = pc.cast(table[name], schema.field(name).type)
                            table = table.set_column(i, name, column)
                    writer.write_table(table)
                    one.write_table(table)
                    jsonl.write(b"".join(_JSON.encode(r) + b"\n" for r in chunk))
    return files


def write_messages(path: Path, files: list[Path], fmt: str) -> None:
    """SCHEMA, then a BATCH and a STATE per file."""
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(contact_schema()) + "\n")
        for i, file in enumerate(files, start=1):
            batch = {
                "type": "BATCH",
                "stream": "Contact",
                "encoding": {"format": fmt, "compression": "gzip"},
                "manifest": [file.as_uri()],
            }
            out.write(json.dumps(batch) + "\n")
            out.write(json.dumps({"type": "STATE", "value": {"files": i}}) + "\n")


def copy_batches(count: int, shape: StreamShape) -> list[bytes]:
    """The same rows as COPY text, one bytes object per BATCH_ROWS rows (for the baseline)."""
    properties = contact_schema()["schema"]["properties"]
    stamps = [p for p, s in properties.items() if s.get("format") == "date-time"]
    batches: list[bytes] = []
    lines: list[str] = []
    for chunk in _chunks(count, stamps):
        for record in chunk:
            lines.append("\t".join(_copy_text(record.get(c)) for c in shape.columns))
            if len(lines) == BATCH_ROWS:
                batches.append(("\n".join(lines) + "\n").encode())
                lines = []
    if lines:
        batches.append(("\n".join(lines) + "\n").encode())
    return batches


def _shape() -> StreamShape:
    message = contact_schema()
    properties = message["schema"]["properties"]
    return StreamShape(
        name="Contact",
        columns=list(properties),
        types={p: pg_type_for(value_kinds(s)).value for p, s in properties.items()},
        key="Id",
    )


def _mib(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 2**20


def _inputs(workdir: Path, args: argparse.Namespace) -> tuple[dict[str, list[Path]], list[bytes]]:
    """The batch files and the baseline's COPY text; those of an earlier run with the same
    arguments in the same ``--workdir`` are reused (writing 600,000 Contacts takes minutes)."""
    marker, cached = workdir / "inputs.json", workdir / "baseline.copy"
    wanted = [args.records, args.file_rows, args.arrow_timestamps]
    if marker.exists() and cached.exists():
        saved = json.loads(marker.read_text())
        if saved["args"] == wanted:
            data = cached.read_bytes()
            starts = list(itertools.accumulate([0, *saved["sizes"]]))
            batches = [data[a:b] for a, b in itertools.pairwise(starts)]
            files = {lane: [Path(p) for p in paths] for lane, paths in saved["files"].items()}
            return files, batches
    files = write_files(workdir, args.records, args.file_rows, args.arrow_timestamps)
    batches = copy_batches(args.records, _shape())
    cached.write_bytes(b"".join(batches))
    saved = {
        "args": wanted,
        "files": {lane: [str(p) for p in paths] for lane, paths in files.items()},
        "sizes": [len(b) for b in batches],
    }
    marker.write_text(json.dumps(saved))
    return files, batches


def main() -> None:
    """Write the files, run every measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--file-rows", type=int, default=DEFAULT_FILE_ROWS)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--arrow-timestamps", action="store_true")
    parser.add_argument("--no-jsonl", action="store_true", help="measure parquet only")
    parser.add_argument(
        "--workdir", type=Path, help="where to write the files (default: temp; reused if there)"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="target-batch-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    files, batches = _inputs(workdir, args)
    lanes = ["parquet"] if args.no_jsonl else ["parquet", "jsonl"]
    streams = {}
    for lane in [*lanes, "one"]:
        streams[lane] = workdir / f"{lane}.singer"
        write_messages(streams[lane], files[lane], "jsonl" if lane == "jsonl" else "parquet")
    shape = _shape()
    print(f"files written in {time.monotonic() - started:.0f} s", flush=True)

    url = args.database_url
    schemas = _Schemas(url)
    runs: dict[str, list[Run]] = {lane: [] for lane in [*lanes, "one"]}
    merges: list[float] = []
    try:
        for rep in range(args.repeat):
            for lane in lanes:
                config = {
                    "database_url": url,
                    "default_target_schema": schemas.new(),
                    "keep_batch_files": True,
                }
                runs[lane].append(run_target([str(TARGET_BIN)], config, streams[lane]))
            merges.append(baseline_merge(url, schemas.new(), shape, [batches])[0])
            print(
                f"rep {rep + 1}: "
                + ", ".join(f"{lane} {runs[lane][-1].seconds:.1f} s" for lane in lanes)
                + f"; bare merge {merges[-1]:.1f} s",
                flush=True,
            )
        config = {
            "database_url": url,
            "default_target_schema": schemas.new(),
            "keep_batch_files": True,
        }
        runs["one"].append(run_target([str(TARGET_BIN)], config, streams["one"]))
    finally:
        schemas.drop()
    merge = statistics.median(merges)
    n = args.records
    median = f" (medians of {args.repeat})" if args.repeat > 1 else ""
    print(
        f"\n| measurement{median} | records | seconds | records/s | CPU s | x merge | peak RSS | files on disk |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    labels = {
        "parquet": f"target, parquet BATCH files of {args.file_rows:,} rows",
        "jsonl": f"target, jsonl.gz BATCH files of {args.file_rows:,} rows",
        "one": "target, one parquet file of all rows (1 run)",
    }
    for lane, done in runs.items():
        seconds = statistics.median(r.seconds for r in done)
        cpu = statistics.median(r.cpu_seconds for r in done)
        rss = max(r.peak_rss_mib for r in done)
        size = _mib(files[lane])
        print(
            f"| {labels[lane]} | {n:,} | {seconds:.1f} | {n / seconds:,.0f} | {cpu:.1f} |"
            f" {seconds / merge:.2f} | {rss} MiB | {size:,.0f} MiB |"
        )
    print(f"| bare COPY + INSERT ON CONFLICT | {n:,} | {merge:.1f} | {n / merge:,.0f} | | | | |")
    print("\nx merge: the run's seconds over the bare COPY + INSERT ON CONFLICT of the same rows")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
