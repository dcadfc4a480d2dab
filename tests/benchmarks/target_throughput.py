"""Throughput and memory of target-postgres-upsert against bare PostgreSQL baselines.

A script that prints figures, not a test. It generates an N-record Contact-like Singer stream
(90 properties: Id, 40 strings, 15 date-times, 15 booleans, 10 integers, 5 numbers, 4 always
null), or reads one given with ``--input``, then measures on a real PostgreSQL:

* our target: initial load, then an upsert of the same keys with changed values (records/s and
  peak RSS of the target process, polled from /proc), and peak RSS at N/10 records too;
* ``COPY`` alone into a fresh table, and ``COPY`` into a temporary stage + one
  ``INSERT ... ON CONFLICT`` per batch (initial and update), timed in Python with psycopg2 from
  the same rows, already formatted as COPY text (so the baseline is the database work only);
* with ``--meltanolabs M`` (default 100000; 0 to skip), meltanolabs-target-postgres installed from
  PyPI into ``.tools/meltanolabs-target-postgres`` and timed on the first M records, against ours.

    .venv/bin/python tests/benchmarks/target_throughput.py --records 200000 --meltanolabs 100000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

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
    "alpha",
    "beta",
    "gamma",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "Zürich",
    "Ærø",
    "café",
]


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


def run_target(command: list[str], config: dict[str, Any], stream: Path) -> tuple[float, int, str]:
    """Run a target process on ``stream``; (seconds, peak RSS in MiB, last stdout line).

    The peak RSS is polled from /proc (VmHWM of the process after exec): the rusage of a child
    would also count the pages it shared with this script between fork and exec.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    started = time.monotonic()
    with stream.open("rb") as stdin, tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [*command, "--config", handle.name], stdin=stdin, stdout=subprocess.PIPE, stderr=stderr
        )
        peak = [0]

        def poll() -> None:
            while proc.poll() is None:
                peak[0] = max(peak[0], _peak_rss_mib(proc.pid))
                time.sleep(RSS_POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        assert proc.stdout is not None
        output = proc.stdout.read()
        proc.wait()
        elapsed = time.monotonic() - started
        poller.join()
        if proc.returncode != 0:
            stderr.seek(0)
            tail = stderr.read().decode(errors="replace")[-3000:]
            sys.exit(f"{command[0]} failed ({proc.returncode}):\n{tail}")
    os.unlink(handle.name)
    lines = output.decode().strip().splitlines()
    return elapsed, peak[0], lines[-1] if lines else ""


# --- baselines --------------------------------------------------------------------------------


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_batches(stream: Path, columns: list[str]) -> list[bytes]:
    """The records of ``stream`` as COPY text, one bytes object per batch of BATCH_ROWS."""
    batches: list[bytes] = []
    lines: list[str] = []
    with stream.open(encoding="utf-8") as src:
        for line in src:
            message = json.loads(line)
            if message["type"] != "RECORD":
                continue
            record = message["record"]
            lines.append("\t".join(_copy_text(record.get(c)) for c in columns))
            if len(lines) == BATCH_ROWS:
                batches.append(("\n".join(lines) + "\n").encode())
                lines = []
    if lines:
        batches.append(("\n".join(lines) + "\n").encode())
    return batches


def _column_defs(columns: list[str]) -> sql.Composed:
    types = dict.fromkeys(DATETIME_FIELDS, "timestamptz")
    types.update(dict.fromkeys(BOOLEAN_FIELDS, "boolean"))
    types.update(dict.fromkeys(INTEGER_FIELDS, "bigint"))
    types.update(dict.fromkeys(NUMBER_FIELDS, "numeric"))
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types.get(c, "text"))) for c in columns
    )


class _Chunks:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def read(self, size: int = 1 << 20) -> bytes:
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk


def baseline_copy(url: str, schema: str, columns: list[str], batches: list[bytes]) -> float:
    """Seconds to COPY every batch straight into a fresh table, one commit per batch."""
    conn = psycopg2.connect(url)
    table = sql.Identifier(schema, "copy_only")
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE {} ({})").format(table, _column_defs(columns)))
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
    url: str, schema: str, columns: list[str], passes: list[list[bytes]]
) -> list[float]:
    """Seconds per pass of COPY into a temp stage + one INSERT ... ON CONFLICT per batch."""
    conn = psycopg2.connect(url)
    table = sql.Identifier(schema, "merged")
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
        cur.execute("SET temp_buffers = '128MB'")  # what the target sets, for a fair comparison
        cur.execute(
            sql.SQL("CREATE TABLE {} ({}, PRIMARY KEY ({}))").format(
                table, _column_defs(columns), sql.Identifier("Id")
            )
        )
    conn.commit()
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in columns[1:]
    )
    merge = sql.SQL(
        "INSERT INTO {t} AS t ({c}) SELECT {c} FROM stage ON CONFLICT ({k}) DO UPDATE SET {u}"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        t=table,
        c=cols,
        k=sql.Identifier("Id"),
        u=updates,
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in columns[1:]),
        new=sql.SQL(", ").join(
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in columns[1:]
        ),
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


