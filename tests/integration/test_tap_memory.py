"""Peak memory of the tap stays flat as the record count grows tenfold (60,000 -> 600,000).

Default settings: no ``maxRecords``, so each job's results come as one page of up to 1 GB of
CSV (Salesforce's default), the case where anything kept per row of a page adds up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks.common import BIN, emulator, run_measured

PEAK_RSS_LIMIT_MB = 200


def peak_rss_mb(contacts: int, tmp_path: Path) -> tuple[float, int]:
    with emulator(contacts) as sf:
        config = tmp_path / f"tap-{contacts}.json"
        config.write_text(json.dumps(sf.tap_config()))
        sf.reset()
        measured = run_measured([str(BIN / "tap-salesforce-bulk"), "--config", str(config)])
        assert measured.returncode == 0
        return measured.peak_rss_mb, sf.rows_served_since_reset()


@pytest.mark.slow
def test_peak_memory_is_flat_between_60k_and_600k_records(tmp_path: Path) -> None:
    small, small_rows = peak_rss_mb(60_000, tmp_path)
    large, large_rows = peak_rss_mb(600_000, tmp_path)
    print(
        f"tap peak RSS: {small:.0f} MB for {small_rows:,} records, {large:.0f} MB for {large_rows:,}"
    )
    assert large_rows > 9 * small_rows
    assert large < PEAK_RSS_LIMIT_MB
    assert large <= small * 1.15 + 10, f"peak RSS grew from {small:.0f} MB to {large:.0f} MB"
