"""Throughput, CPU and memory of target-postgres-upsert against bare PostgreSQL baselines.

A script that prints figures, not a test. It generates an N-record Contact-like Singer stream
(90 properties: Id, 40 strings, 15 date-times, 15 booleans, 10 integers, 5 numbers, 4 always
null), or reads one given with ``--input`` (e.g. the tap's real output, captured from the
emulator), then measures on a real PostgreSQL:

* our target: initial load into an empty schema, then a second pass over the same keys (changed
  values when generated; the same records again with ``--input``, which the merge leaves
  unwritten): wall seconds, records/s, CPU seconds of the target process (user + sys, from
  ``wait4``), and peak RSS (VmHWM polled from /proc); peak RSS at N/10 records too;
* with ``--compare NAME=COMMAND`` (repeatable), other builds of the target (e.g. a previous
  commit) measured the same way, interleaved with ours in every repetition;
* ``COPY`` alone into a fresh table, and ``COPY`` into a temporary stage + one
  ``INSERT ... ON CONFLICT ... WHERE (row) IS DISTINCT FROM (new row)`` per batch (initial and
  second pass), timed in Python with psycopg2 from the same rows, already formatted as COPY text:
  the database work alone, the floor any target can reach. Columns and types come from the
  stream's SCHEMA message (the target's own type mapping), keyed on its first key property;
* with ``--meltanolabs M`` (default 100000; 0 to skip), meltanolabs-target-postgres installed from
  PyPI into ``.tools/meltanolabs-target-postgres`` and timed on the first M records, against ours.

Medians of ``--repeat`` interleaved repetitions (the development machines are shared).

    .venv/bin/python tests/benchmarks/target_throughput.py --records 200000 --meltanolabs 100000
    .venv/bin/python tests/benchmarks/target_throughput.py --input contacts.jsonl --repeat 5 \\
        --meltanolabs 0 --compare "before=/tmp/old/bin/target-postgres-upsert"
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from target_postgres_upsert.types import pg_type_for, value_kinds

REPO = Path(__file__).resolve().parents[2]
TARGET_BIN = REPO / ".venv" / "bin" / "target-postgres-upsert"
MELTANOLABS_VENV = REPO / ".tools" / "meltanolabs-target-postgres"
MELTANOLABS_PACKAGE = "meltanolabs-target-postgres"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_RECORDS = 600_000
DEFAULT_MELTANOLABS_RECORDS = 100_000
BATCH_ROWS = 10_000
STATE_EVERY_RECORDS = 10_000
RSS_POLL_SECONDS = 0.05

STRING_FIELDS = [
    "FirstName", "LastName", "Salutation", "MiddleName", "Suffix", "Title", "Department",
    "Email", "Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax", "AssistantName",
    "AssistantPhone", "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode",
    "MailingCountry", "OtherStreet", "OtherCity", "OtherState", "OtherPostalCode",
    "OtherCountry", "LeadSource", "Description", "AccountId", "OwnerId", "ReportsToId",
    "CreatedById", "LastModifiedById", "Languages__c", "Level__c", "NPI__c", "Specialty__c",
    "Region__c", "Segment__c", "ExternalKey__c", "Notes__c",
]  # fmt: skip
DATETIME_FIELDS = [
    "CreatedDate", "LastModifiedDate", "SystemModstamp", "LastActivityDate", "LastViewedDate",
    "LastReferencedDate", "LastCURequestDate", "LastCUUpdateDate", "EmailBouncedDate",
    "Consent_Date__c", "First_Touch__c", "Last_Touch__c", "Renewal__c", "Review__c", "Sync__c",
]  # fmt: skip
BOOLEAN_FIELDS = [
    "IsDeleted", "HasOptedOutOfEmail", "HasOptedOutOfFax", "DoNotCall", "IsEmailBounced",
    "IsPriorityRecord", "Active__c", "Verified__c", "Key_Contact__c", "Newsletter__c",
    "Partner__c", "Primary__c", "Survey__c", "Trial__c", "VIP__c",
]  # fmt: skip
INTEGER_FIELDS = [
    "NumberOfEmployees__c", "Visits__c", "Calls__c", "Emails__c", "Meetings__c",
    "Score__c", "Rank__c", "Tier__c", "Age__c", "Children__c",
]  # fmt: skip
NUMBER_FIELDS = ["Revenue__c", "Discount__c", "Latitude__c", "Longitude__c", "Balance__c"]
NULL_FIELDS = ["Jigsaw", "JigsawContactId", "MasterRecordId", "PhotoUrl"]
WORDS = [
    'alpha', 'beta', 'gamma', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet',
    'kilo', 'lima', 'mike', 'november', 'oscar', 'papa', 'quebec', 'romeo', 'sierra', 'tango',
    'uniform', 'victor', 'whiskey', 'xray', 'yankee', 'zulu', 'Zürich', 'Ærø', 'café',
]  # fmt: skip


def contact_schema() -> dict[str, Any]:
    """The SCHEMA message for the generated stream."""
    props: dict[str, Any] = {"Id": {"type": "string"}}
    props.update({f: {"type": ["null", "string"]} for f in STRING_FIELDS})
    props.update({f: {"type": ["null", "string"], "format": "date-time"} for f in DATETIME_FIELDS})
    props.update({f: {"type": ["null", "boolean"]} for f in BOOLEAN_FIELDS})
    props.update({f: {"type": ["null", "integer"]} for f in INTEGER_FIELDS})
    props.update({f: {"type": ["null", "number"]} for f in NUMBER_FIELDS})
    props.update({f: {"type": ["null", "string"]} for f in NULL_FIELDS})
    return {
        "type": "SCHEMA",
        "stream": "Contact",
        "key_properties": ["Id"],
        "schema": {"type": "object", "properties": props},
    }


def contact_records(count: int, version: int) -> Iterator[dict[str, Any]]:
    """Deterministic records; ``version`` changes values but not keys."""
    rng = random.Random(7 + version)
    phrases = [" ".join(rng.choices(WORDS, k=rng.randint(2, 7))) for _ in range(997)]
    stamps = [
        f"20{rng.randint(10, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
        f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.000+0000"
        for _ in range(991)
    ]
    for i in range(count):
        record: dict[str, Any] = {"Id": f"003{i:015d}"}
        for j, name in enumerate(STRING_FIELDS):
            record[name] = phrases[(i * 31 + j * 17 + version) % 997]
        if i % 10 == 0:  # some multi-line text with tabs and backslashes, as in real data
            record["Description"] = phrases[i % 997] + "\r\nsecond line\twith \\ tab"
        for j, name in enumerate(DATETIME_FIELDS):
            record[name] = stamps[(i * 7 + j * 13 + version) % 991]
        for j, name in enumerate(BOOLEAN_FIELDS):
            record[name] = (i + j + version) % 3 == 0
        record["IsDeleted"] = False
        for j, name in enumerate(INTEGER_FIELDS):
            record[name] = (i * (j + 3) + version) % 100_000
        for j, name in enumerate(NUMBER_FIELDS):
            record[name] = round(((i + 1) * (j + 1.37) + version) % 10_000, 2)
        for name in NULL_FIELDS:
            record[name] = None
        yield record


def write_stream(path: Path, count: int, version: int) -> None:
    """Write SCHEMA, the records and a STATE every ``STATE_EVERY_RECORDS`` records."""
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(contact_schema()) + "\n")
        for i, record in enumerate(contact_records(count, version), start=1):
            message = {"type": "RECORD", "stream": "Contact", "record": record}
            out.write(json.dumps(message, ensure_ascii=False) + "\n")
            if i % STATE_EVERY_RECORDS == 0:
                out.write(json.dumps({"type": "STATE", "value": {"n": i}}) + "\n")
        out.write(json.dumps({"type": "STATE", "value": {"n": count}}) + "\n")


def slice_stream(source: Path, dest: Path, count: int) -> None:
    """The first ``count`` records of ``source`` (and its SCHEMA/STATE messages)."""
    seen = 0
    with source.open(encoding="utf-8") as src, dest.open("w", encoding="utf-8") as out:
        for line in src:
            if '"RECORD"' in line[:40]:
                seen += 1
                if seen > count:
                    break
            out.write(line)


def _peak_rss_mib(pid: int) -> int:
    """VmHWM (peak resident set) of a running process, from /proc, in MiB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Run:
    """One run of a target process."""

    seconds: float
    cpu_seconds: float  # user + sys of the process (all its threads)
    peak_rss_mib: int
    last_line: str  # the last STATE it wrote


