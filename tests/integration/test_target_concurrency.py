"""Two targets writing the same rows at once: the transaction PostgreSQL aborts is run again.

Made deterministic with a barrier inside PostgreSQL: a trigger on the table waits, at one
chosen row, on an advisory lock the test holds. Both targets are started on the same Contacts
(in opposite orders, or the same order under SERIALIZABLE), the test waits until both sessions
are stuck where it wants them, then lets go, and PostgreSQL must abort one: with a deadlock
(``40P01``) when each holds rows the other needs, with a serialization failure (``40001``) when
one waited for a row the other changed. Each run must end with exit code 0 and its last STATE,
and the table must equal the emulator's data.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql

from tests.fake_salesforce import FakeSalesforce
from tests.integration.conftest import TARGET_BIN, Db, run_target, write_config
from tests.integration.tap_runner import TapRun, run_tap, tap_config

CONTACTS = 300
BARRIER_TIMEOUT_SECONDS = 60
RUN_TIMEOUT_SECONDS = 120


def split_lines(run: TapRun) -> tuple[list[str], list[str], list[str]]:
    """The tap's output as (lines before the first RECORD, RECORD lines, every other line)."""
    lines = run.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith('{"type":"RECORD"'))
    head = lines[:first]
    records = [line for line in lines[first:] if line.startswith('{"type":"RECORD"')]
    rest = [line for line in lines[first:] if not line.startswith('{"type":"RECORD"')]
    return head, records, rest


def write_input(path: Path, head: list[str], records: list[str], rest: list[str]) -> Path:
    path.write_text("\n".join([*head, *records, *rest]) + "\n")
    return path


@contextmanager
def barrier(conn: Any, schema: str, table: str, key: str) -> Iterator[int]:
    """A trigger that makes any session writing ``key`` wait on an advisory lock we hold."""
    lock = random.randint(1, 2**31 - 1)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE FUNCTION {}.barrier() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                " IF NEW.salesforce_id = {} THEN PERFORM pg_advisory_lock_shared({});"
                " PERFORM pg_advisory_unlock_shared({}); END IF; RETURN NEW; END $$"
            ).format(sql.Identifier(schema), sql.Literal(key), sql.Literal(lock), sql.Literal(lock))
        )
        cur.execute(
            sql.SQL(
                "CREATE TRIGGER barrier BEFORE INSERT ON {} FOR EACH ROW EXECUTE FUNCTION {}.barrier()"
            ).format(sql.Identifier(schema, table), sql.Identifier(schema))
        )
        cur.execute("SELECT pg_advisory_lock(%s)", (lock,))
    try:
        yield lock
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock_all()")


