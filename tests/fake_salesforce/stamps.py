"""Base CreatedDate / LastModifiedDate / SystemModstamp of every generated row, without rows.

Rows come in tie groups of ``TIE_GROUP_ROWS`` consecutive rows sharing one SystemModstamp, and
one large block (a "mass update") shares a single stamp, because real orgs are full of ties and
an incremental sync must survive them. Stamps never decrease with the row number, so a SOQL
range on SystemModstamp maps to a row range found by bisection; result order is shuffled
separately. Every stamp has non-zero milliseconds.
"""

from __future__ import annotations

import bisect
import datetime as dt
from array import array

from tests.fake_salesforce.clock import csv_datetime, epoch_ms

TIE_GROUP_ROWS = 7
BASE_START_MS = epoch_ms(dt.datetime(2022, 1, 3, 9, 15, 0, 137_000, tzinfo=dt.UTC))
BASE_SPAN_MS = 3 * 365 * 86_400_000
MIN_STEP_MS = 1_237
BIG_TIE_MAX_ROWS = 5_000
MAX_CREATED_AGE_DAYS = 400
MS_PER_DAY = 86_400_000


class BaseStamps:
    """Timestamps of rows ``0 .. rows-1`` as generated (before any emulated change)."""

    def __init__(self, rows: int, seed: int) -> None:
        self.rows = rows
        groups = max(1, (rows + TIE_GROUP_ROWS - 1) // TIE_GROUP_ROWS)
        step = max(MIN_STEP_MS, BASE_SPAN_MS // groups)
        if step % 1000 == 0:
            step += 7
        big_start = (rows // 3) // TIE_GROUP_ROWS
        big_groups = max(1, min(BIG_TIE_MAX_ROWS, rows // 10) // TIE_GROUP_ROWS)
        self.big_tie_rows = range(
            big_start * TIE_GROUP_ROWS, (big_start + big_groups) * TIE_GROUP_ROWS
        )
        self.modstamp_ms = array("q")
        self.created_ms = array("q")
        self.last_modified_ms = array("q")
        for group in range(groups):
            anchor = big_start if big_start <= group < big_start + big_groups else group
            stamp = BASE_START_MS + anchor * step + (anchor * 37 + seed) % 997
            self.modstamp_ms.append(stamp)
            age_days = (group * 7919 + seed * 13) % MAX_CREATED_AGE_DAYS
            self.created_ms.append(stamp - age_days * MS_PER_DAY - (group * 61) % 86_399_000 - 1)
            lag = 0 if group % 13 else 1000 * ((group * 31) % 3600) + 250
            self.last_modified_ms.append(stamp - lag)
        self.modstamp_cells = [f'"{csv_datetime(ms)}"' for ms in self.modstamp_ms]
        self.created_cells = [f'"{csv_datetime(ms)}"' for ms in self.created_ms]
        self.last_modified_cells = [
            cell if lm == ms else f'"{csv_datetime(lm)}"'
            for cell, lm, ms in zip(
                self.modstamp_cells, self.last_modified_ms, self.modstamp_ms, strict=True
            )
        ]

    @property
    def max_ms(self) -> int:
        """The latest base SystemModstamp."""
        return self.modstamp_ms[-1]

    def rows_at_or_after(self, epoch: int) -> int:
        """First row whose SystemModstamp is >= ``epoch`` (``rows`` when none)."""
        return min(self.rows, bisect.bisect_left(self.modstamp_ms, epoch) * TIE_GROUP_ROWS)

    def rows_after(self, epoch: int) -> int:
        """First row whose SystemModstamp is > ``epoch`` (``rows`` when none)."""
        return min(self.rows, bisect.bisect_right(self.modstamp_ms, epoch) * TIE_GROUP_ROWS)
