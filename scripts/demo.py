"""The README's demo: the emulator, PostgreSQL and ``meltano run``, then what landed.

Run through ``./scripts/demo`` (which prepares the virtual environments). Steps:
1. start the Salesforce emulator with ``--contacts`` Contacts (default 100,000);
2. find or start PostgreSQL (``scripts/ensure_postgres.py``) and use its ``demo`` database;
3. ``meltano install`` (first run only), then ``meltano run --full-refresh tap-salesforce-bulk
   target-postgres-upsert`` (the JWT bearer flow, as recommended for real orgs);
4. change 1% of the Contacts in the emulator and run again, incrementally from Meltano's state;
5. print rows per table, time taken and records/s for both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.benchmarks.common import emulator  # noqa: E402 - after the path is set

MELTANO = ROOT / ".tools" / "meltano" / "bin" / "meltano"
SCHEMA = "salesforce_demo"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def meltano(args: list[str], env: dict[str, str], *, quiet: bool = False) -> float:
    """Run meltano in the project root; return the wall time. Its log goes to .meltano/demo.log."""
    log = ROOT / ".meltano" / "demo.log"
    log.parent.mkdir(exist_ok=True)
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ meltano {' '.join(args)}\n")
        out.flush()
        code = subprocess.call([str(MELTANO), *args], cwd=ROOT, env=env, stdout=out, stderr=out)
    if code != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
        say(f"meltano {' '.join(args)} failed (exit {code}); last lines of {log}:\n{tail}")
        sys.exit(code)
    if not quiet:
        say(f"meltano {' '.join(args)}: {time.perf_counter() - started:.1f} s")
    return time.perf_counter() - started


def table_counts(database_url: str) -> dict[str, int]:
    """Rows per table in the demo schema."""
    counts: dict[str, int] = {}
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            (SCHEMA,),
        )
        for (table,) in cur.fetchall():
            cur.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(SCHEMA), sql.Identifier(table)
                )
            )
            counts[table] = int(cur.fetchone()[0])
    return counts


def drop_schema(database_url: str) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--contacts", type=int, default=int(os.environ.get("DEMO_CONTACTS", 100_000))
    )
    parser.add_argument("--database-url", default=os.environ.get("DEMO_DATABASE_URL"))
    args = parser.parse_args()

    database_url = (
        args.database_url
        or subprocess.check_output(
            [sys.executable, str(ROOT / "scripts" / "ensure_postgres.py"), "demo"], text=True
        ).strip()
    )
    say(f"PostgreSQL: {database_url.split('@')[-1]}")
    drop_schema(database_url)

    say(f"starting the Salesforce emulator with {args.contacts:,} Contacts")
    with emulator(args.contacts, gzip=True) as sf:
        creds = sf.credentials
        env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_ENVIRONMENT": "dev",
            "TAP_SALESFORCE_BULK_AUTH_FLOW": "jwt",
            "TAP_SALESFORCE_BULK_LOGIN_URL": sf.url,
            "TAP_SALESFORCE_BULK_CLIENT_ID": creds["client_id"],
            "TAP_SALESFORCE_BULK_USERNAME": creds["username"],
            "TAP_SALESFORCE_BULK_PRIVATE_KEY": creds["private_key_pem"],
            "TAP_SALESFORCE_BULK_LAG_SECONDS": "0",
            "TARGET_POSTGRES_UPSERT_DATABASE_URL": database_url,
            "TARGET_POSTGRES_UPSERT_DEFAULT_TARGET_SCHEMA": SCHEMA,
        }
        if not (ROOT / ".meltano" / "extractors" / "tap-salesforce-bulk").exists():
            say("meltano install (first run only: creates the plugins' virtual environments)")
        meltano(["install"], env, quiet=True)
        first = meltano(
            ["run", "--full-refresh", "tap-salesforce-bulk", "target-postgres-upsert"], env
        )
        loaded = table_counts(database_url)
        changed = max(1, args.contacts // 100)
        sf.control(
            "update_records",
            {"object": "Contact", "count": changed, "fields": {"Title": "Changed for the demo"}},
        )
        say(f"changed {changed:,} Contacts in the emulator; running again incrementally")
        second = meltano(["run", "tap-salesforce-bulk", "target-postgres-upsert"], env)
        counters = sf.control("counters", method="GET")

    final = table_counts(database_url)
    total = sum(loaded.values())
    print()
    print(f"{'table':<32}{'rows':>12}")
    for table, count in final.items():
        print(f"{SCHEMA + '.' + table:<32}{count:>12,}")
    print()
    print(
        f"full run:        {total:,} rows in {first:.1f} s ({total / first:,.0f} records/s, meltano included)"
    )
    print(f"incremental run: {changed:,} changed rows picked up in {second:.1f} s")
    print(
        f"emulator:        {counters['jobs_created']} Bulk jobs, {counters['pages_served']} result pages"
    )
    print(f"state:           .meltano (see: {MELTANO} state list)")
    print(json.dumps({"tables": final, "full_run_seconds": round(first, 1)}))


if __name__ == "__main__":
    main()
