"""A paused pipeline: a relative start_date (7d) never moves the start past a saved bookmark, and
any start_date that does (an absolute one the user wrote) says what it skipped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import run_tap, tap_config

DAY_MS = 86_400_000


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@pytest.fixture
def paused(fake_salesforce: FakeSalesforce) -> dict[str, Any]:
    """A state saved ten days ago, rows changed nine days ago (while paused) and yesterday."""
    sf = fake_salesforce
    now = sf.clock.now_ms()
    ids = [str(row["Id"]) for row in sf.truth("Contact")][:5]
    sf.update_records("Contact", ids=ids[:3], system_modstamp=now - 9 * DAY_MS)
    sf.update_records("Contact", ids=ids[3:], system_modstamp=now - DAY_MS)
    bookmark = _iso(now - 10 * DAY_MS)
    state = {
        "bookmarks": {
            "Contact": {"replication_key": "SystemModstamp", "replication_key_value": bookmark}
        }
    }
    return {
        "sf": sf,
        "state": state,
        "bookmark": bookmark,
        "while_paused": ids[:3],
        "recent": ids[3:],
    }


def test_relative_start_date_never_skips_changes_made_while_the_pipeline_was_paused(
    paused: dict[str, Any],
) -> None:
    run = run_tap(tap_config(paused["sf"], start_date="7d"), state=paused["state"])
    ids = {r["Id"] for r in run.records("Contact")}
    assert set(paused["while_paused"]) <= ids, "changed 9 days ago, after the 10-day-old bookmark"
    assert set(paused["recent"]) <= ids
    assert "skipped" not in run.stderr
    (soql,) = paused["sf"].counters["queries"]
    assert f"SystemModstamp >= {paused['bookmark']}" in soql


def test_relative_start_date_still_bounds_a_run_without_state(paused: dict[str, Any]) -> None:
    # What --full-refresh does: no state, so 7d reads the last seven days only.
    run = run_tap(tap_config(paused["sf"], start_date="7d"))
    assert {r["Id"] for r in run.records("Contact")} == set(paused["recent"])


def test_absolute_start_date_past_the_bookmark_wins_and_says_what_it_skipped(
    paused: dict[str, Any],
) -> None:
    sf = paused["sf"]
    start_date = _iso(sf.clock.now_ms() - 5 * DAY_MS)
    run = run_tap(tap_config(sf, start_date=start_date), state=paused["state"])
    assert {r["Id"] for r in run.records("Contact")} == set(paused["recent"])
    warnings = [line for line in run.stderr.splitlines() if "skipped" in line]
    assert len(warnings) == 1, run.stderr
    (warning,) = warnings
    assert f"from {paused['bookmark']} to {start_date}" in warning
    assert warning.count("start_date") >= 2, "names the setting and how to read what it skipped"
    assert "Contact" in warning
