"""What the emulator served, for tests and benchmarks to assert on."""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    """Thread-safe counts of calls, jobs, pages, rows and bytes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        with getattr(self, "_lock", threading.Lock()):
            self.api_calls = 0
            self.auth_calls: Counter[str] = Counter()
            self.requests_by_kind: Counter[str] = Counter()
            self.jobs_created = 0
            self.pages_served = 0
            self.rows_served = 0
            self.bytes_served = 0
            self.result_requests = 0
            self.queries: list[str] = []
            self.aborted_jobs = 0
            self.deleted_jobs = 0

    def add(self, name: str, amount: int = 1) -> None:
        """Increase an integer counter."""
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def count_kind(self, kind: str) -> None:
        """Count one request of a kind."""
        with self._lock:
            self.requests_by_kind[kind] += 1

    def count_auth(self, grant: str) -> None:
        """Count one authentication call by grant (or "soap_login")."""
        with self._lock:
            self.auth_calls[grant] += 1

    def record_query(self, soql: str) -> None:
        """Remember the SOQL of a created job."""
        with self._lock:
            self.jobs_created += 1
            self.queries.append(soql)

    def snapshot(
        self, jobs_by_state: dict[str, int], faults_fired: dict[str, int]
    ) -> dict[str, object]:
        """A plain dict of every counter."""
        with self._lock:
            return {
                "api_calls": self.api_calls,
                "auth_calls": dict(self.auth_calls),
                "requests_by_kind": dict(self.requests_by_kind),
                "jobs_created": self.jobs_created,
                "jobs_by_state": jobs_by_state,
                "pages_served": self.pages_served,
                "rows_served": self.rows_served,
                "bytes_served": self.bytes_served,
                "result_requests": self.result_requests,
                "queries": list(self.queries),
                "aborted_jobs": self.aborted_jobs,
                "deleted_jobs": self.deleted_jobs,
                "faults_fired": faults_fired,
            }
