"""The parquet lane's record of Ids already handed out lives in a temporary file, not in memory."""

from __future__ import annotations

import gc
import os

import pyarrow as pa

from tap_salesforce_bulk.salesforce.arrow_pages import SentIds


def test_nothing_handed_out_reads_none() -> None:
    sent = SentIds()
    assert sent.read() is None
    sent.close()


def test_ids_read_back_in_order_and_more_can_follow() -> None:
    sent = SentIds()
    sent.add(pa.array(["001A", "001B"]))
    sent.add(pa.array([], pa.string()))
    assert sent.read().to_pylist() == ["001A", "001B"]
    sent.add(pa.array(["001C"]))
    assert sent.read().to_pylist() == ["001A", "001B", "001C"]
    sent.close()


def test_the_arrays_added_are_not_kept_alive() -> None:
    pool = pa.default_memory_pool()
    sent = SentIds()
    before = pool.bytes_allocated()
    for start in range(0, 200_000, 20_000):
        ids = pa.array([f"003{n:015d}" for n in range(start, start + 20_000)])
        sent.add(ids)
        del ids
    gc.collect()
    assert pool.bytes_allocated() - before < 1_000_000, "Ids stay in memory"
    assert len(sent.read()) == 200_000
    sent.close()


def test_closing_removes_the_file() -> None:
    sent = SentIds()
    sent.add(pa.array(["001A"]))
    fd = sent._file.fileno()  # type: ignore[union-attr]
    sent.close()
    try:
        os.fstat(fd)
    except OSError:
        return
    raise AssertionError("the temporary file is still open")
