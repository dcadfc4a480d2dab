"""singer-sdk stays within the range the plugins were tested against.

The plugins override private singer-sdk members (the target's ``_parse_timestamps_in_record``,
for one), which a minor or patch release may rename or change without notice. The range is
declared here, once; the exact pins that install the SDK must fall inside it:
tap-salesforce-bulk/pyproject.toml, target-postgres-upsert/pyproject.toml and
requirements-dev.txt.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

TESTED_SINGER_SDK = ">=0.54.9,<0.55"

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_MANIFESTS = (
    ROOT / "tap-salesforce-bulk" / "pyproject.toml",
    ROOT / "target-postgres-upsert" / "pyproject.toml",
)
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
WIDEN_ADVICE = (
    "the plugins override private SDK members listed in docs/DEVELOPMENT.md (SDK seams); "
    "rerun the full test suite and the torture suite, then widen the range "
    "(TESTED_SINGER_SDK in tests/unit/test_sdk_version.py)"
)


def singer_sdk_requirements(path: Path) -> list[Requirement]:
    """The singer-sdk requirements in a pyproject.toml's dependencies or a requirements file."""
    if path.suffix == ".toml":
        lines = tomllib.loads(path.read_text())["project"]["dependencies"]
    else:
        lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
        lines = [line for line in lines if line and not line.startswith("-")]
    requirements = [Requirement(line) for line in lines]
    return [r for r in requirements if canonicalize_name(r.name) == "singer-sdk"]


def test_installed_singer_sdk_is_in_tested_range() -> None:
    installed = metadata.version("singer-sdk")
    assert installed in SpecifierSet(TESTED_SINGER_SDK), (
        f"singer-sdk {installed} is outside the tested range {TESTED_SINGER_SDK}: {WIDEN_ADVICE}"
    )


@pytest.mark.parametrize(
    "path", [*PACKAGE_MANIFESTS, DEV_REQUIREMENTS], ids=lambda p: str(p.relative_to(ROOT))
)
def test_singer_sdk_pin_is_in_tested_range(path: Path) -> None:
    where = path.relative_to(ROOT)
    requirements = singer_sdk_requirements(path)
    assert len(requirements) == 1, (
        f"{where} should require singer-sdk once, not {len(requirements)}"
    )
    specifiers = list(requirements[0].specifier)
    pinned = specifiers[0].version if [s.operator for s in specifiers] == ["=="] else None
    assert pinned is not None, (
        f"{where} requires singer-sdk{requirements[0].specifier}: pin one exact version (==) "
        f"so that it can be checked against the tested range {TESTED_SINGER_SDK}"
    )
    assert pinned in SpecifierSet(TESTED_SINGER_SDK), (
        f"{where} pins singer-sdk {pinned}, outside the tested range {TESTED_SINGER_SDK}: "
        f"{WIDEN_ADVICE}"
    )
