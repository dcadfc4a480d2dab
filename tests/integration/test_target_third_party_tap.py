"""A third-party tap from PyPI (tap-jsonl, in its own venv under .tools/) piped into the target."""

from __future__ import annotations

import datetime
import decimal
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import TARGET_BIN, Db, write_config

REPO = Path(__file__).resolve().parents[2]
TAP_VENV = REPO / ".tools" / "tap-jsonl"
TAP_PACKAGE = "tap-jsonl==0.3.1"  # Meltano SDK based, reads local files: works offline
INSTALL_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="session")
def tap_jsonl() -> Path:
    """The tap's executable, installed into its own venv on first use."""
    binary = TAP_VENV / "bin" / "tap-jsonl"
    if not binary.exists():
        steps = [
            [sys.executable, "-m", "venv", str(TAP_VENV)],
            [str(TAP_VENV / "bin" / "pip"), "install", "-q", TAP_PACKAGE],
        ]
        for step in steps:
            done = subprocess.run(
                step, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
            )
            if done.returncode != 0:
                pytest.skip(f"cannot install {TAP_PACKAGE} from PyPI: {done.stderr[-500:]}")
    return binary


def test_tap_jsonl_stream_lands_in_typed_columns(
    tap_jsonl: Path, target_config: dict[str, Any], tmp_path: Path, db: Db
) -> None:
    people = [
        {"id": 1, "name": "Ann", "tags": ["a", "b"], "meta": {"x": 1.5, "deep": {"y": [1]}},
         "created": "2024-01-02T03:04:05Z", "score": 3.25},
        {"id": 2, "name": 'Bob "the" builder\tTab\nNew line', "tags": [], "meta": {},
         "created": "2024-02-03T04:05:06+02:00", "score": None},
        {"id": 3, "name": "Zoë 🎉", "tags": None, "meta": None, "created": None, "score": -0.5},
    ]  # fmt: skip
    data = tmp_path / "people.jsonl"
    data.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in people), "utf-8")
    tap_config = write_config(
        tmp_path, {"path": str(data), "stream_name": "people", "primary_keys": ["id"]}
    )
    target_config_path = write_config(tmp_path, target_config)

    tap = subprocess.Popen(
        [str(tap_jsonl), "--config", str(tap_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = subprocess.run(
        [str(TARGET_BIN), "--config", str(target_config_path)],
        stdin=tap.stdout,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert tap.wait(timeout=60) == 0
    assert target.returncode == 0, target.stderr.decode()[-3000:]

    states = [json.loads(line) for line in target.stdout.decode().splitlines()]
    assert states, "the tap's final STATE is passed on"
    assert states[-1]["bookmarks"]["people"]["replication_key_value"]

    columns = db.columns("people")
    assert columns["id"] == "bigint"
    assert columns["tags"] == "jsonb"
    assert columns["meta"] == "jsonb"
    assert columns["created"] == "timestamp with time zone"
    assert columns["score"] == "numeric"
    assert columns["_sdc_filename"] == "text"  # the tap's own metadata is just data here
    rows = {r["id"]: r for r in db.rows("people")}
    assert rows[1]["meta"] == {"x": 1.5, "deep": {"y": [1]}}
    assert rows[1]["tags"] == ["a", "b"]
    assert rows[2]["name"] == 'Bob "the" builder\tTab\nNew line'
    assert rows[2]["created"] == datetime.datetime(2024, 2, 3, 2, 5, 6, tzinfo=datetime.UTC)
    assert rows[3]["name"] == "Zoë 🎉"
    assert rows[3]["score"] == decimal.Decimal("-0.5")
    assert rows[3]["tags"] is None
    assert rows[3]["_sdc_extracted_at"] is not None  # time_extracted from the tap's messages
