"""Self-describing tables: schema titles and descriptions become PostgreSQL comments, kept current."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fake_salesforce import FakeSalesforce
from tests.integration.conftest import Db, TargetRun, jsonl, record, schema_message
from tests.integration.tap_runner import run_tap, tap_config

NPI_HELP = "The provider's 10-digit National Provider Identifier, issued by CMS."


def comments(db: Db, table: str) -> dict[str | None, str | None]:
    """Column -> comment, and None -> the table's comment."""
    rows = db.query(
        "SELECT NULL AS name, obj_description(%(t)s::regclass, 'pg_class') AS comment"
        " UNION ALL SELECT attname, col_description(attrelid, attnum) FROM pg_attribute"
        " WHERE attrelid = %(t)s::regclass AND attnum > 0 AND NOT attisdropped",
        {"t": f'"{db.schema}"."{table}"'},
    )
    return {r["name"]: r["comment"] for r in rows}


def schema_with(title: str, description: str | None = None) -> dict[str, Any]:
    message = schema_message(
        "things",
        {
            "id": {"type": "integer", "title": "Thing ID"},
            "npi": {"type": ["string", "null"], "title": title, "description": description},
            "plain": {"type": ["string", "null"]},
        },
        ["id"],
    )
    message["schema"]["title"] = "Thing"
    message["schema"]["description"] = "Things we track"
    return message


def test_titles_and_descriptions_become_table_and_column_comments(
    run: Callable[..., TargetRun], db: Db
) -> None:
    result = run(jsonl(schema_with("NPI Number", "Ten digits"), record("things", {"id": 1})))
    assert result.returncode == 0, result.stderr[-2000:]
    found = comments(db, "things")
    assert found[None] == "Thing: Things we track"
    assert found["id"] == "Thing ID"
    assert found["npi"] == "NPI Number: Ten digits"
    assert found["plain"] is None
    assert (
        found["_sdc_deleted_at"]
        == "When the record was deleted at the source; NULL while it exists"
    )


def test_a_renamed_title_updates_the_comment_and_a_missing_one_keeps_it(
    run: Callable[..., TargetRun], db: Db
) -> None:
    assert run(jsonl(schema_with("NPI"), record("things", {"id": 1}))).returncode == 0
    db.execute(f"COMMENT ON COLUMN \"{db.schema}\".things.plain IS 'written by hand'")
    second = run(jsonl(schema_with("NPI Number", "Ten digits"), record("things", {"id": 2})))
    assert second.returncode == 0
    assert "Commented on" in second.stderr
    found = comments(db, "things")
    assert found["npi"] == "NPI Number: Ten digits"
    assert found["plain"] == "written by hand", "a property without title leaves the comment"
    third = run(jsonl(schema_with("NPI Number", "Ten digits"), record("things", {"id": 3})))
    assert "Commented on" not in third.stderr, "nothing is written when nothing changed"


def test_salesforce_label_shows_as_column_comment_and_follows_a_rename(
    make_fake_salesforce: Callable[..., FakeSalesforce], run: Callable[..., TargetRun], db: Db
) -> None:
    sf = make_fake_salesforce(contacts=50, accounts=5)
    first = run_tap(tap_config(sf))
    assert run(first.stdout).returncode == 0
    found = comments(db, "contact")
    assert found[None] == "Contact"
    assert found["npi__c"] == f"NPI Number: {NPI_HELP}"
    assert found["last_name"] == "Last Name"

    sf.relabel_field("Contact", "NPI__c", "National Provider ID", help_text=None)
    second = run_tap(tap_config(sf), state=first.last_state)
    assert run(second.stdout).returncode == 0
    assert comments(db, "contact")["npi__c"] == "National Provider ID"
