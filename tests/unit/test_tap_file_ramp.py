"""A stream's first batch files are small so the target starts loading at once."""

from __future__ import annotations

from tap_salesforce_bulk.batch_files import FIRST_FILE_ROWS, file_rows_limit


def test_files_double_from_the_first_up_to_batch_size() -> None:
    sizes = [file_rows_limit(n, 50_000) for n in range(1, 8)]
    assert sizes == [FIRST_FILE_ROWS, 10_000, 20_000, 40_000, 50_000, 50_000, 50_000]


def test_a_batch_size_below_the_first_file_is_kept_from_the_start() -> None:
    assert [file_rows_limit(n, 300) for n in (1, 2, 50)] == [300, 300, 300]


def test_a_long_stream_does_not_overflow_the_ramp() -> None:
    assert file_rows_limit(10_000, 1_000_000) == 1_000_000
