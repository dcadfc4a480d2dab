"""STATE after a BATCH waits for the file's rows to commit; SIGKILL mid-batch, then a rerun.

A test connection holds a lock on the table to stop the target in the middle of a file: the
target has committed some of the file's chunks and waits for the lock on the next one.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from tests.integration.batch_files import manifest_paths, sdk_batches
from tests.integration.conftest import (
    Db,
    jsonl,
    run_target,
    schema_message,
    start_target,
    state,
)

WAIT_SECONDS = 60
QUIET_SECONDS = 2.0
PROPS: dict[str, Any] = {"id": {"type": "integer"}, "payload": {"type": ["null", "string"]}}


def _rows(start: int, count: int) -> list[dict[str, Any]]:
    return [{"id": i, "payload": f"row {i} " + "x" * 100} for i in range(start, start + count)]


def _send(proc: subprocess.Popen[bytes], text: str, *, close: bool = False) -> None:
    def write() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(text.encode("utf-8"))
            proc.stdin.flush()
            if close:
                proc.stdin.close()
        except BrokenPipeError:
            pass  # the target was killed on purpose

    threading.Thread(target=write, daemon=True).start()


def _next_state(proc: subprocess.Popen[bytes], timeout: float = WAIT_SECONDS) -> Any:
    """The next STATE the target writes, or None if it writes none within ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    line = proc.stdout.readline()
    return json.loads(line) if line else None


def _count(conn: psycopg2.extensions.connection, schema: str) -> int:
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "t")))
        return int(cur.fetchone()[0])


def test_a_state_after_a_batch_is_written_only_once_its_rows_are_committed(
    target_config: dict[str, Any], tmp_path: Path, db: Db, database_url: str, pg_schema: str
) -> None:
    batches = sdk_batches(tmp_path / "b", "t", _rows(1, 50), fmt="parquet")
    proc = start_target(target_config, tmp_path)
    _send(proc, jsonl(schema_message("t", PROPS, ["id"]), state({"n": 0})))
    assert _next_state(proc) == {"n": 0}  # the table exists
    locker = psycopg2.connect(database_url)
    with locker.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {}").format(sql.Identifier(pg_schema, "t")))
        _send(proc, jsonl(*batches, state({"n": 1})), close=True)
        assert _next_state(proc, timeout=QUIET_SECONDS) is None, "STATE before the commit"
    locker.rollback()
    assert _next_state(proc) == {"n": 1}
    assert proc.wait(WAIT_SECONDS) == 0
    assert len(db.select("id", "t")) == 50
    assert not manifest_paths(batches)[0].exists()


def test_killed_in_the_middle_of_a_file_a_rerun_from_the_last_state_converges(
    target_config: dict[str, Any], tmp_path: Path, db: Db, database_url: str, pg_schema: str
) -> None:
    first = sdk_batches(tmp_path / "1", "t", _rows(1, 100), fmt="parquet")
    second = sdk_batches(tmp_path / "2", "t", _rows(101, 3000), fmt="parquet")
    messages = jsonl(
        schema_message("t", PROPS, ["id"]), *first, state({"n": 1}), *second, state({"n": 2})
    )
    config = {**target_config, "batch_size_rows": 100}  # 30 chunks in the second file
    proc = start_target(config, tmp_path)
    _send(proc, messages, close=True)
    assert _next_state(proc) == {"n": 1}
    locker = psycopg2.connect(database_url)
    deadline = time.monotonic() + WAIT_SECONDS
    while _count(locker, pg_schema) <= 100:  # wait for a first chunk of the second file
        locker.rollback()
        assert time.monotonic() < deadline, "the second file never started"
        time.sleep(0.005)
    locker.rollback()
    with locker.cursor() as cur:
        cur.execute(sql.SQL("LOCK TABLE {}").format(sql.Identifier(pg_schema, "t")))
    loaded = _count(locker, pg_schema)
    assert 100 < loaded < 3100, "the target finished before the kill; nothing was tested"
    proc.send_signal(signal.SIGKILL)
    proc.wait(WAIT_SECONDS)
    locker.rollback()
    locker.close()
    assert _next_state(proc, timeout=0.1) is None, "no STATE for a file not fully committed"
    assert not manifest_paths(first)[0].exists()
    assert manifest_paths(second)[0].exists(), "a file not fully loaded is kept"

    # The orchestrator reruns the tap from {"n": 1}: it sends the second batch again.
    rerun = run_target(
        config, jsonl(schema_message("t", PROPS, ["id"]), *second, state({"n": 2})), tmp_path
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states == [{"n": 2}]
    ids = [r["id"] for r in db.select("id", "t", order_by="id")]
    assert ids == list(range(1, 3101))
    assert not manifest_paths(second)[0].exists()