def _rate(records: int, seconds: float) -> str:
    return f"{records / seconds:>10,.0f}"


def _median(values: list[float]) -> float:
    return statistics.median(values)


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
        help="run ours and the merge baseline this many times, interleaved; report medians",
    )
    parser.add_argument("--workdir", type=Path, help="where to write the streams (default: temp)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="target-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    initial, changed, small = (
        workdir / "initial.jsonl",
        workdir / "changed.jsonl",
        workdir / "small.jsonl",
    )
    started = time.monotonic()
    if args.input:
        initial = args.input
        changed = args.input  # no generator to change values: the second pass re-delivers
        count = sum(1 for line in initial.open(encoding="utf-8") if '"RECORD"' in line[:40])
    else:
        count = args.records
        write_stream(initial, count, version=0)
        write_stream(changed, count, version=1)
    slice_stream(initial, small, max(count // 10, 1))
    size_mib = initial.stat().st_size / 2**20
    _say(f"stream: {count:,} records, {size_mib:,.0f} MiB ({time.monotonic() - started:.0f} s)")
    columns = list(contact_schema()["schema"]["properties"])
    first, second = copy_batches(initial, columns), copy_batches(changed, columns)
    _say("baseline rows formatted as COPY text")

    url = args.database_url
    ours = [str(TARGET_BIN)]
    schemas = _Schemas(url)
    rows: list[tuple[str, int, float, str]] = []
    times: dict[str, list[float]] = {k: [] for k in ("initial", "update", "m_init", "m_upd")}
    rss: dict[str, int] = {}
    try:
        seconds, rss["small"], _ = run_target(
            ours, {"database_url": url, "default_target_schema": schemas.new()}, small
        )
        rows.append(("ours, initial load of N/10", count // 10, seconds, f"{rss['small']} MiB"))
        for rep in range(args.repeat):
            config = {"database_url": url, "default_target_schema": schemas.new()}
            seconds, rss["initial"], state = run_target(ours, config, initial)
            times["initial"].append(seconds)
            seconds, rss["update"], state = run_target(ours, config, changed)
            times["update"].append(seconds)
            merge_initial, merge_update = baseline_merge(
                url, schemas.new(), columns, [first, second]
            )
            times["m_init"].append(merge_initial)
            times["m_upd"].append(merge_update)
            _say(
                f"rep {rep + 1}: ours {times['initial'][-1]:.1f} s / {times['update'][-1]:.1f} s,"
                f" bare merge {merge_initial:.1f} s / {merge_update:.1f} s"
            )
        copy_seconds = baseline_copy(url, schemas.new(), columns, first)
        del first, second
        ours_initial, ours_update = _median(times["initial"]), _median(times["update"])
        merge_initial, merge_update = _median(times["m_init"]), _median(times["m_upd"])
        rows.append(("ours, initial load", count, ours_initial, f"{rss['initial']} MiB"))
        rows.append(("ours, upsert same keys, changed values", count, ours_update,
                     f"{rss['update']} MiB"))  # fmt: skip
        rows.append(("bare COPY into a fresh table", count, copy_seconds, ""))
        rows.append(("bare COPY + INSERT ON CONFLICT, initial", count, merge_initial, ""))
        rows.append(("bare COPY + INSERT ON CONFLICT, update", count, merge_update, ""))

        if args.meltanolabs:
            meltano_slice = workdir / "meltanolabs.jsonl"
            slice_stream(initial, meltano_slice, args.meltanolabs)
            n = min(args.meltanolabs, count)
            ours_slice, _, _ = run_target(
                ours, {"database_url": url, "default_target_schema": schemas.new()}, meltano_slice
            )
            _say(f"ours on the {n:,}-record slice: {ours_slice:.1f} s")
            ml_config = {
                "sqlalchemy_url": url.replace("postgresql://", "postgresql+psycopg://", 1),
                "default_target_schema": schemas.new(),
            }
            ml_seconds, ml_rss, _ = run_target(meltanolabs_command(), ml_config, meltano_slice)
            rows.append((f"ours on the same {n:,}-record slice", n, ours_slice, ""))
            rows.append(
                (f"meltanolabs-target-postgres, {n:,} records", n, ml_seconds, f"{ml_rss} MiB")
            )
    finally:
        schemas.drop()

    median = f" (median of {args.repeat})" if args.repeat > 1 else ""
    _say(
        f"\n{'measurement' + median:<48} {'records':>9} {'seconds':>8} {'records/s':>10}  peak RSS"
    )
    for label, n, seconds, rss_text in rows:
        _say(f"{label:<48} {n:>9,} {seconds:>8.1f} {_rate(n, seconds)}  {rss_text}")
    _say(f"\nlast STATE written by ours: {state}")
    _say(f"ours / bare merge, initial: {merge_initial / ours_initial:.0%}")
    _say(f"ours / bare merge, update:  {merge_update / ours_update:.0%}")
    if args.meltanolabs:
        _say(f"ours vs meltanolabs on {n:,} records: {ml_seconds / ours_slice:.1f}x faster")


if __name__ == "__main__":
    main()