def run_target(command: list[str], config: dict[str, Any], stream: Path) -> Run:
    """Run a target process on ``stream`` and measure it.

    The peak RSS is polled from /proc (VmHWM of the process after exec): the rusage of a child
    would also count the pages it shared with this script between fork and exec. CPU time comes
    from ``wait4``, which reports the child's own.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    started = time.monotonic()
    with stream.open("rb") as stdin, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [*command, "--config", handle.name], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr
        )
        peak = [0]
        done = threading.Event()

        def poll() -> None:
            while not done.wait(RSS_POLL_SECONDS):
                peak[0] = max(peak[0], _peak_rss_mib(proc.pid))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert proc.stdout is not None
        output = proc.stdout.read()
        peak[0] = max(peak[0], _peak_rss_mib(proc.pid))  # a zombie's status still has it
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        done.set()
        poller.join()
        if proc.returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-3000:]
            sys.exit(f"{command[0]} failed ({proc.returncode}):\n{tail}")
    os.unlink(handle.name)
    lines = output.decode().strip().splitlines()
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak[0], lines[-1] if lines else "")


# --- baselines --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamShape:
    """The stream the baselines load: its name, columns (properties), types and key."""

    name: str
    columns: list[str]
    types: dict[str, str]
    key: str


def stream_shape(stream: Path) -> StreamShape:
    """The shape of the first stream of a Singer file, from its first SCHEMA message."""
    with stream.open(encoding="utf-8") as src:
        for line in src:
            message = json.loads(line)
            if message.get("type") == "SCHEMA":
                properties = message["schema"]["properties"]
                return StreamShape(
                    name=message["stream"],
                    columns=list(properties),
                    types={p: pg_type_for(value_kinds(s)).value for p, s in properties.items()},
                    key=(message.get("key_properties") or [next(iter(properties))])[0],
                )
    sys.exit(f"{stream}: no SCHEMA message")


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    text = str(value).replace("\x00", "")
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_batches(stream: Path, shape: StreamShape) -> list[bytes]:
    """The stream's records as COPY text, one bytes object per batch of BATCH_ROWS."""
    batches: list[bytes] = []
    lines: list[str] = []
    with stream.open(encoding="utf-8") as src:
        for line in src:
            message = json.loads(line)
            if message["type"] != "RECORD" or message["stream"] != shape.name:
                continue
            record = message["record"]
            lines.append("\t".join(_copy_text(record.get(c)) for c in shape.columns))
            if len(lines) == BATCH_ROWS:
                batches.append(("\n".join(lines) + "\n").encode())
                lines = []
    if lines:
        batches.append(("\n".join(lines) + "\n").encode())
    return batches


