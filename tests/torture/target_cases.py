"""Hypothesis strategies for hostile Singer input, each case carrying what the target must do.

A case is a list of input lines plus the oracle: per stream, the last valid record of each key
before the stopping point; the line numbers of invalid records (which must be rejected, with a
reason); the fatal line, if any (bad JSON, a RECORD before its SCHEMA, an unknown message type),
after which nothing is required; and the last STATE before that point.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from target_postgres_upsert.types import ColumnNaming, table_name

CANARY = "x"
KINDS = ("string", "integer", "number", "boolean", "date-time")
HUGE_STRING = "y" * 200_000
HOSTILE_NAMES = (
    '"; DROP TABLE x; --',
    "Robert'); DROP TABLE x;--",
    "x; DELETE FROM x",
    'a"b',
    "a'b",
    "semi;colon",
    "back\\slash",
    "new\nline",
    "tab\there",
    "N" * 200,
    "Ä" * 100,
    "FirstName",
    "first_name",
    "FIRST_NAME",
    "firstName",
    "Id",
    "salesforce_id",
    "select",
    "order",
    "$1",
    "space name",
    "🙂 emoji",
    "1leading",
)
HOSTILE_VALUES = ('"; DROP TABLE x; --', "'); DROP TABLE x;--", "\\.", "\\N", "a\tb\nc\rd")
ZONES = (
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(dt.timedelta(hours=-8)),
)
BAD_VALUES: dict[str, tuple[Any, ...]] = {
    "string": (12, {"a": 1}, [1], True),
    "integer": ("abc", 1.5, 2**70, True),
    "number": ("abc", True, {"a": 1}),
    "boolean": ("yes", 1),
    "date-time": ("not a date", "2024-13-45T00:00:00Z", 5),
}
# Names psycopg2 would read as placeholders if a query with parameters holds them.
PERCENT_NAMES = ("%s", "%(x)s", "50%", "%%")
FATAL_LINES = {
    "bad JSON": lambda: '{"type": "RECORD", "stream": ',
    "not JSON": lambda: "this is not a Singer message",
    "RECORD before SCHEMA": lambda: json.dumps(
        {"type": "RECORD", "stream": "never declared \u2603", "record": {"k": 1}}
    ),
    "unknown type": lambda: json.dumps({"type": "FOO", "stream": "s"}),
}


@dataclass
class StreamSpec:
    """One stream: name, string key property, typed properties."""

    name: str
    key: str
    props: dict[str, str]

    def schema_message(self) -> dict[str, Any]:
        """Its SCHEMA message."""
        properties: dict[str, Any] = {self.key: {"type": ["string"]}}
        for prop, kind in self.props.items():
            schema: dict[str, Any] = {"type": ["string" if kind == "date-time" else kind, "null"]}
            if kind == "date-time":
                schema["format"] = "date-time"
            properties[prop] = schema
        return {
            "type": "SCHEMA",
            "stream": self.name,
            "key_properties": [self.key],
            "schema": {"type": "object", "properties": properties},
        }


@dataclass
class Case:
    """Input lines and what the target must make of them."""

    streams: list[StreamSpec]
    lines: list[str] = field(default_factory=list)
    expected: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)  # line -> (stream, prop)
    fatal_line: int | None = None
    fatal_kind: str | None = None
    last_state: Any = None

    def add(self, message: dict[str, Any] | str) -> int:
        """Append a line; its 1-based number."""
        self.lines.append(message if isinstance(message, str) else json.dumps(message))
        return len(self.lines)


def _usable_stream(name: str) -> bool:
    table = table_name(name, ColumnNaming.SNAKE_CASE)
    return table not in (CANARY, "_sdc_rejected_records") and not name.startswith("_sdc")


def names() -> st.SearchStrategy[str]:
    """Hostile names, and arbitrary text.

    Without ``%``: names holding it break the target's merge (psycopg2 reads ``%s`` inside a
    quoted identifier as a placeholder), which the scenario ``PERCENT_NAMES`` shows on its own;
    left in here, that one defect would hide every other finding.
    """
    text = st.text(min_size=1, max_size=40).filter(lambda n: "%" not in n)
    return st.sampled_from(HOSTILE_NAMES) | text


def values(kind: str) -> st.SearchStrategy[Any]:
    """Valid JSON values of a property kind (null included)."""
    strategy: st.SearchStrategy[Any] = {
        "string": st.text(max_size=30)
        | st.sampled_from(HOSTILE_VALUES)
        | st.just("nul\x00inside\x00")
        | st.just(HUGE_STRING),
        "integer": st.integers(-(2**63), 2**63 - 1),
        "number": st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, allow_infinity=False),
        "boolean": st.booleans(),
        "date-time": st.datetimes(
            min_value=dt.datetime(1900, 1, 1),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.sampled_from(ZONES) | st.none(),
        ).map(lambda d: d.isoformat()),
    }[kind]
    return st.none() | strategy


@st.composite
def stream_specs(draw: st.DrawFn, name: str) -> StreamSpec:
    """A stream with a (possibly hostile) key and 1-5 properties of random kinds."""
    key = draw(names().filter(lambda n: not n.startswith("_sdc")))
    props = draw(
        st.dictionaries(
            names().filter(lambda n: not n.startswith("_sdc") and n != key),
            st.sampled_from(KINDS),
            min_size=1,
            max_size=5,
        )
    )
    return StreamSpec(name, key, props)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A whole input: SCHEMAs, then records (valid and not) and STATEs, maybe a fatal line."""
    stream_names = draw(
        st.lists(names().filter(_usable_stream), min_size=1, max_size=3, unique=True)
    )
    case = Case([draw(stream_specs(name)) for name in stream_names])
    for spec in case.streams:
        case.add(spec.schema_message())
        case.expected[spec.name] = {}
    steps = draw(st.integers(3, 40))
    fatal_at = draw(st.none() | st.integers(0, steps))
    keys = st.sampled_from(["k0", "k1", "k2", "k3", *HOSTILE_VALUES[:2]])
    for step in range(steps + 1):
        if step == fatal_at:
            case.fatal_kind = draw(st.sampled_from(sorted(FATAL_LINES)))
            case.fatal_line = case.add(FATAL_LINES[case.fatal_kind]())
        stopped = case.fatal_line is not None
        action = draw(st.sampled_from(("record", "record", "record", "invalid", "state")))
        spec = draw(st.sampled_from(case.streams))
        if action == "state":
            state = {"step": step, "note": draw(st.sampled_from(HOSTILE_VALUES))}
            case.add({"type": "STATE", "value": state})
            if not stopped:
                case.last_state = state
            continue
        key = draw(keys)
        record = {prop: draw(values(kind)) for prop, kind in spec.props.items()}
        record[spec.key] = key
        if action == "record":
            case.add({"type": "RECORD", "stream": spec.name, "record": record})
            if not stopped:
                case.expected[spec.name][key] = record
            continue
        prop = _spoil(draw, spec, record)
        line = case.add({"type": "RECORD", "stream": spec.name, "record": record})
        if not stopped:
            case.rejected[line] = (spec.name, prop)
    return case


def _spoil(draw: st.DrawFn, spec: StreamSpec, record: dict[str, Any]) -> str:
    """Make ``record`` invalid (a wrong value, a missing or null key); the property at fault."""
    how = draw(st.sampled_from(("value", "value", "missing key", "null key")))
    if how == "missing key":
        del record[spec.key]
        return spec.key
    if how == "null key":
        record[spec.key] = None
        return spec.key
    prop = draw(st.sampled_from(sorted(spec.props)))
    record[prop] = draw(st.sampled_from(BAD_VALUES[spec.props[prop]]))
    return prop
