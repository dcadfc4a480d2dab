"""API calls as a real org answers them: preflight on an object too wide for one URL and as a user
without View Setup and Configuration, and Bulk jobs created behind a lost answer (never orphaned)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

import pytest

from tests.fake_salesforce import FakeSalesforce, faults
from tests.fake_salesforce.ids import KEY_PREFIXES, make_id
from tests.integration.tap_runner import TapRun, run_tap, tap_config

# 340 custom fields with 40-character names push the sample's URL past 16,384 bytes.
WIDE_FIELDS = 340
LEFT_OUT = re.compile(r"(\d+) of (\d+) selected fields left out")
UNFINISHED_STATES = {"UploadComplete", "InProgress"}
FIRST_JOB_ID = make_id(KEY_PREFIXES["QueryJob"], 10_001)  # the emulator numbers jobs from 10,001


def unfinished_jobs(sf: FakeSalesforce, user: str | None = None) -> set[str]:
    """Ids of the jobs still UploadComplete or InProgress (of one user when given)."""
    return {
        job.id
        for job in sf.jobs.all()
        if job.state.value in UNFINISHED_STATES and user in (None, job.created_by)
    }


def assert_no_unfinished_job(sf: FakeSalesforce, besides: Collection[str] = ()) -> None:
    assert unfinished_jobs(sf) == set(besides), sf.counters["jobs_by_state"]


def test_preflight_on_an_object_wider_than_one_url_samples_what_fits_and_says_so(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=500, accounts=10)
    for number in range(WIDE_FIELDS):
        sf.add_field("Contact", f"Provider_Credential_Attestation_Note_{number:03d}__c")
    run = run_tap(tap_config(sf, objects=["Contact"]), args=("--preflight",), check=False)
    assert "Preflight passed." in run.stdout, run.stdout[-2000:]
    sample_line = next(line for line in run.stdout.splitlines() if "Sample of Contact" in line)
    left_out = LEFT_OUT.search(sample_line)
    assert left_out, sample_line
    # Contact's 105 fields less its 3 compound ones, which Bulk cannot query, plus the new ones.
    assert 0 < int(left_out.group(1)) < int(left_out.group(2)) == 102 + WIDE_FIELDS
    assert "Sample of Contact (3 records" in sample_line
    requests_by_kind = sf.counters["requests_by_kind"]
    assert isinstance(requests_by_kind, dict)
    assert "refused_414" not in requests_by_kind
    assert "refused_431" not in requests_by_kind
    assert sf.counters["jobs_created"] == 0


def test_preflight_as_a_user_without_view_setup_counts_with_select_count(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=700, accounts=30, view_setup_permission=False)
    run = run_tap(
        tap_config(sf, objects=["Contact", "Account"]), args=("--preflight",), check=False
    )
    out = run.stdout
    assert "Preflight passed." in out, out[-2000:]
    assert "SELECT COUNT()" in out
    assert "View Setup and Configuration" in out
    for name in ("Contact", "Account"):
        assert f"Object {name}: {sum(1 for _ in sf.truth(name)):,} records" in out
    assert "Limit DailyApiRequests:" in out
    assert sf.counters["jobs_created"] == 0


def test_sync_as_a_user_without_view_setup_works_and_says_what_the_quota_guard_cannot_see(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=700, accounts=30, view_setup_permission=False)
    run = run_tap(tap_config(sf))
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))
    notes = [line for line in run.stderr.splitlines() if "View Setup and Configuration" in line]
    assert len(notes) == 1, run.stderr[-3000:]
    assert "DailyBulkV2QueryJobs" in notes[0]


@pytest.mark.parametrize("status", [503, 0], ids=["answered-503", "answer-lost"])
def test_job_created_behind_a_failed_answer_is_aborted_not_orphaned(
    fake_salesforce: FakeSalesforce, status: int
) -> None:
    sf = fake_salesforce
    sf.inject(faults.FailAfterCommit(status=status))  # the first create makes a job nobody sees
    sf.inject(faults.JobStuck())  # ... and that job would run for ever
    run = run_tap(tap_config(sf, objects=["Contact"]))
    assert len({r["Id"] for r in run.records("Contact")}) == len(list(sf.truth("Contact")))
    assert sf.counters["jobs_created"] == 2
    assert_no_unfinished_job(sf)
    assert sf.counters["jobs_by_state"] == {"JobComplete": 1, "Aborted": 1}
    orphan_lines = [line for line in run.stderr.splitlines() if FIRST_JOB_ID in line]
    assert any("Aborted" in line for line in orphan_lines), run.stderr[-3000:]
    assert sf.counters["deleted_jobs"] == 2


def test_jobs_of_other_users_objects_or_earlier_times_are_left_alone(
    fake_salesforce: FakeSalesforce,
) -> None:
    sf = fake_salesforce
    earlier = sf.create_query_job("SELECT Id FROM Account", stuck=True)  # same user, an hour ago
    sf.advance_clock(3_600)
    sf.inject(faults.FailAfterCommit(status=503, nth=2))  # the Account job's first create ...
    sf.inject(faults.JobStuck(nth=2))  # ... makes a job that never ends
    sf.inject(faults.OtherClientJob(nth=2))  # another user's Account job, at the same moment
    run = run_tap(tap_config(sf, objects=["Contact", "Account"], max_parallel_jobs=2))
    assert len(run.records("Contact")) == len(list(sf.truth("Contact")))
    assert len(run.records("Account")) == len(list(sf.truth("Account")))
    assert sf.counters["jobs_created"] == 3
    foreign = unfinished_jobs(sf, "0055g00000OTHERAAA")
    assert len(foreign) == 1
    assert_no_unfinished_job(sf, besides={earlier, *foreign})
    assert sf.counters["aborted_jobs"] == 1


def test_runs_leave_no_unfinished_job_of_their_own(fake_salesforce: FakeSalesforce) -> None:
    sf = fake_salesforce
    sf.inject(faults.JobStuck(nth=2))
    failed: TapRun = run_tap(
        tap_config(sf, objects=["Contact", "Account"], max_wait_time=2), check=False
    )
    assert failed.returncode == 1
    assert_no_unfinished_job(sf)
