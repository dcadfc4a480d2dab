"""The whole-transaction retry on deadlocks and serialization failures (db/retry.py), instantly."""

from __future__ import annotations

from typing import Any

import psycopg2
import psycopg2.errors
import pytest

from target_postgres_upsert.db import retry


class Deadlock(psycopg2.errors.DeadlockDetected):
    pgcode = "40P01"


class SerializationFailure(psycopg2.errors.SerializationFailure):
    pgcode = "40001"


class UniqueViolation(psycopg2.errors.UniqueViolation):
    pgcode = "23505"


class FakeConnection:
    def __init__(self) -> None:
        self.rollbacks = 0

    def rollback(self) -> None:
        self.rollbacks += 1


def failing(*errors: Exception) -> Any:
    """A transaction that raises ``errors`` in turn, then returns "done"."""
    pending = list(errors)

    def work() -> str:
        if pending:
            raise pending.pop(0)
        return "done"

    return work


def test_deadlock_and_serialization_failure_run_the_transaction_again_after_a_rollback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn, sleeps = FakeConnection(), []
    result = retry.run_transaction(
        conn,  # type: ignore[arg-type]
        failing(Deadlock("d"), SerializationFailure("s")),
        "loading 10 rows into public.contact",
        sleep=sleeps.append,
        jitter=lambda: 0.0,
    )
    assert result == "done"
    assert conn.rollbacks == 2
    assert sleeps == [0.1, 0.2]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == (
        "loading 10 rows into public.contact: PostgreSQL aborted the transaction (40P01 deadlock"
        " detected: another session holds the same rows); running it again in 0.1 s (attempt 2"
        f" of {retry.MAX_ATTEMPTS})"
    )
    assert "40001 serialization failure" in messages[1]


def test_other_errors_are_not_retried() -> None:
    conn = FakeConnection()
    with pytest.raises(UniqueViolation):
        retry.run_transaction(conn, failing(UniqueViolation("u")), "x", sleep=lambda _: None)  # type: ignore[arg-type]
    assert conn.rollbacks == 0


def test_gives_up_after_max_attempts_with_one_line_saying_what_to_do() -> None:
    conn = FakeConnection()
    errors = [Deadlock("d") for _ in range(retry.MAX_ATTEMPTS)]
    with pytest.raises(retry.ConflictRetriesExhaustedError) as raised:
        retry.run_transaction(
            conn, failing(*errors), "loading 5 rows into s.t", sleep=lambda _: None
        )  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"loading 5 rows into s.t: PostgreSQL aborted the transaction {retry.MAX_ATTEMPTS} times"
        " (40P01 deadlock detected: other sessions keep writing the same rows); rerun, or run"
        " fewer jobs at once on the same tables"
    )
    assert conn.rollbacks == retry.MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(1, 0.0, 0.1), (1, 1.0, 0.2), (2, 0.0, 0.2), (3, 0.0, 0.4), (10, 0.0, 2.5), (10, 1.0, 5.0)],
)
def test_delay_doubles_is_capped_and_jittered(attempt: int, jitter: float, expected: float) -> None:
    assert retry.delay_seconds(attempt, lambda: jitter) == pytest.approx(expected)


def test_total_wait_before_giving_up_is_bounded() -> None:
    worst = sum(retry.delay_seconds(a, lambda: 1.0) for a in range(1, retry.MAX_ATTEMPTS))
    assert worst < 15, "a run gives up within seconds, not minutes"
