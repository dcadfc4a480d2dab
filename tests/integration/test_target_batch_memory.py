"""Peak memory of the target stays flat when one parquet BATCH file grows tenfold.

One file (a tap may write a whole result page, or a whole sync, as one file) of 20,000, then
200,000 wide rows in row groups of 10,000. The target reads it a chunk at a time; pyarrow's
pre-buffering, which it turns off, kept every column chunk read until the file was closed (the
peak grew with the file: 301 -> 366 MB here before).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.benchmarks.common import BIN, run_measured
from tests.integration.batch_files import batch_message
from tests.integration.conftest import Db, jsonl, schema_message, write_config

COLUMNS = 30
ROW_GROUP_ROWS = 10_000
SMALL_ROWS = 60_000  # past the first chunks, when the buffers of both threads have grown
LARGE_ROWS = 300_000
# Measured: +11 to +32 MB (allocator warm-up in two threads), +40 once during a full test run on
# a loaded machine; before the fix +65 MB.
GROWTH_LIMIT_MB = 50


def _file(path: Path, rows: int) -> str:
    """``rows`` rows of distinct text (so it does not compress away), row groups of 10,000."""
    numbers = pc.cast(pa.array(range(rows)), pa.string())
    table = pa.table(
        {"Id": numbers}
        | {
            f"Field{c}": pc.binary_join_element_wise(
                numbers, f"{c} Some Street, like an address or a title", " "
            )
            for c in range(COLUMNS)
        }
    )
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS)
    return path.as_uri()


@pytest.mark.slow
def test_peak_memory_is_flat_from_a_small_to_a_large_parquet_file(
    target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    properties = {"Id": {"type": "string"}} | {
        f"Field{c}": {"type": ["null", "string"]} for c in range(COLUMNS)
    }
    peaks = {}
    for rows in (SMALL_ROWS, LARGE_ROWS):
        url = _file(tmp_path / f"{rows}.parquet", rows)
        messages = tmp_path / f"{rows}.singer"
        messages.write_text(
            jsonl(
                schema_message(f"Wide{rows}", properties, ["Id"]),
                batch_message(f"Wide{rows}", [url], "parquet"),
            )
        )
        config = write_config(tmp_path, target_config)
        with messages.open("rb") as stdin:
            measured = run_measured(
                [str(BIN / "target-postgres-upsert"), "--config", str(config)], stdin=stdin
            )
        assert measured.returncode == 0
        assert len(db.select("1", f"wide{rows}")) == rows
        peaks[rows] = measured.peak_rss_mb
    print(json.dumps(peaks))
    assert peaks[LARGE_ROWS] <= peaks[SMALL_ROWS] + GROWTH_LIMIT_MB, peaks
