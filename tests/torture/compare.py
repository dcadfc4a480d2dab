"""The final table against the emulator's data: same keys, same values, right types, no duplicates.

Both sides are brought to one canonical Python value per field, by the field's Salesforce type:
the emulator's CSV text (``sf.truth``) is parsed, the table is read with psycopg2 in a UTC session
(``numeric`` arrives as ``Decimal``, ``timestamptz`` as an aware ``datetime``). Doubles compare as
Python floats: the tap reads Salesforce doubles as floats, so ``1.6147805824397E13`` and
``16147805824397`` are the same value. Names are mapped with the README's rule, written here
independently of the target's code (``FirstName`` -> ``first_name``, ``Id`` -> ``salesforce_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg2
import psycopg2.extras
from psycopg2 import sql

KEY_COLUMN = "salesforce_id"
DELETED_AT = "_sdc_deleted_at"
PROBLEMS_KEPT = 50
TEXT = "text"
# Salesforce type -> the column type the target must create (anything else is text).
COLUMN_TYPES = {
    "boolean": "boolean",
    "int": "bigint",
    "double": "numeric",
    "currency": "numeric",
    "percent": "numeric",
    "date": "date",
    "datetime": "timestamp with time zone",
}
FLOAT_TYPES = {"double", "currency", "percent"}


def snake_case(name: str) -> str:
    """The README's rule: ``_`` between a lower-case letter or digit and a capital, and before
    the last capital of an acronym (``LastCURequestDate`` -> ``last_cu_request_date``)."""
    out = []
    for i, char in enumerate(name):
        if i and char.isupper():
            before, after = name[i - 1], name[i + 1 : i + 2]
            if before.islower() or before.isdigit() or (before.isupper() and after.islower()):
                out.append("_")
        out.append(char.lower())
    return "".join(out)


def column_for(field_name: str) -> str:
    """The column a Salesforce field lands in."""
    return KEY_COLUMN if field_name == "Id" else snake_case(field_name)


def salesforce_types(sf: Any, object_name: str = "Contact") -> dict[str, str]:
    """Field name -> describe type for the fields ``truth()`` renders (compound ones excluded)."""
    data = sf.org.object(object_name)
    return {spec.name: str(spec.type) for spec in data.fields if not spec.type.is_compound}


def from_truth(text: str | None, sf_type: str) -> Any:
    """The emulator's CSV text as a canonical value (empty and None are both null)."""
    if text is None or text == "":
        return None
    if sf_type == "boolean":
        return text == "true"
    if sf_type == "int":
        return int(text)
    if sf_type in FLOAT_TYPES:
        return float(text)
    if sf_type == "date":
        return dt.date.fromisoformat(text)
    if sf_type == "datetime":
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text


def from_table(value: Any, sf_type: str) -> Any:
    """A value read from the table as the same canonical value."""
    if value is None:
        return None
    if sf_type in FLOAT_TYPES and isinstance(value, Decimal | int | float):
        return float(value)
    if sf_type == "int" and isinstance(value, Decimal):
        return int(value) if value == int(value) else value
    return value


@dataclass
class Comparison:
    """Differences between a table and the emulator's rows."""

    rows_expected: int = 0
    rows_found: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def add(self, problem: str) -> None:
        """Count a problem; keep the first few verbatim."""
        self.problem_count += 1
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    @property
    def exact(self) -> bool:
        """No difference at all."""
        return self.problem_count == 0

    def summary(self) -> list[str]:
        """The kept problems plus a count of the rest."""
        rest = self.problem_count - len(self.problems)
        return self.problems + ([f"... and {rest} more differences"] if rest > 0 else [])


def read_table(
    conn: psycopg2.extensions.connection, schema: str, table: str
) -> tuple[dict[str, str], list[dict[str, Any]]] | None:
    """Column types and every row of ``schema.table`` (None if the table does not exist)."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            (schema, table),
        )
        types = {r["attname"]: r["type"] for r in cur.fetchall()}
        if not types:
            return None
        cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table)))
        return types, [dict(r) for r in cur.fetchall()]


def compare_table(
    conn: psycopg2.extensions.connection,
    schema: str,
    truth: Iterable[Mapping[str, str | None]],
    field_types: Mapping[str, str],
    *,
    table: str = "contact",
    soft_deletes: bool = False,
    stale_ok: Iterable[str] = (),
) -> Comparison:
    """Compare ``schema.table`` with ``truth`` field by field.

    ``soft_deletes``: deleted records are rows with ``_sdc_deleted_at`` set (and only they are).
    ``stale_ok``: ids whose row may linger with old values (deleted in Salesforce while
    ``include_deleted`` is off: the README says their rows stay as they were).
    """
    result = Comparison()
    expected = {str(row["Id"]): row for row in truth}
    result.rows_expected = len(expected)
    read = read_table(conn, schema, table)
    if read is None:
        result.add(f"table {schema}.{table} does not exist")
        return result
    types, rows = read
    result.rows_found = len(rows)
    _check_columns(types, field_types, result, soft_deletes)
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get(KEY_COLUMN))
        if key in found:
            result.add(f"{key}: {KEY_COLUMN} appears more than once")
        found[key] = row
    stale = set(stale_ok)
    for missing in sorted(set(expected) - set(found)):
        result.add(f"{missing}: in Salesforce, not in the table")
    for extra in sorted(set(found) - set(expected) - stale):
        result.add(f"{extra}: in the table, not in Salesforce")
    # (field, type, column) once, not per row: the mapping is most of the cost otherwise.
    fields = [
        (name, sf_type, column_for(name))
        for name, sf_type in field_types.items()
        if column_for(name) in types
    ]
    for key, truth_row in expected.items():
        row = found.get(key)
        if row is not None:
            _compare_row(key, row, truth_row, fields, result, soft_deletes)
    return result


def _check_columns(
    types: Mapping[str, str],
    field_types: Mapping[str, str],
    result: Comparison,
    soft_deletes: bool,
) -> None:
    for name, sf_type in field_types.items():
        column = column_for(name)
        wanted = COLUMN_TYPES.get(sf_type, TEXT)
        if column not in types:
            result.add(f"column {column} (for {name}) is missing")
        elif types[column] != wanted:
            result.add(f"column {column} is {types[column]}, expected {wanted} for {sf_type}")
    if soft_deletes and DELETED_AT not in types:
        result.add(f"column {DELETED_AT} is missing")


def _compare_row(
    key: str,
    row: Mapping[str, Any],
    truth_row: Mapping[str, str | None],
    fields: list[tuple[str, str, str]],
    result: Comparison,
    soft_deletes: bool,
) -> None:
    for name, sf_type, column in fields:
        if name not in truth_row:
            continue
        want = from_truth(truth_row[name], sf_type)
        got = from_table(row[column], sf_type)
        if want != got:
            result.add(f"{key}.{name}: table {got!r} != salesforce {want!r}")
    if soft_deletes:
        deleted_in_sf = truth_row.get("IsDeleted") == "true"
        marked = row.get(DELETED_AT) is not None
        if deleted_in_sf != marked:
            result.add(
                f"{key}: IsDeleted={deleted_in_sf} but {DELETED_AT} is {row.get(DELETED_AT)}"
            )
