"""The control API over HTTP, and the emulator as a standalone process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.fake_salesforce import FakeSalesforce
from tests.fake_salesforce.auth import Credentials
from tests.fake_salesforce.client import EmulatorClient

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30


def _control(sf_url: str, method: str, action: str, **body: object) -> requests.Response:
    return requests.request(method, f"{sf_url}/__emulator/{action}", json=body or None, timeout=10)


def test_control_endpoints_drive_the_emulator(fake_salesforce: FakeSalesforce) -> None:
    url = fake_salesforce.url
    client = EmulatorClient(url, fake_salesforce.credentials)
    updated = _control(
        url, "POST", "update_records", object="Contact", count=3, fields={"Title": "Via HTTP"}
    ).json()
    assert len(updated["ids"]) == 3
    inserted = _control(url, "POST", "insert_records", object="Contact", count=2).json()["ids"]
    assert all(record_id.startswith("003") and len(record_id) == 18 for record_id in inserted)
    _control(url, "POST", "delete_records", object="Contact", ids=inserted[:1])
    truth = [
        json.loads(line) for line in _control(url, "GET", "truth?object=Contact").text.splitlines()
    ]
    titles = {row["Id"]: row["Title"] for row in truth}
    assert all(titles[record_id] == "Via HTTP" for record_id in updated["ids"])
    assert inserted[1] in titles
    assert inserted[0] not in titles
    with_deleted = _control(url, "GET", "truth?object=Contact&include_deleted=true").text
    assert inserted[0] in with_deleted

    _control(url, "POST", "limits", name="DailyBulkV2QueryJobs", max=10_000, remaining=0)
    assert client.create_job("SELECT Id FROM Contact").status_code == 400
    _control(url, "POST", "limits", name="DailyBulkV2QueryJobs", remaining=5)

    _control(url, "POST", "faults", type="HttpError", on="limits", status=502)
    assert client.session.get(f"{client.base}/limits", timeout=5).status_code == 502
    _control(url, "POST", "faults", type="HttpError", on="limits", status=500, times=5)
    _control(url, "DELETE", "faults")
    assert client.session.get(f"{client.base}/limits", timeout=5).status_code == 200

    _control(url, "POST", "expire_tokens")
    assert client.session.get(f"{client.base}/limits", timeout=5).status_code == 401
    counters = _control(url, "GET", "counters").json()
    assert counters["requests_by_kind"]["limits"] >= 3
    assert counters["auth_calls"] == {"password": 1}
    _control(url, "POST", "reset_counters")
    assert _control(url, "GET", "counters").json()["api_calls"] == 0
    assert (
        _control(url, "GET", "credentials").json()["credentials"]["username"]
        == fake_salesforce.credentials.username
    )
    assert _control(url, "POST", "faults", type="NoSuchFault").status_code == 404


def test_standalone_process_writes_a_ready_file_and_serves(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_salesforce",
            "--contacts",
            "500",
            "--accounts",
            "20",
            "--seed",
            "3",
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--job-processing-seconds",
            "0.05",
            "--no-gzip",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        announced = json.loads(ready.read_text())
        client = EmulatorClient(announced["url"], Credentials(**announced["credentials"]))
        info, pages = client.run("SELECT Id, Name FROM Contact")
        assert info["state"] == "JobComplete"
        assert sum(len(p.rows) for p in pages) == info["numberRecordsProcessed"]
        gzip_ignored = client.session.get(
            f"{client.base}/jobs/query/{info['id']}/results",
            headers={"Accept-Encoding": "gzip"},
            timeout=10,
        )
        assert "Content-Encoding" not in gzip_ignored.headers
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0


def test_help_documents_the_flags() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "tests.fake_salesforce", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in ("--contacts", "--accounts", "--seed", "--port", "--ready-file", "--no-gzip"):
        assert flag in shown


def test_truth_rows_matches_truth_including_changed_rows(fake_salesforce: FakeSalesforce) -> None:
    fake_salesforce.update_records("Contact", count=5, fields={"Title": "Changed"})
    fake_salesforce.insert_records("Contact", 2)
    names, rows = fake_salesforce.truth_rows("Contact", include_deleted=True)
    assert [dict(zip(names, row, strict=True)) for row in rows] == list(
        fake_salesforce.truth("Contact", include_deleted=True)
    )
