"""hub/*.yml, the Meltano Hub-style definitions, say what each plugin's ``--about`` says.

``scripts/hub_definitions.py --check`` (run by scripts/test) already fails when a file is not
what the generator makes; these tests hold the files to the plugins and to the rules of
meltano.yml (kinds Meltano 4.4.1 can read from the environment, secrets sensitive).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_settings_declared import (
    SDK_BUILTINS_LEFT_OUT,
    expected_kinds,
    plugin_settings,
)

ROOT = Path(__file__).resolve().parents[2]
HUB_FILES = {
    "tap-salesforce-bulk": ROOT / "hub" / "extractors" / "tap-salesforce-bulk.yml",
    "target-postgres-upsert": ROOT / "hub" / "loaders" / "target-postgres-upsert.yml",
}


def definition(plugin: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(HUB_FILES[plugin].read_text())
    return loaded


def test_generator_check_passes() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "hub_definitions.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("plugin", HUB_FILES)
def test_hub_settings_are_the_plugin_settings_with_kinds_meltano_can_read(plugin: str) -> None:
    settings = {s["name"]: s for s in definition(plugin)["settings"]}
    declared = set(plugin_settings(plugin)) - set(SDK_BUILTINS_LEFT_OUT)
    assert set(settings) == declared
    for name, entry in settings.items():
        prop = plugin_settings(plugin)[name]
        assert entry["kind"] in expected_kinds(prop), f"{name}: kind {entry['kind']}"
        assert bool(entry.get("sensitive")) == bool(prop.get("secret")), name
        assert entry["label"]
        assert entry.get("description") == (
            " ".join(prop["description"].split()) if prop.get("description") else None
        )


@pytest.mark.parametrize("plugin", HUB_FILES)
def test_hub_identity_and_install_url(plugin: str) -> None:
    hub = definition(plugin)
    assert hub["name"] == hub["executable"] == plugin
    assert hub["namespace"] == plugin.replace("-", "_")
    assert hub["variant"]
    assert hub["pip_url"].startswith("git+https://")
    assert hub["pip_url"].endswith(f".git#subdirectory={plugin}")
    groups = hub["settings_group_validation"]
    names = {s["name"] for s in hub["settings"]}
    assert groups
    assert all(set(group) <= names for group in groups), "groups name known settings only"
