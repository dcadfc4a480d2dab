"""The warning for setting keys a plugin does not know: the pure function, in both packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_salesforce_bulk import unknown_settings as tap_module
from target_postgres_upsert import unknown_settings as target_module

KNOWN = ["hard_delete", "database_url", "default_target_schema", "batch_size_rows"]


@pytest.mark.parametrize("module", [tap_module, target_module])
def test_a_typo_names_the_nearest_setting(module: object) -> None:
    warnings = module.unknown_setting_warnings(  # type: ignore[attr-defined]
        {"hard_deletes": True, "database_url": "postgresql://x"}, KNOWN, "target-x"
    )
    assert warnings == [
        "Setting 'hard_deletes' is not a setting of target-x and is ignored; "
        "did you mean 'hard_delete'?"
    ]


def test_a_key_like_no_setting_points_at_about() -> None:
    (warning,) = target_module.unknown_setting_warnings({"interpret_xyz": 1}, KNOWN, "target-x")
    assert warning.endswith("run `target-x --about` for the settings it has")


def test_one_warning_per_unknown_key_in_name_order_and_never_a_value() -> None:
    config = {"zeta": "s3cr3t-value", "alpha": "another-s3cr3t", "hard_delete": False}
    warnings = target_module.unknown_setting_warnings(config, KNOWN, "target-x")
    assert [w.split("'")[1] for w in warnings] == ["alpha", "zeta"]
    assert not any("s3cr3t" in w for w in warnings)


def test_known_keys_give_no_warning() -> None:
    assert target_module.unknown_setting_warnings(dict.fromkeys(KNOWN), KNOWN, "target-x") == []


def test_both_packages_carry_the_same_module() -> None:
    tap_file = Path(tap_module.__file__).read_text()
    target_file = Path(target_module.__file__).read_text()
    assert tap_file == target_file, "keep the two copies of unknown_settings.py identical"
