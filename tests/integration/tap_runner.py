"""Run the real tap as a subprocess against the emulator and collect its Singer output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAP = str(Path(sys.executable).parent / "tap-salesforce-bulk")
TARGET = str(Path(sys.executable).parent / "target-postgres-upsert")
PIPE_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 300


def tap_config(sf: Any, flow: str = "password", **overrides: Any) -> dict[str, Any]:
    """A tap config for one login flow against an emulator instance."""
    creds = sf.credentials
    by_flow: dict[str, dict[str, Any]] = {
        "password": {
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "username": creds.username,
            "password": creds.password,
            "security_token": creds.security_token,
        },
        "soap": {
            "username": creds.username,
            "password": creds.password,
            "security_token": creds.security_token,
        },
        "refresh_token": {"client_id": creds.client_id, "refresh_token": creds.refresh_token},
        "client_credentials": {"client_id": creds.client_id, "client_secret": creds.client_secret},
        "jwt": {
            "client_id": creds.client_id,
            "username": creds.username,
            "private_key": creds.private_key_pem,
        },
    }
    config = {"auth_flow": flow, "login_url": sf.url, "lag_seconds": 0, **by_flow[flow]}
    config.update(overrides)
    return config


@dataclass
class TapRun:
    """What one tap run printed."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        """RECORD payloads, optionally of one stream."""
        return [
            m["record"]
            for m in self.messages
            if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        """STATE payloads in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        """The final STATE, as a state file would keep it."""
        return self.states[-1] if self.states else None

    def schema(self, stream: str) -> dict[str, Any]:
        """The SCHEMA message of a stream."""
        return next(m for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream)


def run_tap(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    check: bool = True,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run ``tap-salesforce-bulk`` to completion and parse its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"config": Path(tmp) / "config.json"}
        paths["config"].write_text(json.dumps(config))
        command = [TAP, "--config", str(paths["config"])]
        for name, value in (("state", state), ("catalog", catalog)):
            if value is not None:
                path = Path(tmp) / f"{name}.json"
                path.write_text(json.dumps(value))
                command += [f"--{name}", str(path)]
        completed = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
            env={**os.environ, **(env or {})},
            check=False,
        )
    run = TapRun(completed.returncode, completed.stdout, completed.stderr)
    for line in completed.stdout.splitlines():
        if line.startswith('{"type"'):
            run.messages.append(json.loads(line))
    if check and completed.returncode != 0:
        raise AssertionError(f"tap failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return run


def pipe(
    sf: Any,
    directory: Path,
    target: Mapping[str, Any],
    *,
    state: Mapping[str, Any] | None = None,
    **tap: Any,
) -> tuple[str, str, dict[str, Any] | None]:
    """``tap | target`` once; (tap stderr, target stderr, the target's last STATE)."""
    tap_json = directory / "tap.json"
    tap_json.write_text(json.dumps(tap_config(sf, **tap)))
    target_json = directory / "target.json"
    target_json.write_text(json.dumps(dict(target)))
    tap_args = [TAP, "--config", str(tap_json)]
    if state is not None:
        state_json = directory / "state.json"
        state_json.write_text(json.dumps(state))
        tap_args += ["--state", str(state_json)]
    tap_stderr = directory / "tap.stderr"
    with tap_stderr.open("wb") as err:
        tap_proc = subprocess.Popen(tap_args, stdout=subprocess.PIPE, stderr=err)
        target_proc = subprocess.run(
            [TARGET, "--config", str(target_json)],
            stdin=tap_proc.stdout,
            capture_output=True,
            text=True,
            timeout=PIPE_TIMEOUT_SECONDS,
            check=False,
        )
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        tap_code = tap_proc.wait(timeout=60)
    tap_log = tap_stderr.read_text()
    assert tap_code == 0, tap_log[-3000:]
    assert target_proc.returncode == 0, target_proc.stderr[-3000:]
    states = [line for line in target_proc.stdout.splitlines() if line.strip()]
    return tap_log, target_proc.stderr, json.loads(states[-1]) if states else None
