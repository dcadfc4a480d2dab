"""meltano.yml declares each plugin's settings as the plugin does: names, kinds and secrecy.

The plugin is the source of truth (its settings module declares every setting once, and
``--about --format=json`` prints that schema); meltano.yml mirrors it because Meltano casts a
value from the environment, ``.env`` or ``meltano config set`` by the declared ``kind``, and
reads an environment variable such as ``TAP_SALESFORCE_BULK_STREAM_MAPS`` only for a setting
meltano.yml declares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv whose console scripts the plugins install
MELTANO_YML = ROOT / "meltano.yml"
PLUGIN_TYPES = {"tap-salesforce-bulk": "extractors", "target-postgres-upsert": "loaders"}
ABOUT_TIMEOUT_SECONDS = 120
MELTANO_TIMEOUT_SECONDS = 120

# SDK built-in settings that meltano.yml leaves out on purpose, and why. Every other setting a
# plugin declares must be in meltano.yml, the SDK's own included: the plugins advertise the
# stream-maps and schema-flattening capabilities, and without a declaration Meltano would ignore
# TAP_SALESFORCE_BULK_STREAM_MAPS / ..._FLATTENING_ENABLED and pass nothing. Settings the plugins
# do not declare at all (the target's batch_config, load_method, validate_records) are absent
# from --about and need no entry here.
SDK_BUILTINS_LEFT_OUT = {
    "faker_config": (
        "the plugins install singer-sdk without its `faker` extra, so a stream map cannot call "
        "fake.* and the setting would configure nothing"
    ),
}

# Meltano's kind for a JSON "number" would be `decimal`, but Meltano 4.4.1 casts a decimal
# setting's environment value to decimal.Decimal and then cannot write it into the plugin's
# config file ("Object of type Decimal is not JSON serializable"): every `meltano run` with
# TAP_SALESFORCE_BULK_LAG_SECONDS set, as the e2e tests do, would crash. `integer` keeps whole
# numbers from the environment working; a fractional value goes in meltano.yml's `config:`, which
# Meltano passes through as a YAML float. test_meltano_decimal_kind_still_breaks_env_values says
# when this can become `decimal`.
MELTANO_KIND_FOR_NUMBER = "integer"

MELTANO_KINDS_FOR_JSON_TYPE = {
    "string": {"string"},
    "integer": {"integer"},
    "number": {MELTANO_KIND_FOR_NUMBER},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
}


@cache
def plugin_settings(plugin: str) -> dict[str, dict[str, Any]]:
    """The plugin's settings schema (``properties``), from ``PLUGIN --about --format=json``."""
    executable = BIN / plugin
    if not executable.exists():
        pytest.fail(f"{executable} is missing: install the plugins (scripts/test does)")
    about = subprocess.run(
        [str(executable), "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=ABOUT_TIMEOUT_SECONDS,
        check=False,
    )
    if about.returncode != 0:
        pytest.fail(f"{plugin} --about failed (rc={about.returncode}):\n{about.stderr[-3000:]}")
    properties: dict[str, dict[str, Any]] = json.loads(about.stdout)["settings"]["properties"]
    return properties


@cache
def meltano_settings(plugin: str) -> dict[str, dict[str, Any]]:
    """The plugin's ``settings:`` entries in meltano.yml, by name."""
    project = yaml.safe_load(MELTANO_YML.read_text())
    plugin_type = PLUGIN_TYPES[plugin]
    entries = [p for p in project["plugins"][plugin_type] if p["name"] == plugin]
    assert entries, f"meltano.yml has no {plugin_type} entry named {plugin}"
    return {setting["name"]: setting for setting in entries[0].get("settings", [])}


def json_type(prop: dict[str, Any]) -> str | None:
    """The one non-null JSON type of a setting (``["number", "null"]`` -> ``"number"``)."""
    declared = prop.get("type")
    types = [declared] if isinstance(declared, str) else list(declared or [])
    for option in prop.get("anyOf", []):
        option_type = option.get("type") if isinstance(option, dict) else None
        types.extend([option_type] if isinstance(option_type, str) else option_type or [])
    non_null = {t for t in types if t != "null"}
    return non_null.pop() if len(non_null) == 1 else None


def expected_kinds(prop: dict[str, Any]) -> set[str]:
    """The Meltano kinds that mirror one plugin setting's JSON schema."""
    kind_of_type = json_type(prop)
    if kind_of_type == "string" and "enum" in prop:
        return {"options"}
    kinds = set(MELTANO_KINDS_FOR_JSON_TYPE.get(kind_of_type or "", set()))
    if kind_of_type == "string" and prop.get("secret"):
        kinds.add("password")
    if kind_of_type == "string" and prop.get("format") in {"date", "date-time"}:
        kinds.add("date_iso8601")
    return kinds


def described(prop: dict[str, Any]) -> str:
    """A JSON schema's type for a message: ``number``, ``string enum``, ``string, secret``."""
    text = json_type(prop) or json.dumps(prop.get("type"))
    if "enum" in prop:
        text += " enum"
    if prop.get("secret"):
        text += ", secret"
    return text


@pytest.mark.parametrize("plugin", PLUGIN_TYPES)
def test_meltano_yml_declares_every_plugin_setting(plugin: str) -> None:
    missing = sorted(
        set(plugin_settings(plugin)) - set(meltano_settings(plugin)) - set(SDK_BUILTINS_LEFT_OUT)
    )
    assert not missing, (
        f"{plugin} declares settings that meltano.yml does not: {', '.join(missing)}. "
        f"Add them to meltano.yml (or, for an SDK built-in, to SDK_BUILTINS_LEFT_OUT with a reason)"
    )


@pytest.mark.parametrize("plugin", PLUGIN_TYPES)
def test_meltano_yml_declares_no_setting_the_plugin_lacks(plugin: str) -> None:
    unknown = sorted(set(meltano_settings(plugin)) - set(plugin_settings(plugin)))
    assert not unknown, (
        f"meltano.yml declares {plugin} settings the plugin does not have: {', '.join(unknown)}"
    )
    left_out_but_declared = sorted(set(meltano_settings(plugin)) & set(SDK_BUILTINS_LEFT_OUT))
    assert not left_out_but_declared, (
        f"meltano.yml declares {', '.join(left_out_but_declared)} for {plugin}, which "
        f"SDK_BUILTINS_LEFT_OUT says it leaves out: remove one or the other"
    )


@pytest.mark.parametrize("plugin", PLUGIN_TYPES)
def test_meltano_kind_matches_plugin_type(plugin: str) -> None:
    mismatches = []
    for name, setting in meltano_settings(plugin).items():
        prop = plugin_settings(plugin).get(name)
        if prop is None:
            continue  # reported by test_meltano_yml_declares_no_setting_the_plugin_lacks
        kinds = expected_kinds(prop)
        kind = setting.get("kind", "string")  # Meltano's default kind
        if kind not in kinds:
            want = " or ".join(sorted(kinds)) or "(no Meltano kind for this schema)"
            why = " (see MELTANO_KIND_FOR_NUMBER)" if json_type(prop) == "number" else ""
            mismatches.append(
                f"{name}: meltano.yml kind {kind}, but {plugin} types it "
                f"{described(prop)}, so meltano.yml needs kind {want}{why}"
            )
    assert not mismatches, f"meltano.yml kinds disagree with {plugin}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("plugin", PLUGIN_TYPES)
def test_meltano_options_match_allowed_values(plugin: str) -> None:
    mismatches = []
    for name, setting in meltano_settings(plugin).items():
        prop = plugin_settings(plugin).get(name, {})
        if setting.get("kind") != "options" or "enum" not in prop:
            continue
        offered = {option["value"] for option in setting.get("options", [])}
        allowed = set(prop["enum"]) - {None}
        if offered != allowed:
            mismatches.append(
                f"{name}: meltano.yml offers {sorted(offered)}, {plugin} allows {sorted(allowed)}"
            )
    assert not mismatches, f"meltano.yml options disagree with {plugin}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("plugin", PLUGIN_TYPES)
def test_secret_settings_are_sensitive(plugin: str) -> None:
    mismatches = []
    for name, setting in meltano_settings(plugin).items():
        secret = bool(plugin_settings(plugin).get(name, {}).get("secret"))
        sensitive = bool(setting.get("sensitive")) or setting.get("kind") == "password"
        if secret != sensitive:
            mismatches.append(
                f"{name}: {plugin} has secret={secret}, meltano.yml has sensitive={sensitive}"
            )
    assert not mismatches, f"meltano.yml secrecy disagrees with {plugin}:\n" + "\n".join(mismatches)


def meltano_python() -> Path | None:
    """The Python of the Meltano install the tests use (MELTANO_BIN, else .tools/meltano)."""
    meltano_bin = os.environ.get("MELTANO_BIN")
    candidates = [Path(meltano_bin).parent / "python"] if meltano_bin else []
    candidates.append(ROOT / ".tools" / "meltano" / "bin" / "python")
    return next((path for path in candidates if path.exists()), None)


def test_meltano_decimal_kind_still_breaks_env_values() -> None:
    """Pins the reason for MELTANO_KIND_FOR_NUMBER: fails once Meltano fixes `decimal`."""
    python = meltano_python()
    if python is None:
        pytest.skip("no Meltano install (scripts/test installs one under .tools/meltano)")
    probe = (
        "from meltano.core.setting_definition import SettingDefinition, json_dumps\n"
        "value = SettingDefinition(name='lag_seconds', kind='decimal').cast_value('300')\n"
        "try:\n"
        "    json_dumps({'lag_seconds': value})\n"
        "except TypeError:\n"
        "    print('broken')\n"
        "else:\n"
        "    print('fixed')\n"
    )
    result = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        timeout=MELTANO_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"the Meltano probe failed:\n{result.stderr[-3000:]}"
    assert result.stdout.strip() == "broken", (
        "This Meltano writes `kind: decimal` values from the environment into a plugin's config: "
        "set MELTANO_KIND_FOR_NUMBER to 'decimal' and declare the plugins' number settings "
        "(lag_seconds, window_days, max_api_usage_percent, max_batch_age_seconds) as "
        "`kind: decimal` in meltano.yml"
    )
