"""A private, throwaway PostgreSQL cluster that the suite may crash with SIGKILL.

``initdb`` from ``/usr/lib/postgresql/*/bin`` into a temporary directory, on a free loopback port;
as root it runs as the ``postgres`` OS user, since PostgreSQL refuses to run as root. The
postmaster is started directly as our child process (not through ``pg_ctl``, which would leave it
to init): after a SIGKILL we reap it ourselves, so no zombie keeps ``postmaster.pid`` alive. The superuser ``postgres`` connects over TCP without a password; every other role
must give its password (scram-sha-256), so the secrets scenario's password is really used.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2

START_TIMEOUT_SECONDS = 60
DATABASE = "test"
HBA = """\
local all all trust
host all postgres 127.0.0.1/32 trust
host all all 127.0.0.1/32 scram-sha-256
"""


class ClusterUnavailableError(RuntimeError):
    """No PostgreSQL server binaries (or no ``postgres`` user to run them as root)."""


def _bin_dir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ClusterUnavailableError("initdb not found (install the postgresql server package)")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL server of our own: start, crash (SIGKILL), restart, remove."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterUnavailableError("running as root but no 'postgres' user") from None
        self.root = Path(tempfile.mkdtemp(prefix="torture-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.sockets = self.root / "sockets"
        self.port = free_port()
        self.crashes = 0
        self.postmaster: subprocess.Popen[bytes] | None = None

    def _as_owner(self) -> dict[str, Any]:
        return {"user": "postgres", "group": "postgres"} if self.as_postgres else {}

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        subprocess.run(
            command,
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_SECONDS,
            cwd=self.root,
            **self._as_owner(),
        )

    def url(
        self, user: str = "postgres", password: str | None = None, database: str = DATABASE
    ) -> str:
        """A libpq URL of one of the cluster's databases (``test`` by default)."""
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def init(self) -> PrivateCluster:
        """initdb, start, create the ``test`` database."""
        self.data.mkdir()
        self.sockets.mkdir()
        self.log.touch()
        for path in (self.data, self.sockets, self.log):
            if self.as_postgres:
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        hba = self.data / "pg_hba.conf"
        hba.write_text(HBA)
        self.start()
        conn = psycopg2.connect(self.url(database="postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DATABASE}")
        conn.close()
        return self

    def start(self) -> None:
        """Start the server (crash recovery runs first after a crash) and wait until ready."""
        command = [
            str(self.bin / "postgres"),
            *("-D", str(self.data), "-p", str(self.port), "-k", str(self.sockets)),
            *("-c", "listen_addresses=127.0.0.1"),
        ]
        with open(self.log, "ab") as log:
            self.postmaster = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=self.root, **self._as_owner()
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.postmaster.poll() is not None:
                raise ClusterUnavailableError(f"postgres exited; see {self.log}")
            try:
                psycopg2.connect(self.url(database="postgres"), connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.1)
        raise ClusterUnavailableError(f"postgres did not accept connections; see {self.log}")

    def crash(self) -> str:
        """SIGKILL the postmaster and every server process, as a crashed server would be."""
        if self.postmaster is None or self.postmaster.poll() is not None:
            return "postgres was not running"
        pid = self.postmaster.pid
        os.kill(pid, signal.SIGSTOP)  # no new backend forks while we collect the children
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.postmaster.wait()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.02)
        # The lock file names a dead pid; once pids wrap, another process may hold that pid and
        # the restart would refuse to start ("Is another postmaster running?"). We reaped ours.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        self.crashes += 1
        return f"SIGKILL postgres (postmaster and {len(children)} server processes)"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its files."""
        if self.postmaster is not None and self.postmaster.poll() is None:
            self.postmaster.send_signal(signal.SIGINT)
            try:
                self.postmaster.wait(START_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.crash()
        shutil.rmtree(self.root, ignore_errors=True)


def _children(parent: int) -> list[int]:
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.split("/")[2]))
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead; its parent (us, or init) reaps it