def waiting(conn: Any, application: str, lock: int) -> tuple[int, int]:
    """(sessions of ``application`` waiting at the barrier, those waiting for a row lock)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE l.locktype = 'advisory' AND l.objid = %s),"
            " count(*) FILTER (WHERE l.locktype = 'transactionid')"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.application_name = %s",
            (lock, application),
        )
        row = cur.fetchone()
    return int(row[0]), int(row[1])


def start(
    config: dict[str, Any], stdin: Path, directory: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with stdin.open("rb") as handle:
        return subprocess.Popen(
            [str(TARGET_BIN), "--config", str(write_config(directory, config))],
            stdin=handle,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )


@pytest.fixture
def changed_contacts(
    make_fake_salesforce: Callable[..., FakeSalesforce],
    database_url: str,
    pg_schema: str,
    tmp_path: Path,
) -> tuple[FakeSalesforce, TapRun, dict[str, Any]]:
    """The Contacts loaded once, then every one changed in Salesforce and read again."""
    sf = make_fake_salesforce(contacts=CONTACTS, accounts=2)
    first = run_tap(tap_config(sf))
    application = f"tpu-concurrency-{uuid.uuid4().hex[:8]}"
    url = f"{database_url}{'&' if '?' in database_url else '?'}application_name={application}"
    config = {"database_url": url, "default_target_schema": pg_schema}
    loaded = run_target(config, first.stdout, tmp_path)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    ids = [r["Id"] for r in first.records("Contact")]
    sf.update_records("Contact", ids=ids, fields={"Title": "Changed while two runs load"})
    return sf, run_tap(tap_config(sf), state=first.last_state), config


def run_both_through_barrier(
    config: dict[str, Any],
    inputs: tuple[Path, Path],
    key: str,
    want: tuple[int, int],
    conn: Any,
    directory: Path,
    env: dict[str, str],
) -> list[tuple[int, str, str]]:
    """Start a target on each input, release the barrier once ``waiting`` says ``want``."""
    application = config["database_url"].rsplit("application_name=", 1)[1]
    with barrier(conn, config["default_target_schema"], "contact", key) as lock:
        procs = [start(config, path, directory, env) for path in inputs]
        deadline = time.monotonic() + BARRIER_TIMEOUT_SECONDS
        seen = (0, 0)
        while seen != want and time.monotonic() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.05)
            seen = waiting(conn, application, lock)
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=RUN_TIMEOUT_SECONDS)
        results.append((proc.returncode, out.decode(), err.decode()))
    assert seen == want, f"the sessions never met at the barrier ({seen}):\n" + "\n".join(
        r[2][-1500:] for r in results
    )
    return results


def assert_table_is_salesforce(db: Db, sf: FakeSalesforce) -> None:
    truth = {row["Id"]: row["Title"] for row in sf.truth("Contact")}
    rows = db.select("salesforce_id, title", "contact")
    assert len(rows) == len(truth), "no row lost or duplicated"
    assert {r["salesforce_id"]: r["title"] for r in rows} == truth


def test_deadlock_between_two_targets_is_retried_and_both_finish(
    changed_contacts: tuple[FakeSalesforce, TapRun, dict[str, Any]],
    pg_conn: Any,
    db: Db,
    tmp_path: Path,
) -> None:
    sf, changes, config = changed_contacts
    head, records, rest = split_lines(changes)
    assert len(records) == len(list(sf.truth("Contact")))
    forward = write_input(tmp_path / "forward.jsonl", head, records, rest)
    backward = write_input(tmp_path / "backward.jsonl", head, records[::-1], rest)
    middle = changes.records("Contact")[len(records) // 2]["Id"]
    env = {k: v for k, v in os.environ.items() if k != "PGOPTIONS"}

    results = run_both_through_barrier(
        config, (forward, backward), middle, (2, 0), pg_conn, tmp_path, env
    )

    for returncode, _, stderr in results:
        assert returncode == 0, stderr[-3000:]
    retried = [err for _, _, err in results if "40P01 deadlock detected" in err]
    assert len(retried) == 1, "PostgreSQL aborts exactly one of the two; it runs it again"
    assert "running it again in" in retried[0]
    for _, stdout, _ in results:
        assert stdout.splitlines()[-1] == json.dumps(changes.last_state, separators=(",", ":"))
    assert_table_is_salesforce(db, sf)


def test_serialization_failure_is_retried_and_both_finish(
    changed_contacts: tuple[FakeSalesforce, TapRun, dict[str, Any]],
    pg_conn: Any,
    db: Db,
    tmp_path: Path,
) -> None:
    sf, changes, config = changed_contacts
    head, records, rest = split_lines(changes)
    first = write_input(tmp_path / "first.jsonl", head, records, rest)
    # The same order: the second session waits for the first one's first row, which the first
    # one changes and commits once released; under SERIALIZABLE that is 40001 for the second.
    second = write_input(tmp_path / "second.jsonl", head, records, rest)
    last = changes.records("Contact")[-1]["Id"]
    env = {
        **os.environ,
        "PGOPTIONS": "-c default_transaction_isolation=serializable",
    }
    procs_input = (first, second)

    results = run_both_through_barrier(config, procs_input, last, (1, 1), pg_conn, tmp_path, env)

    for returncode, _, stderr in results:
        assert returncode == 0, stderr[-3000:]
    retried = [err for _, _, err in results if "40001 serialization failure" in err]
    assert len(retried) == 1
    assert_table_is_salesforce(db, sf)
