"""Both CLIs warn once, at start, about each setting key they would otherwise ignore silently."""

from __future__ import annotations

from collections.abc import Callable

from tests.fake_salesforce import FakeSalesforce
from tests.integration.conftest import TargetRun, jsonl, record, schema_message
from tests.integration.tap_runner import run_tap, tap_config


def test_tap_warns_once_per_unknown_key_before_logging_in(
    make_fake_salesforce: Callable[..., FakeSalesforce],
) -> None:
    sf = make_fake_salesforce(contacts=20, accounts=2)
    config = tap_config(sf, objets=["Account"], flattening_enabled=True)
    run = run_tap(config)
    typo = "Setting 'objets' is not a setting of tap-salesforce-bulk and is ignored; did you mean 'objects'?"
    assert run.stderr.count(typo) == 1
    assert run.stderr.count("Setting 'flattening_enabled' is not a setting") == 1
    assert run.stderr.index(typo) < run.stderr.index("Logged in")
    assert run.records("Contact"), "the run goes on with the default objects"


def test_target_warns_once_per_unknown_key(run: Callable[..., TargetRun]) -> None:
    messages = jsonl(
        schema_message("things", {"id": {"type": "integer"}}, ["id"]), record("things", {"id": 1})
    )
    result = run(messages, hard_deletes=True, load_method="overwrite")
    assert result.returncode == 0
    assert (
        result.stderr.count(
            "Setting 'hard_deletes' is not a setting of target-postgres-upsert and is ignored;"
            " did you mean 'hard_delete'?"
        )
        == 1
    )
    assert result.stderr.count("Setting 'load_method' is not a setting") == 1
