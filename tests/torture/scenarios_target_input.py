"""Bad input to the target, property-based: hypothesis draws hostile Singer streams.

For each drawn case the real target runs once over the lines, into a schema that holds a canary
table ``x`` with one row. Then: nothing good is lost (every valid record before the stopping point
is in its table, last version per key; every invalid one is in ``_sdc_rejected_records`` with a
reason), nothing hostile ran as SQL (the canary and its row survive, no unexpected table in our
schema or in ``public``), and a fatal line is named in exactly one ERROR line.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from psycopg2 import sql

from target_postgres_upsert.sinks import METADATA_COLUMNS
from target_postgres_upsert.types import ColumnNaming, column_names, table_name, with_hash_suffix
from tests.torture.compare import read_table
from tests.torture.context import Context
from tests.torture.outcome import Outcome
from tests.torture.pipeline import TARGET, clean_env
from tests.torture.scenario import Scenario
from tests.torture.sync import error_lines
from tests.torture.target_cases import CANARY, Case, StreamSpec, cases

FAMILY = "bad input to the target"
EXAMPLES_FULL = 40
EXAMPLES_QUICK = 6
REJECTS = "_sdc_rejected_records"
TARGET_TIMEOUT_SECONDS = 120


def _tables(case: Case) -> dict[str, str]:
    """Stream -> table, claimed in SCHEMA order as the README says (a later clash is hashed)."""
    owners: dict[str, str] = {}
    result = {}
    for spec in case.streams:
        name = table_name(spec.name, ColumnNaming.SNAKE_CASE)
        if owners.setdefault(name, spec.name) != spec.name:
            name = with_hash_suffix(name, spec.name)
            owners[name] = spec.name
        result[spec.name] = name
    return result


def _columns(spec: StreamSpec) -> dict[str, str]:
    explicit = {"Id": "salesforce_id"} if spec.key == "Id" else {}
    props = [spec.key, *spec.props]
    # The target's naming rules, used here only to find each value's column; their warnings
    # about clashing names belong to the target's log, not ours.
    logging.getLogger("target_postgres_upsert.types").setLevel(logging.ERROR)
    return column_names(props, ColumnNaming.SNAKE_CASE, explicit, METADATA_COLUMNS)


def _same(want: Any, got: Any, kind: str) -> bool:
    if want is None or got is None:
        return want is None and got is None
    if kind == "string":
        return bool(got == str(want).replace("\x00", ""))  # NUL is removed, as documented
    if kind == "number":
        return Decimal(str(want)) == got
    if kind == "date-time":
        instant = dt.datetime.fromisoformat(want)
        return bool(got == (instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)))
    return bool(want == got)


def check_case(
    conn: psycopg2.extensions.connection, schema: str, case: Case, run: Any
) -> list[str]:
    """Every way the target's result differs from the case's oracle."""
    problems = []
    stderr = run.stderr.decode("utf-8", "replace")
    errors = error_lines(stderr)
    if "Traceback" in stderr:
        problems.append("the target printed a traceback")
    if case.fatal_line is None:
        if run.returncode != 0 or errors:
            problems.append(f"exit {run.returncode} without a fatal line; errors: {errors[:2]}")
    else:
        named = [e for e in errors if f"input line {case.fatal_line}" in e]
        if run.returncode == 0 or len(errors) != 1 or len(named) != 1:
            problems.append(
                f"{case.fatal_kind} at line {case.fatal_line}: exit {run.returncode}, "
                f"{len(errors)} error lines ({len(named)} naming the line): {errors[:3]}"
            )
    states = [line for line in run.stdout.decode().splitlines() if line.strip()]
    printed = states[-1] if states else None
    if (json.loads(printed) if printed else None) != case.last_state:
        problems.append(f"last STATE printed {printed!r:.120} != last before the stop")
    problems += _check_tables(conn, schema, case)
    problems += _check_rejects(conn, schema, case)
    return problems


def _check_tables(conn: psycopg2.extensions.connection, schema: str, case: Case) -> list[str]:
    problems = []
    tables = _tables(case)
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
        present = {r[0] for r in cur.fetchall()}
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, CANARY)))
        canary_rows = cur.fetchone()[0] if CANARY in present else None
    if canary_rows != 1:
        problems.append(f"the canary table {CANARY} lost its row or vanished ({canary_rows})")
    unexpected = present - set(tables.values()) - {CANARY, REJECTS}
    if unexpected:
        problems.append(f"unexpected tables: {sorted(unexpected)}")
    for spec in case.streams:
        problems += _check_rows(conn, schema, tables[spec.name], spec, case.expected[spec.name])
    return problems


def _check_rows(
    conn: psycopg2.extensions.connection,
    schema: str,
    table: str,
    spec: StreamSpec,
    expected: dict[str, dict[str, Any]],
) -> list[str]:
    read = read_table(conn, schema, table)
    if read is None:
        return [f"stream {spec.name!r}: table {table!r} missing"] if expected else []
    _, rows = read
    columns = _columns(spec)
    found = {row.get(columns[spec.key]): row for row in rows}
    problems = []
    if set(found) != set(expected):
        problems.append(
            f"stream {spec.name!r}: keys {sorted(map(str, found))} != {sorted(expected)}"
        )
    for key, record in expected.items():
        row = found.get(key)
        if row is None:
            continue
        for prop, kind in spec.props.items():
            if not _same(record[prop], row.get(columns[prop]), kind):
                got = row.get(columns[prop])
                problems.append(
                    f"stream {spec.name!r} key {key!r} {prop!r}: {got!r:.80} != {record[prop]!r:.80}"
                )
    return problems


def _check_rejects(conn: psycopg2.extensions.connection, schema: str, case: Case) -> list[str]:
    read = read_table(conn, schema, REJECTS)
    rows = read[1] if read else []
    by_line = {row["line_number"]: row for row in rows}
    problems = []
    for line, (stream, prop) in case.rejected.items():
        row = by_line.get(line)
        if row is None:
            problems.append(f"invalid record at line {line} ({prop!r}) is not in {REJECTS}")
        # PostgreSQL text cannot hold NUL: the rejects table names the stream without it.
        elif row["stream"] != stream.replace("\x00", "") or not row["reason"]:
            problems.append(f"reject of line {line}: stream {row['stream']!r}, no reason")
        elif prop not in row["reason"] and repr(prop) not in row["reason"]:
            problems.append(
                f"reject of line {line}: reason {row['reason']!r} does not name {prop!r}"
            )
    for line in sorted(set(by_line) - set(case.rejected)):
        problems.append(f"valid line {line} was rejected: {by_line[line]['reason']!r}")
    return problems


def _run_case(
    ctx: Context, case: Case, directory: Path, rng: random.Random, batch_size: int | None = None
) -> tuple[list[str], int]:
    """Run the target over the case's lines in a fresh schema; (problems, rows found)."""
    config = directory / "target.json"
    with ctx.schema() as schema:
        ctx.execute(
            sql.SQL("CREATE TABLE {} (id int); INSERT INTO {} VALUES (1)").format(
                sql.Identifier(schema, CANARY), sql.Identifier(schema, CANARY)
            )
        )
        settings_ = {
            "database_url": ctx.database_url,
            "default_target_schema": schema,
            "batch_size_rows": batch_size or rng.choice((1, 3, 50)),
        }
        config.write_text(json.dumps(settings_))
        (directory / "input.jsonl").write_text("\n".join(case.lines) + "\n", encoding="utf-8")
        run = subprocess.run(
            [TARGET, "--config", str(config)],
            input=(directory / "input.jsonl").read_bytes(),
            capture_output=True,
            timeout=TARGET_TIMEOUT_SECONDS,
            env=clean_env(),
            check=False,
        )
        conn = ctx.connect()
        try:
            return check_case(conn, schema, case, run), _rows_found(conn, schema, case)
        finally:
            conn.close()


