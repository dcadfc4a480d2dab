"""The loader thread: database work in input order, and STATE written only after the commits.

The main thread reads and formats records while this thread COPYs and merges the previous batch
(PostgreSQL does that work in its own process, so the two overlap on two cores). Everything goes
through one FIFO queue: batches, DDL calls whose result the main thread waits for, and STATE
messages. Because the queue is ordered and this thread commits each batch before it takes the
next item, a STATE is written only after every batch queued before it is committed; the target
queues a STATE only once every record that came before it has been queued (see ``target.py``).

After the first failure nothing else runs: later batches and STATEs are dropped, so no STATE is
ever written for rows that were not committed.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import psycopg2

from target_postgres_upsert.db import ConflictRetriesExhaustedError, Database
from target_postgres_upsert.errors import DatabaseError, TargetError, first_line

LOGGER = logging.getLogger(__name__)

# Batches queued or being written at once; with the one being filled that bounds memory at
# three batches, and one in flight is all the overlap two cores can use.
MAX_BATCHES_IN_FLIGHT = 2

T = TypeVar("T")
Job = Callable[[Database], Any]


class _Item:
    __slots__ = ("batch", "future", "job", "state")

    def __init__(
        self,
        job: Job | None = None,
        state: dict[str, Any] | None = None,
        future: Future[Any] | None = None,
        *,
        batch: bool = False,
    ) -> None:
        self.job = job
        self.state = state
        self.future = future
        self.batch = batch  # holds one of the MAX_BATCHES_IN_FLIGHT slots


_STOP = _Item()


class Loader:
    """Runs jobs on one connection in a background thread, in the order they are submitted."""

    def __init__(
        self,
        connect: Callable[[], Database],
        write_state: Callable[[dict[str, Any]], None],
        redact: Callable[[str], str],
    ) -> None:
        """Start the thread; the connection is opened by the first job."""
        self._connect = connect
        self._write_state = write_state
        self._redact = redact
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._slots = threading.BoundedSemaphore(MAX_BATCHES_IN_FLIGHT)
        self._error: BaseException | None = None
        self._db: Database | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="loader", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True once a job failed (nothing more will be written)."""
        return self._error is not None

    @property
    def closed(self) -> bool:
        """True once ``close`` or ``abort`` was called."""
        return self._closed

    def submit_batch(self, job: Job, future: Future[Any] | None = None) -> None:
        """Queue a batch job; blocks while ``MAX_BATCHES_IN_FLIGHT`` batches are pending.

        ``future``, if given, gets the job's result (or the error that stopped the loader).
        """
        self._raise_if_failed()
        self._slots.acquire()
        self._queue.put(_Item(job=job, future=future, batch=True))

    def submit_job(self, job: Job) -> None:
        """Queue a job that is not a batch (no back-pressure: such jobs are small and rare)."""
        self._raise_if_failed()
        self._queue.put(_Item(job=job))

    def submit_state(self, state: dict[str, Any]) -> None:
        """Write ``state`` once everything queued before it is committed."""
        self._raise_if_failed()
        self._queue.put(_Item(state=state))

    def call(self, job: Callable[[Database], T]) -> T:
        """Run ``job`` after everything queued before it, and return its result."""
        self._raise_if_failed()
        future: Future[T] = Future()
        self._queue.put(_Item(job=job, future=future))
        return future.result()

    def close(self) -> None:
        """Wait until every queued item is done, close the connection, raise the first error."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_if_failed()

    def abort(self) -> None:
        """Stop without waiting for queued work (after a failure)."""
        if not self._closed:
            self._closed = True
            self._error = self._error or DatabaseError("stopped")
            self._queue.put(_STOP)
            self._thread.join()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            try:
                if self._error is not None:
                    if item.future is not None:
                        item.future.set_exception(self._error)
                    continue
                if item.state is not None:
                    self._write_state(item.state)
                    continue
                assert item.job is not None
                result = item.job(self._database())
                if item.future is not None:
                    item.future.set_result(result)
            except BaseException as exc:  # handed to the main thread
                self._error = self._translate(exc)
                if item.future is not None:
                    item.future.set_exception(self._error)
            finally:
                if item.batch:
                    self._slots.release()
        if self._db is not None:
            with contextlib.suppress(psycopg2.Error):
                self._db.close()

    def _database(self) -> Database:
        if self._db is None:
            try:
                self._db = self._connect()
            except psycopg2.Error as exc:
                message = self._redact(first_line(str(exc)))
                raise DatabaseError(f"cannot connect to PostgreSQL: {message}") from None
        return self._db

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, TargetError):
            return exc
        if isinstance(exc, ConflictRetriesExhaustedError):
            return DatabaseError(self._redact(str(exc)))
        if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
            message = self._redact(first_line(str(exc)))
            return DatabaseError(f"lost the connection to PostgreSQL: {message}")
        if isinstance(exc, psycopg2.Error):
            message = self._redact(first_line(getattr(exc, "pgerror", None) or str(exc)))
            return DatabaseError(f"PostgreSQL refused a statement: {message}")
        LOGGER.exception("Loader failed")
        return exc
