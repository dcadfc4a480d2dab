"""A throwaway copy of the project's Meltano setup, installed once per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MELTANO_TIMEOUT_SECONDS = 900


def meltano_executable() -> str:
    """The meltano of ``./scripts/test`` (its own venv), or one named by MELTANO_BIN."""
    candidates = [
        os.environ.get("MELTANO_BIN"),
        str(ROOT / ".tools" / "meltano" / "bin" / "meltano"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("meltano is not installed; run ./scripts/test, which installs it", pytrace=False)


@dataclass
class MeltanoProject:
    """A Meltano project directory whose plugins are this checkout's packages."""

    path: Path
    executable: str
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``meltano ARGS`` in the project; output is captured."""
        completed = subprocess.run(
            [self.executable, *args],
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=MELTANO_TIMEOUT_SECONDS,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(args)} failed ({completed.returncode}):\n{completed.stderr[-5000:]}"
            )
        return completed


@pytest.fixture(scope="session")
def meltano_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeltanoProject]:
    """The repository's meltano.yml in a temporary project, with ``meltano install`` done."""
    path = tmp_path_factory.mktemp("meltano-project")
    text = (ROOT / "meltano.yml").read_text()
    for package in ("tap-salesforce-bulk", "target-postgres-upsert"):
        text = text.replace(f"pip_url: -e ./{package}", f"pip_url: -e {ROOT / package}")
    (path / "meltano.yml").write_text(text)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TAP_SALESFORCE_BULK_", "TARGET_POSTGRES_UPSERT_", "MELTANO_"))
    }
    env |= {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_ENVIRONMENT": "ci"}
    project = MeltanoProject(path, meltano_executable(), env)
    project.run("install")
    yield project
    shutil.rmtree(path / ".meltano", ignore_errors=True)
