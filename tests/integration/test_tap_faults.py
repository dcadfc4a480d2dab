"""The tap under Salesforce faults: retries without duplicates, re-login, failing jobs, quotas."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.fake_salesforce import FakeSalesforce, faults
from tests.integration.tap_checks import mismatches
from tests.integration.tap_runner import TAP, TapRun, run_tap, tap_config

STREAMED = {"max_parallel_downloads": 1}
PREFETCHED = {"max_parallel_downloads": 3}
STALL_SECONDS = 4.0


def assert_exact(run: TapRun, sf: FakeSalesforce) -> None:
    records = run.records("Contact")
    assert len(records) == len({r["Id"] for r in records}), "no record twice"
    props = run.schema("Contact")["schema"]["properties"]
    assert mismatches(records, sf.truth("Contact"), props) == []


@pytest.mark.parametrize("mode", [STREAMED, PREFETCHED], ids=["streamed", "prefetched"])
def test_server_errors_and_dropped_connections_on_pages_are_retried_without_repeats(
    fake_salesforce: FakeSalesforce, mode: dict[str, int]
) -> None:
    sf = fake_salesforce
    sf.inject(faults.HttpError(on="results", nth=2, status=503))
    sf.inject(faults.DropConnection(on="results", nth=4, after_bytes=40_000))
    sf.inject(faults.ShortPage(on="results", nth=6, missing_rows=3))
    run = run_tap(tap_config(sf, page_size=300, **mode))
    assert_exact(run, sf)
    assert sf.counters["faults_fired"] == {"HttpError": 1, "DropConnection": 1, "ShortPage": 1}
    assert "fetching it again" in run.stderr


def test_rate_limit_is_waited_out_honouring_retry_after(fake_salesforce: FakeSalesforce) -> None:
    sf = fake_salesforce
    sf.inject(faults.RateLimited(on="job_status", times=2, retry_after_seconds=1))
    run = run_tap(tap_config(sf))
    assert_exact(run, sf)
    assert "Retrying in" in run.stderr


def test_token_expiring_mid_paging_leads_to_one_new_login(fake_salesforce: FakeSalesforce) -> None:
    sf = fake_salesforce
    sf.inject(faults.ExpireToken(on="results", nth=3))
    run = run_tap(tap_config(sf, page_size=300, **STREAMED))
    assert_exact(run, sf)
    assert sf.counters["auth_calls"] == {"password": 2}


def test_malformed_page_is_read_again_and_a_persistently_broken_one_stops_clearly(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    sf.inject(faults.MalformedCsv(on="results", nth=2))
    assert_exact(run_tap(tap_config(sf, page_size=500, **STREAMED)), sf)
    sf.inject(faults.MalformedCsv(on="results", nth=2, times=50))
    failed = run_tap(tap_config(sf, page_size=500, **STREAMED), check=False)
    assert failed.returncode != 0
    assert "kept breaking" in failed.stderr


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            faults.JobFails(error_message="InvalidBatch : QUERY_TIMEOUT"),
            "ended Failed: InvalidBatch",
        ),
        (faults.JobAborted(), "ended Aborted"),
    ],
    ids=["failed", "aborted"],
)
def test_failed_and_aborted_jobs_end_with_the_job_and_salesforce_message(
    fake_salesforce: FakeSalesforce, fault: faults.Fault, expected: str
) -> None:
    sf = fake_salesforce
    sf.inject(fault)
    run = run_tap(tap_config(sf), check=False)
    assert run.returncode == 1
    error_lines = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert any(expected in line and "Bulk query job 750" in line for line in error_lines)
    assert run.records("Contact") == []
    assert run.last_state is None or "replication_key_value" not in run.last_state["bookmarks"].get(
        "Contact", {}
    )


def test_job_that_never_finishes_is_aborted_at_max_wait_time(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    sf.inject(faults.JobStuck())
    run = run_tap(tap_config(sf, max_wait_time=2), check=False)
    assert run.returncode == 1
    assert "max_wait_time (2 s)" in run.stderr
    assert sf.counters["aborted_jobs"] == 1


def test_quota_guard_stops_before_creating_a_job_and_names_the_limit(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    sf.set_limit("DailyApiRequests", max=15_000, remaining=2_000)
    run = run_tap(tap_config(sf, max_api_usage_percent=80), check=False)
    assert run.returncode == 1
    assert "DailyApiRequests has 1,99" in run.stderr
    assert "rolling 24-hour" in run.stderr
    assert sf.counters["jobs_created"] == 0
    sf.set_limit("DailyBulkV2QueryJobs", max=10_000, remaining=0)
    sf.set_limit("DailyApiRequests", max=15_000, remaining=15_000)
    run = run_tap(tap_config(sf), check=False)
    assert "DailyBulkV2QueryJobs has 0" in run.stderr
    assert sf.counters["jobs_created"] == 0


def test_bad_credentials_fail_in_one_line_without_echoing_secrets(
    fake_salesforce: FakeSalesforce,
) -> None:
    config = tap_config(fake_salesforce, password="Wrong-Pa55word-XYZZY")
    run = run_tap(config, check=False)
    assert run.returncode != 0
    assert "invalid_grant" in run.stderr
    assert "authentication failure" in run.stderr
    for secret in ("Wrong-Pa55word-XYZZY", config["client_secret"], config["security_token"]):
        assert secret not in run.stderr
        assert secret not in run.stdout


def test_org_without_result_pages_falls_back_to_the_locator_chain(
    make_fake_salesforce: object,
) -> None:
    sf = make_fake_salesforce(contacts=3_000, accounts=10, default_page_records=700)  # type: ignore[operator]
    sf.inject(
        faults.HttpError(
            on="result_pages",
            status=404,
            error_code="NOT_FOUND",
            message="The requested resource does not exist",
        )
    )
    run = run_tap(tap_config(sf, max_parallel_downloads=3))
    assert "resultPages is not available" in run.stderr
    assert sf.counters["pages_served"] >= 5
    assert_exact(run, sf)


def test_page_fetched_again_in_another_order_sends_each_row_once(
    make_fake_salesforce: object,
) -> None:
    sf = make_fake_salesforce(contacts=2_000, accounts=10, gzip=False)  # type: ignore[operator]
    sf.inject(faults.DropConnection(on="results", nth=2, after_bytes=200_000))
    sf.inject(faults.ReorderedPage(on="results", nth=3))  # the second fetch of that page
    run = run_tap(tap_config(sf, page_size=500, **STREAMED))
    assert sf.counters["faults_fired"] == {"DropConnection": 1, "ReorderedPage": 1}
    broke = next(line for line in run.stderr.splitlines() if "broke off after" in line)
    assert "after 0 rows" not in broke, "the break came after some rows were sent"
    assert_exact(run, sf)


@pytest.mark.parametrize("mode", [STREAMED, PREFETCHED], ids=["streamed", "prefetched"])
def test_a_page_is_read_while_it_downloads(
    fake_salesforce: FakeSalesforce, mode: dict[str, int], tmp_path: Path
) -> None:
    # One page of every Contact (no page_size); the emulator stalls 4 s after its first 1,000
    # rows. Records must flow before the stall ends: a page downloaded ahead is read as it grows,
    # not after its last byte (a page Salesforce sizes itself can hold hundreds of megabytes).
    sf = fake_salesforce
    sf.inject(faults.Slow(on="results", seconds=STALL_SECONDS, during_body=True))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(sf, **mode)))
    started = time.monotonic()
    tap = subprocess.Popen(
        [TAP, "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert tap.stdout is not None
    first_record = None
    records = 0
    for line in tap.stdout:
        if line.startswith(b'{"type":"RECORD"') and b'"stream":"Contact"' in line:
            records += 1
            first_record = first_record or time.monotonic() - started
    finished = time.monotonic() - started
    assert tap.wait(timeout=60) == 0
    assert sf.counters["faults_fired"] == {"Slow": 1}
    assert records == len(list(sf.truth("Contact")))
    assert first_record is not None
    assert finished - first_record > STALL_SECONDS - 1, "the first records waited for the stall"
