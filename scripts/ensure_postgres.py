"""Find or start a PostgreSQL the tests and the demo can use; print its libpq URL on stdout.

Order of preference, so a user's own server always wins:
1. ``DATABASE_URL``, or the ``PG*`` variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE);
2. a server already listening on 127.0.0.1:5432 that lets ``postgres`` in without a password;
3. a private cluster under ``.tools/pgdata`` on port 54329, started with the PostgreSQL binaries
   of the machine (installed first with apt-get when running as root on Debian and missing).

Only the standard library and psycopg2 (already in the dev venv) are used. Progress goes to stderr.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
# initdb and pg_ctl refuse to run as root, and the postgres system user may not be able to reach
# a clone under /root: as root the private cluster lives in that user's home instead.
PRIVATE_DIR = (
    Path("/var/lib/postgresql/tap-salesforce-bulk-pgdata")
    if os.geteuid() == 0
    else ROOT / ".tools" / "pgdata"
)
PRIVATE_PORT = 54329
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/{db}"
CONNECT_WAIT_SECONDS = 30


def say(message: str) -> None:
    print(f"[ensure_postgres] {message}", file=sys.stderr, flush=True)


def usable(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=3).close()
    except psycopg2.Error:
        return False
    return True


def ensure_database(server_url: str, name: str) -> None:
    """Create database ``name`` if the server lacks it (the server URL names an existing db)."""
    conn = psycopg2.connect(server_url, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")
    conn.close()


def from_environment() -> str | None:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if any(os.environ.get(v) for v in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE")):
        return "postgresql://"  # libpq fills every part from the PG* variables
    return None


def postgres_bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def install_with_apt() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say(
            "no PostgreSQL binaries; install them (e.g. sudo apt-get install postgresql) or set DATABASE_URL"
        )
        sys.exit(2)
    say("installing PostgreSQL with apt-get (one time)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=sys.stderr)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env, stdout=sys.stderr
    )


def run_as_postgres_owner(command: list[str]) -> None:
    """initdb and pg_ctl refuse to run as root: use the postgres system user then."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=sys.stderr, stderr=sys.stderr)


def start_private_cluster() -> str:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        install_with_apt()
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            say("PostgreSQL was installed but initdb was not found")
            sys.exit(2)
    url = f"postgresql://postgres@127.0.0.1:{PRIVATE_PORT}/postgres"
    if usable(url):
        return url
    PRIVATE_DIR.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(PRIVATE_DIR, "postgres", "postgres")
    PRIVATE_DIR.chmod(0o700)
    if not (PRIVATE_DIR / "PG_VERSION").exists():
        say(f"initialising a private cluster in {PRIVATE_DIR}")
        run_as_postgres_owner(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(PRIVATE_DIR),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        )
    say(f"starting the private cluster on 127.0.0.1:{PRIVATE_PORT}")
    options = f"-c listen_addresses=127.0.0.1 -c port={PRIVATE_PORT} -c unix_socket_directories={PRIVATE_DIR}"
    run_as_postgres_owner(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(PRIVATE_DIR),
            "-l",
            str(PRIVATE_DIR / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        ]
    )
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    while not usable(url):
        if time.monotonic() > deadline:
            say(f"the private cluster did not accept connections; see {PRIVATE_DIR / 'server.log'}")
            sys.exit(2)
        time.sleep(0.5)
    return url


def main() -> None:
    database = sys.argv[1] if len(sys.argv) > 1 else "test"
    given = from_environment()
    if given:
        if not usable(given):
            say("DATABASE_URL / PG* variables are set but the server refuses connections")
            sys.exit(2)
        print(given)
        return
    local = LOCAL_URL.format(db="postgres")
    if usable(local):
        say("using the server on 127.0.0.1:5432")
        server = local
    else:
        server = start_private_cluster()
    ensure_database(server, database)
    print(server.rsplit("/", 1)[0] + f"/{database}")


if __name__ == "__main__":
    main()
