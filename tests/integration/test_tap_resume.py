"""Interrupted runs resume from the saved job and locator; --test and --preflight create no job."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import TAP, run_tap, tap_config


def run_until_state_with_locator(
    config: dict[str, Any], sig: int, stream: str = "Contact", after_records: int = 600
) -> tuple[dict[str, Any], set[str], int]:
    """Start the tap, stop it with ``sig`` once a STATE of ``stream`` names a job and a locator.

    Returns the last STATE read, the ids of records read before it, and the exit code.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(config))
        process = subprocess.Popen(
            [TAP, "--config", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        ids: set[str] = set()
        state: dict[str, Any] | None = None
        for line in process.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD" and message["stream"] == stream:
                ids.add(message["record"]["Id"])
            elif message["type"] == "STATE":
                job = message["value"]["bookmarks"].get(stream, {}).get("bulk_job")
                if job and job.get("locator") and job.get("records_before", 0) >= after_records:
                    state = message["value"]
                    process.send_signal(sig)
                    break
        for line in process.stdout:  # what a target would still receive and commit
            message = json.loads(line)
            if message["type"] == "STATE":
                state = message["value"]
        code = process.wait(timeout=60)
    assert state is not None, "the tap never saved a job locator"
    return state, ids, code


def test_killed_run_resumes_the_saved_job_from_its_locator(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    config = tap_config(sf, page_size=200, max_parallel_downloads=1)
    state, before, _ = run_until_state_with_locator(config, signal.SIGKILL)
    saved = state["bookmarks"]["Contact"]["bulk_job"]
    sf.reset_counters()
    resumed = run_tap(config, state=state)
    after = {r["Id"] for r in resumed.records("Contact")}
    assert f"resuming Bulk job {saved['id']} from locator {saved['locator']}" in resumed.stderr
    # The only new job is the catch-up for changes made since the saved job ran.
    (catch_up,) = sf.counters["queries"]
    assert f"SystemModstamp >= {saved['bookmark_after']}" in catch_up
    truth = {row["Id"] for row in sf.truth("Contact")}
    assert before | after == truth
    assert len(after) == len(truth) - saved["records_before"]
    final = resumed.last_state
    assert final is not None
    assert final["bookmarks"]["Contact"]["bulk_job"]["id"] is None
    assert final["bookmarks"]["Contact"]["replication_key_value"]


def test_a_saved_job_keeps_the_bookmark_cap_of_the_run_that_created_it(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    started = sf.clock.now_ms() - 20 * 60_000
    transaction = sf.begin_transaction(started)
    (late,) = sf.update_records(
        "Contact", count=1, fields={"Title": "Late"}, transaction=transaction
    )
    config = tap_config(sf, page_size=200, max_parallel_downloads=1)
    state, _, _ = run_until_state_with_locator(config, signal.SIGKILL)
    # The job was created while the transaction was open: its bookmark waits at its start.
    start_minute = dt.datetime.fromtimestamp((started - started % 60_000) / 1000, tz=dt.UTC)
    cap = start_minute.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert state["bookmarks"]["Contact"]["bulk_job"]["bookmark_after"] <= cap
    sf.commit_transaction(transaction)
    resumed = run_tap(config, state=state)
    finished = [
        s["bookmarks"]["Contact"]["replication_key_value"]
        for s in resumed.states
        if "bulk_job" in s["bookmarks"].get("Contact", {})
        and s["bookmarks"]["Contact"]["bulk_job"]["id"] is None
    ]
    assert finished[0] <= cap, "the resumed job keeps the cap it was created under"
    assert {r["Id"]: r["Title"] for r in resumed.records("Contact")}[late] == "Late"


def test_sigterm_keeps_the_job_being_read_and_cleans_up_the_rest(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    config = tap_config(sf, objects=["Account", "Contact"], page_size=40, max_parallel_downloads=1)
    state, before, code = run_until_state_with_locator(
        config, signal.SIGTERM, stream="Account", after_records=80
    )
    assert code == 0, "the SDK treats SIGTERM as a graceful stop"
    saved = state["bookmarks"]["Account"]["bulk_job"]
    counters = sf.counters
    assert counters["jobs_created"] == 2, "Contact's job ran ahead in Salesforce"
    assert counters["deleted_jobs"] == 1, "the unread Contact job was cleaned up"
    assert sf.job(saved["id"]).state == "JobComplete", "the job being read is kept for resuming"
    resumed = run_tap(config, state=state)
    assert before | {r["Id"] for r in resumed.records("Account")} == {
        row["Id"] for row in sf.truth("Account")
    }
    assert len(resumed.records("Contact")) == len(list(sf.truth("Contact")))


def test_test_mode_reads_one_record_per_stream_without_a_bulk_job(
    fake_salesforce: FakeSalesforce,
) -> None:
    run = run_tap(tap_config(fake_salesforce), args=("--test",))
    assert len(run.records("Contact")) == 1
    assert fake_salesforce.counters["jobs_created"] == 0


def test_preflight_checks_login_limits_counts_and_samples(fake_salesforce: FakeSalesforce) -> None:
    run = run_tap(
        tap_config(fake_salesforce, objects=["Contact", "Account"]), args=("--preflight",)
    )
    out = run.stdout
    assert "Login: OK (password flow)" in out
    assert "Limit DailyApiRequests:" in out
    assert "Limit DailyBulkV2QueryJobs:" in out
    assert "Object Contact: 2,000 records" in out or "Object Contact:" in out
    assert "Estimate: about" in out
    assert "Sample of Contact (3 records" in out
    assert "Preflight passed." in out
    assert fake_salesforce.counters["jobs_created"] == 0
    bad = run_tap(tap_config(fake_salesforce, password="nope"), args=("--preflight",), check=False)
    assert bad.returncode == 1
    assert "FAILED: Salesforce refused the password login" in bad.stdout