def _column_defs(shape: StreamShape) -> sql.Composed:
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(shape.types[c])) for c in shape.columns
    )


class _Chunks:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def read(self, size: int = 1 << 20) -> bytes:
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk


def baseline_copy(url: str, schema: str, shape: StreamShape, batches: list[bytes]) -> float:
    """Seconds to COPY every batch straight into a fresh table, one commit per batch."""
    conn = psycopg2.connect(url)
    table = sql.Identifier(schema, "copy_only")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, _column_defs(shape)))
    conn.commit()
    started = time.monotonic()
    with conn.cursor() as cur:
        for data in batches:
            cur.copy_expert(sql.SQL("COPY {} FROM STDIN").format(table), _Chunks(data), 1 << 20)
            conn.commit()
    elapsed = time.monotonic() - started
    conn.close()
    return elapsed


def baseline_merge(
    url: str, schema: str, shape: StreamShape, passes: list[list[bytes]]
) -> list[float]:
    """Seconds per pass of COPY into a temp stage + one INSERT ... ON CONFLICT per batch."""
    conn = psycopg2.connect(url)
    table = sql.Identifier(schema, "merged")
    others = [c for c in shape.columns if c != shape.key]
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SET temp_buffers = '128MB'")  # what the target sets, for a fair comparison
        cur.execute(
            sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
                table, _column_defs(shape), sql.Identifier(shape.key)
            )
        )
    conn.commit()
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in shape.columns)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in others
    )
    merge = sql.SQL(
        "INSERT INTO {t} AS t ({c}) SELECT {c} FROM stage ON CONFLICT ({k}) DO UPDATE SET {u}"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        t=table,
        c=cols,
        k=sql.Identifier(shape.key),
        u=updates,
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in others),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in others),
    )
    results = []
    for batches in passes:
        started = time.monotonic()
        with conn.cursor() as cur:
            for data in batches:
                cur.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE stage ON COMMIT DROP AS SELECT * FROM {} WITH NO DATA"
                    ).format(table)
                )
                cur.copy_expert("COPY stage FROM STDIN", _Chunks(data), 1 << 20)
                cur.execute(merge)
                conn.commit()
        results.append(time.monotonic() - started)
    conn.close()
    return results