def _rows_found(conn: psycopg2.extensions.connection, schema: str, case: Case) -> int:
    """How many of the expected keys have a row."""
    tables = _tables(case)
    found = 0
    for spec in case.streams:
        read = read_table(conn, schema, tables[spec.name])
        if read is not None:
            keys = {row.get(_columns(spec)[spec.key]) for row in read[1]}
            found += len(keys & set(case.expected[spec.name]))
    return found


def _hostile_streams(ctx: Context, seed: int, outcome: Outcome) -> None:
    examples = EXAMPLES_QUICK if ctx.quick else EXAMPLES_FULL
    rng = random.Random(seed)
    public_before = _public_tables(ctx)

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # every example is one target run: no shrinking
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def one(case: Case) -> None:
        directory = ctx.directory("target-input", outcome.runs + 1)
        problems, rows = _run_case(ctx, case, directory, rng)
        outcome.runs += 1
        outcome.rows_expected += sum(map(len, case.expected.values()))
        outcome.rows_found += rows
        outcome.problems += [f"example {directory.name}: {p}" for p in problems]

    one()
    if _public_tables(ctx) != public_before:
        outcome.fail("tables appeared in or vanished from the public schema")


def _public_tables(ctx: Context) -> set[str]:
    conn = ctx.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def fixed_case(spec: StreamSpec, records: list[dict[str, Any]], bad: dict[int, str]) -> Case:
    """A hand-written case: ``records`` in order, those at the ``bad`` indexes invalid (value:
    the property at fault); a STATE at the end."""
    case = Case([spec])
    case.add(spec.schema_message())
    case.expected[spec.name] = {}
    for index, values in enumerate(records):
        line = case.add({"type": "RECORD", "stream": spec.name, "record": values})
        if index in bad:
            case.rejected[line] = (spec.name, bad[index])
        else:
            case.expected[spec.name][values[spec.key]] = values
    case.last_state = {"done": True}
    case.add({"type": "STATE", "value": case.last_state})
    return case


