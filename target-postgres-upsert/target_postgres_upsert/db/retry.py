"""A transaction PostgreSQL aborts to settle a conflict with another session is run again, whole.

Several runs can load one database at once (one Meltano job per object, or a slow run that
overlaps the next one of the same job). When two transactions lock the same rows in opposite
orders PostgreSQL aborts one of them with ``40P01 deadlock_detected``; at the serializable or
repeatable read isolation levels (a role or database default) a write to a row another
transaction changed meanwhile fails with ``40001 serialization_failure``. Both mean "nothing of
this transaction happened; run it again": https://www.postgresql.org/docs/15/mvcc-serialization-failure-handling.html
Every method of ``Database`` is one transaction that can be run again from the start (a batch's
COPY data is made again from its rows), so it is retried after a rollback, with a capped,
jittered exponential backoff, at most ``MAX_ATTEMPTS`` times, and the log says so each time.
The policy is pure functions with the sleep and the random source injectable, so tests run
instantly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg2
import psycopg2.extensions

LOGGER = logging.getLogger(__name__)

#: SQLSTATE -> what PostgreSQL means by it (both roll the whole transaction back).
RETRYABLE_SQLSTATES = {
    "40P01": "deadlock detected",
    "40001": "serialization failure",
}
MAX_ATTEMPTS = 6
FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 5.0

T = TypeVar("T")


class ConflictRetriesExhaustedError(Exception):
    """A transaction still conflicted with other sessions after ``MAX_ATTEMPTS`` tries."""


def retryable_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of ``exc`` if it is a conflict worth running the transaction again for."""
    code = getattr(exc, "pgcode", None) if isinstance(exc, psycopg2.Error) else None
    return code if code in RETRYABLE_SQLSTATES else None


def delay_seconds(attempt: int, jitter: Callable[[], float] = random.random) -> float:
    """The wait before try ``attempt + 1``: doubling from ``FIRST_DELAY_SECONDS``, capped at
    ``MAX_DELAY_SECONDS``, times a random factor in [0.5, 1) so that the sessions that collided
    do not meet again at the same instant."""
    base = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (attempt - 1))
    return float(base * (0.5 + jitter() / 2))


def run_transaction(
    conn: psycopg2.extensions.connection,
    work: Callable[[], T],
    what: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> T:
    """Run ``work`` (one whole transaction that commits itself) until it is not aborted by a
    conflict; ``what`` names it in the log ("loading 10000 rows into public.contact")."""
    attempt = 1
    while True:
        try:
            return work()
        except psycopg2.Error as exc:
            code = retryable_sqlstate(exc)
            if code is None:
                raise
            conn.rollback()
            reason = f"{code} {RETRYABLE_SQLSTATES[code]}"
            if attempt >= MAX_ATTEMPTS:
                msg = (
                    f"{what}: PostgreSQL aborted the transaction {attempt} times ({reason}: "
                    "other sessions keep writing the same rows); rerun, or run fewer jobs at "
                    "once on the same tables"
                )
                raise ConflictRetriesExhaustedError(msg) from None
            delay = delay_seconds(attempt, jitter)
            LOGGER.warning(
                "%s: PostgreSQL aborted the transaction (%s: another session holds the same "
                "rows); running it again in %.1f s (attempt %d of %d)",
                what,
                reason,
                delay,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            sleep(delay)
            attempt += 1
