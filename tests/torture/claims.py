"""Did a STATE the target printed claim a row that was not committed?

The target may print a STATE only once every record the tap sent before that STATE is committed.
So when a run dies, every record in the tap's output before the last STATE the target printed
must be in the table with at least that record's version (its ``SystemModstamp``: a later version
may have been committed too). A deleted record with ``hard_delete`` must be gone instead, unless a
newer version is there. In the batch lane the records are the rows of the files each BATCH
message named, read from the links ``batch_tee.py`` kept (the target removes the files).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

STAMP = "SystemModstamp"


def tap_messages(tap_out: Path) -> Iterator[dict[str, Any]]:
    """Each complete Singer message the tap wrote (a line cut by a kill is skipped)."""
    with open(tap_out, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                return
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict):
                yield message


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _sent_records(
    message: dict[str, Any], stream: str, batch_archive: Path | None
) -> Iterable[dict[str, Any]]:
    """The records of ``stream`` one message carries: a RECORD's, or a BATCH's files' rows."""
    if message.get("stream") != stream:
        return ()
    if message.get("type") == "RECORD":
        return (message.get("record") or {},)
    if message.get("type") == "BATCH":
        if batch_archive is None:
            raise ValueError("a BATCH message, but no batch archive to read its files from")
        from tests.torture.lanes import batch_rows

        return batch_rows(message, batch_archive)
    return ()


def claimed_versions(
    tap_out: Path, state: Any, stream: str = "Contact", batch_archive: Path | None = None
) -> tuple[dict[str, tuple[dt.datetime, bool]], bool]:
    """Id -> (newest SystemModstamp, deleted) of the records sent before ``state``; and whether
    the tap sent that STATE at all (a target must never invent one)."""
    versions: dict[str, tuple[dt.datetime, bool]] = {}
    for message in tap_messages(tap_out):
        if message.get("type") == "STATE" and message.get("value") == state:
            return versions, True
        for record in _sent_records(message, stream, batch_archive):
            stamp = _instant(str(record[STAMP]))
            known = versions.get(str(record["Id"]))
            if known is None or stamp >= known[0]:
                versions[str(record["Id"])] = (stamp, record.get("IsDeleted") is True)
    return versions, False


def state_claim_problems(
    conn: psycopg2.extensions.connection,
    schema: str,
    tap_out: Path,
    target_states: list[Any],
    *,
    hard_delete: bool = False,
    table: str = "contact",
    batch_archive: Path | None = None,
) -> list[str]:
    """Rows the last printed STATE vouched for that the table does not hold (empty: none)."""
    if not target_states or not tap_out.exists():
        return []
    try:
        claimed, sent = claimed_versions(tap_out, target_states[-1], batch_archive=batch_archive)
    except FileNotFoundError as exc:
        return [f"cannot check the STATE's claims: {exc}"]
    if not sent:
        return [f"the target printed a STATE the tap never sent: {target_states[-1]!r:.200}"]
    stored = _stored_versions(conn, schema, table)
    problems = []
    for record_id, (stamp, deleted) in claimed.items():
        have = stored.get(record_id)
        if hard_delete and deleted:
            if have is not None and have < stamp:
                problems.append(f"STATE claimed {record_id} deleted but its row is still there")
            continue
        if have is None:
            problems.append(f"STATE claimed {record_id} ({stamp:%H:%M:%S.%f}) but no row exists")
        elif have < stamp:
            problems.append(f"STATE claimed {record_id} at {stamp} but the row is at {have}")
    return problems


def _stored_versions(
    conn: psycopg2.extensions.connection, schema: str, table: str
) -> dict[str, dt.datetime]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, table)
        )
        if cur.fetchone() is None:
            return {}
        cur.execute(
            sql.SQL("SELECT salesforce_id, system_modstamp FROM {}").format(
                sql.Identifier(schema, table)
            )
        )
        return {str(key): stamp for key, stamp in cur.fetchall()}
