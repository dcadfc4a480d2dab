"""STATE is written only after everything before it is committed; it keeps moving; failures."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2.extensions

from tests.integration.conftest import (
    Db,
    jsonl,
    record,
    run_target,
    schema_message,
    start_target,
    state,
)

WAIT_SECONDS = 30


def _feed(proc: subprocess.Popen[bytes], text: str, *, close: bool) -> threading.Thread:
    """Write to the target's stdin from a thread (a full pipe must not block the test)."""

    def write() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(text.encode("utf-8"))
            proc.stdin.flush()
            if close:
                proc.stdin.close()
        except BrokenPipeError:
            pass  # the target was killed on purpose

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _finish(proc: subprocess.Popen[bytes], feeder: threading.Thread) -> tuple[str, str]:
    """Wait for the feeder (which closed stdin) and the target; its stdout and stderr."""
    feeder.join(WAIT_SECONDS)
    proc.stdin = None  # closed by the feeder; communicate() must not flush it
    out, err = proc.communicate(timeout=WAIT_SECONDS)
    return out.decode(), err.decode()


def _read_state(proc: subprocess.Popen[bytes], timeout: float = WAIT_SECONDS) -> Any:
    """The next STATE line the target writes, or fail after ``timeout`` seconds."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no STATE within the timeout"
    line = proc.stdout.readline()
    assert line, "stdout closed"
    return json.loads(line)


def _interleaved_streams(records: int, every: int) -> tuple[str, list[dict[str, int]]]:
    """Two streams, A twice as busy as B, with a STATE of both counts every ``every`` records."""
    props = {"id": {"type": "integer"}, "payload": {"type": "string"}}
    messages = [schema_message("A", props, ["id"]), schema_message("B", props, ["id"])]
    counts = {"a": 0, "b": 0}
    states = []
    for i in range(1, records + 1):
        stream = "B" if i % 3 == 0 else "A"
        counts[stream.lower()] += 1
        messages.append(record(stream, {"id": counts[stream.lower()], "payload": "x" * 200}))
        if i % every == 0:
            states.append(dict(counts))
            messages.append(state(dict(counts)))
    return jsonl(*messages), states


def test_killed_right_after_a_state_the_tables_hold_everything_before_it(
    target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    messages, sent_states = _interleaved_streams(records=6000, every=100)
    proc = start_target({**target_config, "batch_size_rows": 250}, tmp_path)
    feeder = _feed(proc, messages, close=True)
    seen = [_read_state(proc) for _ in range(3)]
    proc.send_signal(signal.SIGKILL)
    rest, _ = _finish(proc, feeder)
    seen += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == -signal.SIGKILL
    assert seen[-1] != sent_states[-1], "the target finished before the kill; nothing was tested"
    a_ids = {r["id"] for r in db.select("id", "a")}
    b_ids = {r["id"] for r in db.select("id", "b")}
    for value in seen:
        assert value in sent_states
        assert set(range(1, value["a"] + 1)) <= a_ids, value
        assert set(range(1, value["b"] + 1)) <= b_ids, value


def test_a_quiet_stream_still_commits_and_releases_its_state(
    target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    props = {"id": {"type": "integer"}}
    proc = start_target({**target_config, "max_batch_age_seconds": 1}, tmp_path)
    started = time.monotonic()
    _feed(
        proc,
        jsonl(schema_message("slow", props, ["id"]), record("slow", {"id": 1}), state({"n": 1})),
        close=False,
    )
    # The tap says nothing more, yet within about a second the record is committed and the
    # STATE written: the batch is far from full, it is the age that flushes it.
    assert _read_state(proc, timeout=15) == {"n": 1}
    assert time.monotonic() - started < 15
    assert [r["id"] for r in db.select("id", "slow")] == [1]
    feeder = _feed(proc, jsonl(record("slow", {"id": 2}), state({"n": 2})), close=True)
    out, err = _finish(proc, feeder)
    assert proc.returncode == 0, err[-2000:]
    assert [json.loads(line) for line in out.splitlines()] == [{"n": 2}]
    assert [r["id"] for r in db.select("id", "slow", order_by="id")] == [1, 2]


def test_sigterm_commits_what_was_read_and_writes_the_state(
    target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    props = {"id": {"type": "integer"}}
    proc = start_target(target_config, tmp_path)
    text = jsonl(
        schema_message("t", props, ["id"]), *[record("t", {"id": i}) for i in range(1, 6)]
    ) + jsonl(state({"n": 5}))
    _feed(proc, text, close=False).join()
    # Let it read everything; nothing is committed yet (batch not full, not old). On a busy
    # machine the start-up alone can take longer than a fixed pause: wait for the table first.
    deadline = time.monotonic() + WAIT_SECONDS
    while db.tables() != {"t"} and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert db.tables() == {"t"}
    assert db.select("id", "t") == []
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=WAIT_SECONDS)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()[-2000:]
    assert [json.loads(line) for line in out.decode().splitlines()] == [{"n": 5}]
    assert [r["id"] for r in db.select("id", "t", order_by="id")] == [1, 2, 3, 4, 5]


def _with_application_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def test_a_lost_connection_ends_the_run_without_state_and_a_rerun_converges(
    target_config: dict[str, Any],
    tmp_path: Path,
    db: Db,
    pg_conn: psycopg2.extensions.connection,
) -> None:
    props = {"id": {"type": "integer"}, "name": {"type": "string"}}
    schema = schema_message("t", props, ["id"])
    first = [record("t", {"id": i, "name": f"n{i}"}) for i in range(1, 6)]
    second = [record("t", {"id": i, "name": f"n{i}"}) for i in range(6, 11)]
    name = f"tpu_{uuid.uuid4().hex[:10]}"
    config = {
        **target_config,
        "database_url": _with_application_name(target_config["database_url"], name),
        "batch_size_rows": 5,
    }
    proc = start_target(config, tmp_path)
    _feed(proc, jsonl(schema, *first, state({"n": 5})), close=False).join()
    assert _read_state(proc) == {"n": 5}

    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
        assert cur.fetchall() == [(True,)]
    feeder = _feed(proc, jsonl(*second, state({"n": 10})), close=True)
    out, stderr = _finish(proc, feeder)
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, stderr[-3000:]
    assert "connection to PostgreSQL" in errors[0]
    assert out.strip() == "", "no STATE for rows that were not committed"
    assert [r["id"] for r in db.select("id", "t", order_by="id")] == [1, 2, 3, 4, 5]

    # The orchestrator reruns the tap from the last STATE it saw ({"n": 5}).
    rerun = run_target(config, jsonl(schema, *second, state({"n": 10})), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.states == [{"n": 10}]
    assert [(r["id"], r["name"]) for r in db.select("id, name", "t", order_by="id")] == [
        (i, f"n{i}") for i in range(1, 11)
    ]
