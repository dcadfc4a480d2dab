"""Progress lines for long work: job states while Salesforce runs a query, then records/s and ETA."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tap_salesforce_bulk.salesforce.bulk import JobInfo

PROGRESS_INTERVAL_SECONDS = 15.0


def format_eta(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s`` or ``?``."""
    if seconds is None or seconds < 0:
        return "?"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class JobProgress:
    """Logs one job's state changes, then its download progress at a steady interval."""

    def __init__(
        self,
        logger: logging.Logger,
        stream: str,
        job_id: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval_seconds: float = PROGRESS_INTERVAL_SECONDS,
    ) -> None:
        self._logger = logger
        self._stream = stream
        self._job_id = job_id
        self._clock = clock
        self._interval = interval_seconds
        self._last_state: str | None = None
        self._last_log = clock()
        self._started = clock()
        self._reading_since: float | None = None
        self.total: int | None = None
        self.records = 0
        self.pages = 0

    def on_poll(self, info: JobInfo) -> None:
        """Log when the job changes state, and every interval while it runs."""
        now = self._clock()
        state = str(info.state)
        if state != self._last_state or now - self._last_log >= self._interval:
            processed = (
                f", {info.records_processed:,} records processed"
                if info.records_processed is not None
                else ""
            )
            self._logger.info(
                "%s: Bulk job %s is %s after %s%s",
                self._stream,
                self._job_id,
                state,
                format_eta(now - self._started),
                processed,
            )
            self._last_state, self._last_log = state, now

    def start_reading(self, total: int | None) -> None:
        """The job finished; downloading begins."""
        self.total = total
        self._reading_since = self._clock()
        self._last_log = self._reading_since

    def rate(self) -> float:
        """Records per second since downloading began."""
        elapsed = self._clock() - (self._reading_since or self._started)
        return self.records / elapsed if elapsed > 0 else 0.0

    def on_records(self, count: int, *, page_done: bool = False) -> None:
        """Count records; log at the interval and after each page."""
        self.records += count
        if page_done:
            self.pages += 1
        now = self._clock()
        if page_done or now - self._last_log >= self._interval:
            self._last_log = now
            rate = self.rate()
            if self.total:
                left = max(0, self.total - self.records)
                eta = format_eta(left / rate) if rate else "?"
                share = f" of {self.total:,} ({100.0 * self.records / self.total:.0f}%)"
            else:
                eta, share = "?", ""
            self._logger.info(
                "%s: job %s: %d page(s), %s records%s, %.0f records/s, ETA %s",
                self._stream,
                self._job_id,
                self.pages,
                f"{self.records:,}",
                share,
                rate,
                eta,
            )
