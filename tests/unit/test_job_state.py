"""The ``bulk_job`` state value keeps one shape, so Meltano's deep merge of STATE can clear it."""

from __future__ import annotations

import pytest

from tap_salesforce_bulk.streams import JOB_STATE_FIELDS, saved_job


def test_a_finished_job_is_every_key_null() -> None:
    assert saved_job(None) == dict.fromkeys(JOB_STATE_FIELDS)


def test_a_job_being_read_is_saved_with_the_same_keys() -> None:
    job = dict.fromkeys(JOB_STATE_FIELDS, "x")
    assert saved_job(job) == job


def test_a_key_outside_the_shape_is_refused() -> None:
    # A key the null form lacks would survive a finished job in Meltano's merged state.
    with pytest.raises(ValueError, match="JOB_STATE_FIELDS"):
        saved_job({**dict.fromkeys(JOB_STATE_FIELDS), "extra": 1})
