"""One run of ``tap | tee | target`` as real subprocesses, with actions fired mid-run.

``tee`` keeps a byte-exact copy of what the tap wrote, so a check can later ask which records came
before a STATE; it is a plain pipe stage, so the tap and target see an ordinary pipe. Actions
(kill a process, crash PostgreSQL, change records in Salesforce) fire once the tap has written a
given number of lines, or after a delay, which places them at a chosen moment of the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.tap_runner import TapRun

# The plugins under test: this venv's console scripts, or another install's (TORTURE_BIN), e.g.
# a clean checkout of a commit while the working tree is being edited.
BIN = Path(os.environ.get("TORTURE_BIN") or Path(sys.executable).parent)
TAP = str(BIN / "tap-salesforce-bulk")
TARGET = str(BIN / "target-postgres-upsert")
POLL_SECONDS = 0.01
RUN_TIMEOUT_SECONDS = 240
BATCH_TEE = Path(__file__).with_name("batch_tee.py")
PLUGIN_ENV_PREFIXES = ("TAP_SALESFORCE_BULK_", "TARGET_POSTGRES_UPSERT_", "MELTANO_")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without plugin settings (they would override the configs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PLUGIN_ENV_PREFIXES)}
    return {**env, **(extra or {})}


@dataclass
class Trigger:
    """``action`` runs once the tap wrote ``after_lines`` lines, ``after_seconds`` passed, or
    ``when()`` says so (e.g. once the emulator has a job), whichever comes first.

    The action gets the running processes and returns a note for the report.
    """

    action: Callable[[Running], str]
    after_lines: int | None = None
    after_seconds: float | None = None
    when: Callable[[], bool] | None = None

    def due(self, lines: int, elapsed: float) -> bool:
        """Whether the moment has come."""
        if self.after_lines is not None and lines >= self.after_lines:
            return True
        if self.after_seconds is not None and elapsed >= self.after_seconds:
            return True
        return self.when is not None and self.when()


@dataclass
class Running:
    """The processes of a run in progress, for actions."""

    processes: dict[str, subprocess.Popen[bytes]]

    def kill(self, name: str) -> str:
        """SIGKILL one process (``tap`` or ``target``) if it still runs."""
        proc = self.processes[name]
        if proc.poll() is not None:
            return f"{name} had already exited"
        os.kill(proc.pid, signal.SIGKILL)
        return f"SIGKILL {name}"


@dataclass
class PipelineRun:
    """What one run left behind: exit codes and the files of every stream."""

    directory: Path
    returncodes: dict[str, int | None]
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """Every process exited 0 within the time allowed."""
        return not self.timed_out and all(rc == 0 for rc in self.returncodes.values())

    @property
    def target_states(self) -> list[Any]:
        """The STATE values the target printed, in order."""
        path = self.directory / "target.out"
        states = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    states.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a kill
        return states

    @property
    def tap_out(self) -> Path:
        """The tap's stdout, byte for byte."""
        return self.directory / "tap.out"

    def stderr(self, name: str) -> str:
        """One process's stderr."""
        return (self.directory / f"{name}.err").read_text(encoding="utf-8", errors="replace")


def _write_json(path: Path, value: Any) -> str:
    path.write_text(json.dumps(value), encoding="utf-8")
    return str(path)


def run_pipeline(
    directory: Path,
    tap_config: Mapping[str, Any],
    target_config: Mapping[str, Any],
    *,
    state: Any = None,
    triggers: list[Trigger] | None = None,
    timeout: float = RUN_TIMEOUT_SECONDS,
    batch_archive: Path | None = None,
) -> PipelineRun:
    """Run ``tap --config [--state] | tee tap.out | target --config`` once, firing triggers.

    ``batch_archive``: the batch lane's tee (``batch_tee.py``) keeps a hard link to every file
    a BATCH message names there, for the STATE claim check after the target removed them.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tap_args = [TAP, "--config", _write_json(directory / "tap.json", tap_config)]
    if state is not None:
        tap_args += ["--state", _write_json(directory / "state.json", state)]
    target_args = [TARGET, "--config", _write_json(directory / "target.json", target_config)]
    env = clean_env()
    with (
        open(directory / "tap.err", "wb") as tap_err,
        open(directory / "target.out", "wb") as target_out,
        open(directory / "target.err", "wb") as target_err,
    ):
        tap = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=tap_err, env=env)
        tee_args = ["tee", str(directory / "tap.out")]
        if batch_archive is not None:
            tee_args = [sys.executable, str(BATCH_TEE), str(directory / "tap.out")]
            tee_args.append(str(batch_archive))
        tee = subprocess.Popen(
            tee_args,
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert tap.stdout is not None
        assert tee.stdout is not None
        tap.stdout.close()  # only tee holds the read end now: the tap sees EPIPE if tee dies
        target = subprocess.Popen(
            target_args, stdin=tee.stdout, stdout=target_out, stderr=target_err, env=env
        )
        tee.stdout.close()
    processes = {"tap": tap, "tee": tee, "target": target}
    run = PipelineRun(directory, {})
    run.timed_out = watch(
        Running(processes), directory / "tap.out", triggers or [], timeout, run.notes
    )
    run.returncodes = {name: proc.wait() for name, proc in processes.items() if name != "tee"}
    processes["tee"].wait()
    return run


def watch(
    running: Running, tap_out: Path, triggers: list[Trigger], timeout: float, notes: list[str]
) -> bool:
    """Fire triggers as the tap's output grows (``tap_out`` may never exist: then only time
    and ``when`` count); True if the run had to be killed for time."""
    pending = list(triggers)
    started = time.monotonic()
    lines = 0
    offset = 0
    while any(proc.poll() is None for proc in running.processes.values()):
        elapsed = time.monotonic() - started
        if pending:
            if tap_out.exists():
                with open(tap_out, "rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                offset += len(chunk)
                lines += chunk.count(b"\n")
            for trigger in [t for t in pending if t.due(lines, elapsed)]:
                pending.remove(trigger)
                notes.append(f"{trigger.action(running)} after {lines} lines, {elapsed:.1f} s")
        if elapsed > timeout:
            for proc in running.processes.values():
                if proc.poll() is None:
                    proc.kill()
            notes.append(f"killed after the {timeout:.0f} s timeout")
            return True
        time.sleep(POLL_SECONDS)
    return False


def run_tap_alone(
    directory: Path, config: dict[str, object], env: Mapping[str, str], timeout: float
) -> TapRun:
    """The tap by itself (no target), given ``timeout`` seconds; exit code -1 if it had to be
    stopped then."""
    path = directory / "tap.json"
    path.write_text(json.dumps(config))
    try:
        done = subprocess.run(
            [TAP, "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(env),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        return TapRun(-1, "", stderr + f"\n(still running after {timeout:.0f} s)")
    run = TapRun(done.returncode, done.stdout, done.stderr)
    run.messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return run