def _fixed(name: str, make: Any, batch_size: int, known_defect: str | None = None) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        case = make()
        directory = ctx.directory(name, seed)
        problems, found = _run_case(ctx, case, directory, random.Random(seed), batch_size)
        outcome.runs += 1
        outcome.rows_expected = sum(map(len, case.expected.values()))
        outcome.rows_found = found
        outcome.problems += problems

    return Scenario(name, FAMILY, run, (81,), (81,), known_defect=known_defect)


def _percent_names() -> Case:
    spec = StreamSpec(
        "50% off %s", "%(key)s", {"%s": "string", "rate %": "number", "%%": "integer"}
    )
    rows = [{"%(key)s": f"k{i}", "%s": f"v{i}", "rate %": i / 4, "%%": i} for i in range(3)]
    return fixed_case(spec, rows, {})


def _nul_stream_name() -> Case:
    spec = StreamSpec("nul\x00stream", "id", {"n": "integer"})
    rows = [{"id": "k1", "n": 1}, {"id": "k2", "n": "not a number"}, {"id": "k3", "n": 3}]
    return fixed_case(spec, rows, {1: "n"})


def _invalid_then_valid_same_key() -> Case:
    spec = StreamSpec("s", "id", {"n": "number"})
    rows = [{"id": "k1", "n": "abc"}, {"id": "k1", "n": None}, {"id": "k2", "n": 2}]
    return fixed_case(spec, rows, {0: "n"})


SCENARIOS: list[Scenario] = [
    Scenario("hostile Singer streams (hypothesis)", FAMILY, _hostile_streams, (71,), (71,)),
    _fixed(
        "names with % (psycopg2 placeholders)",
        _percent_names,
        10,
    ),
    _fixed(
        "NUL in a stream name, with a rejected record",
        _nul_stream_name,
        10,
    ),
    _fixed(
        "invalid record, then a valid one of its key in the batch", _invalid_then_valid_same_key, 10
    ),
]