# --- meltanolabs ---------------------------------------------------------------------------------


def meltanolabs_command() -> list[str]:
    """Install meltanolabs-target-postgres into its own venv (once) and return its command."""
    binary = MELTANOLABS_VENV / "bin" / "target-postgres"
    if not binary.exists():
        print(f"installing {MELTANOLABS_PACKAGE} into {MELTANOLABS_VENV} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MELTANOLABS_VENV)], check=True)
        subprocess.run(
            [str(MELTANOLABS_VENV / "bin" / "pip"), "install", "-q", MELTANOLABS_PACKAGE],
            check=True,
        )
    return [str(binary)]


# --- main --------------------------------------------------------------------------------------


class _Schemas:
    """Fresh schemas for each measurement, all dropped at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.names: list[str] = []
        self.admin = psycopg2.connect(url)
        self.admin.autocommit = True

    def new(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with self.admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        self.names.append(name)
        return name

    def drop(self) -> None:
        with self.admin.cursor() as cur:
            for name in self.names:
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )
        self.admin.close()


def _say(text: str) -> None:
    print(text, flush=True)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _parse_targets(compare: list[str]) -> dict[str, list[str]]:
    """``ours`` plus each ``NAME=COMMAND`` given with ``--compare``."""
    targets = {"ours": [str(TARGET_BIN)]}
    for item in compare:
        name, sep, command = item.partition("=")
        if not sep or not command:
            sys.exit(f"--compare wants NAME=COMMAND, got {item!r}")
        targets[name] = shlex.split(command)
    return targets


def _streams(args: argparse.Namespace, workdir: Path) -> tuple[Path, Path, int]:
    """(first pass, second pass, record count): the given file twice, or two generated ones."""
    if args.input:
        count = sum(1 for line in args.input.open(encoding="utf-8") if '"RECORD"' in line[:40])
        return args.input, args.input, count
    initial, changed = workdir / "initial.jsonl", workdir / "changed.jsonl"
    write_stream(initial, args.records, version=0)
    write_stream(changed, args.records, version=1)
    return initial, changed, args.records


def main() -> None:
    """Parse flags, run every measurement, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=DEFAULT_RECORDS)
    parser.add_argument("--input", type=Path, help="a Singer file to use instead of generating")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--meltanolabs", type=int, default=DEFAULT_MELTANOLABS_RECORDS)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the targets and the merge baseline this many times, interleaved; medians",
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="another build of the target to measure the same way (repeatable)",
    )
    parser.add_argument("--workdir", type=Path, help="where to write the streams (default: temp)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="target-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    initial, changed, count = _streams(args, workdir)
    small = workdir / "small.jsonl"
    slice_stream(initial, small, max(count // 10, 1))
    size_mib = initial.stat().st_size / 2**20
    _say(f"stream: {count:,} records, {size_mib:,.0f} MiB ({time.monotonic() - started:.0f} s)")
    shape = stream_shape(initial)
    first, second = copy_batches(initial, shape), copy_batches(changed, shape)
    _say(f"baseline rows formatted as COPY text ({len(shape.columns)} columns)")

    url = args.database_url
    targets = _parse_targets(args.compare)
    schemas = _Schemas(url)
    runs: dict[tuple[str, str], list[Run]] = {}
    merges: dict[str, list[float]] = {"initial": [], "second": []}
    try:
        for name, command in targets.items():
            config = {"database_url": url, "default_target_schema": schemas.new()}
            runs[(name, "small")] = [run_target(command, config, small)]
        for rep in range(args.repeat):
            for name, command in targets.items():
                config = {"database_url": url, "default_target_schema": schemas.new()}
                for label, stream in (("initial", initial), ("second", changed)):
                    runs.setdefault((name, label), []).append(run_target(command, config, stream))
            merge_initial, merge_second = baseline_merge(url, schemas.new(), shape, [first, second])
            merges["initial"].append(merge_initial)
            merges["second"].append(merge_second)
            _say(
                f"rep {rep + 1}: "
                + ", ".join(
                    f"{name} {runs[(name, 'initial')][-1].seconds:.1f} s"
                    f" ({runs[(name, 'initial')][-1].cpu_seconds:.1f} s CPU)"
                    f" / {runs[(name, 'second')][-1].seconds:.1f} s"
                    for name in targets
                )
                + f"; bare merge {merge_initial:.1f} s / {merge_second:.1f} s"
            )
        copy_seconds = baseline_copy(url, schemas.new(), shape, first)
        del first, second
        ml: tuple[int, Run, Run] | None = None
        if args.meltanolabs:
            ml_slice = workdir / "meltanolabs.jsonl"
            slice_stream(initial, ml_slice, args.meltanolabs)
            n = min(args.meltanolabs, count)
            ours = run_target(
                targets["ours"],
                {"database_url": url, "default_target_schema": schemas.new()},
                ml_slice,
            )
            ml_config = {
                "sqlalchemy_url": url.replace("postgresql://", "postgresql+psycopg://", 1),
                "default_target_schema": schemas.new(),
            }
            ml = (n, ours, run_target(meltanolabs_command(), ml_config, ml_slice))
    finally:
        schemas.drop()
    _report(count, targets, runs, merges, copy_seconds, ml, args.repeat)


def _report(
    count: int,
    targets: dict[str, list[str]],
    runs: dict[tuple[str, str], list[Run]],
    merges: dict[str, list[float]],
    copy_seconds: float,
    ml: tuple[int, Run, Run] | None,
    repeat: int,
) -> None:
    median = f" (medians of {repeat})" if repeat > 1 else ""
    _say(
        f"\n{'measurement' + median:<44} {'records':>9} {'seconds':>8} {'records/s':>10}"
        f" {'CPU s':>7} {'CPU us/rec':>10} {'x merge':>8}  peak RSS"
    )

    def line(
        label: str,
        n: int,
        seconds: float,
        cpu: float | None,
        rss: int | None,
        ratio_to: float | None,
    ) -> None:
        cpu_text = f"{cpu:>7.1f} {cpu / n * 1e6:>10.0f}" if cpu is not None else f"{'':>7} {'':>10}"
        ratio = f"{seconds / ratio_to:>8.2f}" if ratio_to else f"{'':>8}"
        rss_text = f"  {rss} MiB" if rss is not None else ""
        _say(
            f"{label:<44} {n:>9,} {seconds:>8.1f} {n / seconds:>10,.0f} {cpu_text} {ratio}{rss_text}"
        )

    merge_initial, merge_second = _median(merges["initial"]), _median(merges["second"])
    for name in targets:
        small = runs[(name, "small")][0]
        line(
            f"{name}, initial load of N/10",
            count // 10,
            small.seconds,
            small.cpu_seconds,
            small.peak_rss_mib,
            None,
        )
        for label, title, base in (
            ("initial", "initial load", merge_initial),
            ("second", "second pass, same keys", merge_second),
        ):
            done = runs[(name, label)]
            line(
                f"{name}, {title}",
                count,
                _median([r.seconds for r in done]),
                _median([r.cpu_seconds for r in done]),
                max(r.peak_rss_mib for r in done),
                base,
            )
    line("bare COPY into a fresh table", count, copy_seconds, None, None, None)
    line("bare COPY + INSERT ON CONFLICT, initial", count, merge_initial, None, None, None)
    line("bare COPY + INSERT ON CONFLICT, second pass", count, merge_second, None, None, None)
    if ml is not None:
        n, ours, theirs = ml
        line(
            f"ours on the same {n:,}-record slice",
            n,
            ours.seconds,
            ours.cpu_seconds,
            ours.peak_rss_mib,
            None,
        )
        line(
            f"meltanolabs-target-postgres, {n:,} records",
            n,
            theirs.seconds,
            theirs.cpu_seconds,
            theirs.peak_rss_mib,
            None,
        )
        _say(f"\nours vs meltanolabs on {n:,} records: {theirs.seconds / ours.seconds:.1f}x faster")
    _say(f"\nlast STATE written by ours: {runs[('ours', 'second')][-1].last_line[:300]}")
    _say("x merge: the run's seconds over the bare COPY + INSERT ON CONFLICT of the same rows")


if __name__ == "__main__":
    main()
