"""Both plugins install from their built files alone, as a user installing a release would.

Each package is built as sdist and wheel (``python -m build``: the wheel is made from the sdist,
so a file the sdist forgets is missing from the wheel too), the metadata is checked, and each
wheel is installed into a new, empty virtual environment (uv, from Meltano's install) where its
``--about`` must run. The build runs without isolation, with the setuptools pinned in
requirements-dev.txt (a test below holds that pin to each ``[build-system] requires``): isolated
builds would fetch setuptools again for every package. Added time: about 15 s with a warm uv
cache.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "tap-salesforce-bulk": "tap_salesforce_bulk",
    "target-postgres-upsert": "target_postgres_upsert",
}
BUILD_TIMEOUT_SECONDS = 300
INSTALL_TIMEOUT_SECONDS = 600
REQUIRED_URLS = {"Homepage", "Documentation", "Repository", "Changelog", "Issues"}


@dataclass(frozen=True)
class Built:
    """The sdist and wheel of one package."""

    package: str
    sdist: Path
    wheel: Path


def pyproject(package: str) -> dict[str, object]:
    """The package's ``pyproject.toml``."""
    return tomllib.loads((ROOT / package / "pyproject.toml").read_text())


def uv_executable() -> Path:
    """The uv that Meltano's install brings (scripts/test installs it in .tools/meltano)."""
    meltano_bin = os.environ.get("MELTANO_BIN")
    candidates = [Path(meltano_bin).parent / "uv"] if meltano_bin else []
    candidates.append(ROOT / ".tools" / "meltano" / "bin" / "uv")
    for candidate in candidates:
        if candidate.exists():
            return candidate
    pytest.fail("uv is missing: run ./scripts/test, which installs Meltano (and uv with it)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Each package built into its own directory."""
    results = {}
    for package in PACKAGES:
        out = tmp_path_factory.mktemp(f"dist-{package}")
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--no-isolation",
                "--outdir",
                str(out),
                str(ROOT / package),
            ],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
        assert completed.returncode == 0, f"building {package} failed:\n{completed.stderr[-4000:]}"
        (sdist,) = out.glob("*.tar.gz")
        (wheel,) = out.glob("*.whl")
        results[package] = Built(package, sdist, wheel)
    return results


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The wheel's METADATA file, parsed."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.e2e
@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_metadata_is_complete(built: dict[str, Built], package: str) -> None:
    metadata = wheel_metadata(built[package].wheel)
    assert metadata["Name"] == package
    assert metadata["Version"] == pyproject(package)["project"]["version"]  # type: ignore[index]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["Summary"]
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert f"# {package}" in (metadata.get_payload() or ""), "the README is the long description"
    urls = {value.split(",", 1)[0] for value in metadata.get_all("Project-URL") or []}
    assert urls >= REQUIRED_URLS, f"missing Project-URL entries: {REQUIRED_URLS - urls}"
    classifiers = set(metadata.get_all("Classifier") or [])
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers), (
        "the SPDX License-Expression replaces licence classifiers (PEP 639)"
    )


@pytest.mark.e2e
@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_and_sdist_carry_license_readme_and_py_typed(
    built: dict[str, Built], package: str
) -> None:
    module = PACKAGES[package]
    with zipfile.ZipFile(built[package].wheel) as archive:
        names = set(archive.namelist())
    assert f"{module}/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith("tests/") for n in names), "tests are not part of the package"
    with tarfile.open(built[package].sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    assert {"LICENSE", "README.md", "pyproject.toml", f"{module}/py.typed"} <= members


@pytest.mark.e2e
@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_installs_in_a_clean_venv_and_runs_about(
    built: dict[str, Built], package: str, tmp_path: Path
) -> None:
    uv = str(uv_executable())
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    subprocess.run(
        [uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
        check=True,
        env=env,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    python = venv / "bin" / "python"
    install = subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), str(built[package].wheel)],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert install.returncode == 0, (
        f"installing the {package} wheel failed:\n{install.stderr[-4000:]}"
    )
    about = subprocess.run(
        [str(venv / "bin" / package), "--about", "--format=json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: nothing may come from the source tree
        env=env,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert about.returncode == 0, f"{package} --about failed:\n{about.stderr[-4000:]}"
    info = json.loads(about.stdout)
    assert info["name"] == package
    assert info["capabilities"], "--about lists the capabilities"
    assert info["settings"]["properties"], "--about lists the settings"
    location = subprocess.run(
        [str(python), "-c", f"import {PACKAGES[package]} as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    ).stdout.strip()
    assert location.startswith(str(venv)), f"imported from {location}, not from the new venv"
    assert (Path(location).parent / "py.typed").exists()


def changelog_versions() -> list[str]:
    """The released versions CHANGELOG.md names, newest first."""
    text = (ROOT / "CHANGELOG.md").read_text()
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, flags=re.MULTILINE)


@pytest.mark.parametrize("package", PACKAGES)
def test_version_is_the_newest_in_the_changelog(package: str) -> None:
    versions = changelog_versions()
    assert versions, "CHANGELOG.md names no version as '## [X.Y.Z] - YYYY-MM-DD'"
    version = pyproject(package)["project"]["version"]  # type: ignore[index]
    assert version == versions[0], (
        f"{package} is version {version}, but the newest version in CHANGELOG.md is "
        f"{versions[0]}: add a section for {version} or set the version"
    )


def test_both_packages_point_at_the_same_repository() -> None:
    urls = [pyproject(p)["project"]["urls"] for p in PACKAGES]  # type: ignore[index]
    assert urls[0]["Repository"] == urls[1]["Repository"]  # type: ignore[index]


@cache
def pinned_setuptools() -> Version:
    """The setuptools version requirements-dev.txt pins (the build runs with it)."""
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        if line.startswith("setuptools=="):
            return Version(line.split("==", 1)[1].strip())
    pytest.fail("requirements-dev.txt pins no setuptools==...")


@pytest.mark.parametrize("package", PACKAGES)
def test_pinned_setuptools_satisfies_the_build_system(package: str) -> None:
    requires = [Requirement(r) for r in pyproject(package)["build-system"]["requires"]]  # type: ignore[index]
    (setuptools,) = [r for r in requires if r.name == "setuptools"]
    assert setuptools.specifier.contains(pinned_setuptools()), (
        f"{package} builds with {setuptools}, but requirements-dev.txt pins "
        f"setuptools=={pinned_setuptools()}"
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_package_license_is_the_repository_license(package: str) -> None:
    assert (ROOT / package / "LICENSE").read_bytes() == (ROOT / "LICENSE").read_bytes(), (
        f"{package}/LICENSE differs from LICENSE: copy it again (the sdist can only carry a "
        "file inside the package directory)"
    )
