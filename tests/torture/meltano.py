"""A throwaway Meltano project (the repository's ``meltano.yml``, this checkout's plugins) and
``meltano run`` with actions fired mid-run, for scenarios that go through the real Meltano.

Settings reach the plugins as ``TAP_SALESFORCE_BULK_*`` / ``TARGET_POSTGRES_UPSERT_*``
environment variables, as a user's ``.env`` would give them; each scenario has its own
``--state-id-suffix``, so Meltano's system database keeps every scenario's state apart.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.torture.pipeline import Running, Trigger, clean_env, watch

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_SECONDS = 900
RUN_TIMEOUT_SECONDS = 300
PIPELINE = ("tap-salesforce-bulk", "target-postgres-upsert")
ENVIRONMENT = "dev"  # meltano.yml's default_environment


def meltano_executable() -> str:
    """``.tools/meltano/bin/meltano`` (``./scripts/test`` installs it), or ``MELTANO_BIN``."""
    candidate = os.environ.get("MELTANO_BIN") or str(
        ROOT / ".tools" / "meltano" / "bin" / "meltano"
    )
    if not Path(candidate).exists():
        raise FileNotFoundError(f"meltano not found at {candidate}; run ./scripts/test first")
    return candidate


def settings_env(prefix: str, config: Mapping[str, Any]) -> dict[str, str]:
    """A plugin config as Meltano environment variables (lists and objects as JSON)."""
    env = {}
    for name, value in config.items():
        if value is None:
            continue
        text = json.dumps(value) if isinstance(value, list | dict | bool) else str(value)
        env[f"{prefix}_{name.upper()}"] = text
    return env


class MeltanoRunning(Running):
    """A ``meltano run`` in progress: ``kill("tap")`` finds the plugin among its descendants."""

    EXECUTABLES: Mapping[str, str] = {"tap": PIPELINE[0], "target": PIPELINE[1]}

    def kill(self, name: str) -> str:
        """SIGKILL the tap or target process Meltano started."""
        root = self.processes["meltano"].pid
        for pid in _descendants(root):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(part.endswith(f"/bin/{self.EXECUTABLES[name]}".encode()) for part in cmdline):
                os.kill(pid, signal.SIGKILL)
                return f"SIGKILL {name} (pid {pid}) under meltano"
        return f"{name} was not running under meltano"


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            parent = int(Path(stat).read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.split("/")[2]))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


@dataclass
class MeltanoRun:
    """One ``meltano run``: exit code, where its output went, what fired."""

    returncode: int
    stdout: Path
    stderr: Path
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Exit 0 within the time allowed."""
        return self.returncode == 0 and not self.timed_out


@dataclass
class MeltanoProject:
    """A Meltano project directory whose plugins are this checkout's packages."""

    path: Path
    executable: str

    @classmethod
    def create(cls, path: Path, *, parquet: bool = False) -> MeltanoProject:
        """Copy ``meltano.yml`` with absolute plugin paths (with their ``[parquet]`` extras if
        ``parquet``, for the batch lane's parquet files), then ``meltano install``."""
        path.mkdir(parents=True)
        text = (ROOT / "meltano.yml").read_text()
        extras = "[parquet]" if parquet else ""
        for package in PIPELINE:
            text = text.replace(f"pip_url: -e ./{package}", f"pip_url: -e {ROOT / package}{extras}")
        (path / "meltano.yml").write_text(text)
        project = cls(path, meltano_executable())
        done = project.command(["install"], timeout=INSTALL_TIMEOUT_SECONDS)
        if done.returncode != 0:
            raise RuntimeError(f"meltano install failed:\n{done.stderr[-3000:]}")
        return project

    def environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        """Our environment without plugin settings, plus ``extra``."""
        return clean_env({"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", **extra})

    def command(
        self, args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """A short meltano command (install, state get), output captured."""
        return subprocess.run(
            [self.executable, *args],
            cwd=self.path,
            env=self.environment(env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(
        self,
        directory: Path,
        state_suffix: str,
        env: Mapping[str, str],
        triggers: Sequence[Trigger] = (),
        timeout: float = RUN_TIMEOUT_SECONDS,
    ) -> MeltanoRun:
        """``meltano run --state-id-suffix SUFFIX tap target``, output to files in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        out, err = directory / "meltano.out", directory / "meltano.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            proc = subprocess.Popen(
                [self.executable, "run", "--state-id-suffix", state_suffix, *PIPELINE],
                cwd=self.path,
                env=self.environment(env),
                stdout=stdout,
                stderr=stderr,
            )
            result = MeltanoRun(0, out, err)
            running = MeltanoRunning({"meltano": proc})
            result.timed_out = watch(
                running, directory / "none", list(triggers), timeout, result.notes
            )
            result.returncode = proc.wait()
        return result

    def state(self, state_suffix: str) -> Any:
        """``meltano state get``: the stored state of a run's suffix (None if there is none)."""
        state_id = f"{ENVIRONMENT}:{PIPELINE[0]}-to-{PIPELINE[1]}:{state_suffix}"
        done = self.command(["state", "get", state_id])
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    def system_files(self) -> list[Path]:
        """Meltano's own records: the system database and its logs."""
        meltano_dir = self.path / ".meltano"
        files = [meltano_dir / "meltano.db", *sorted((meltano_dir / "logs").rglob("*"))]
        return [f for f in files if f.is_file()]

    def leftover_run_files(self) -> list[Path]:
        """Files Meltano left in ``.meltano/run`` (generated plugin configs)."""
        return [f for f in (self.path / ".meltano" / "run").rglob("*") if f.is_file()]
