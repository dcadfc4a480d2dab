"""One warning per setting key the plugin does not know, naming the nearest known setting.

The SDK accepts unknown keys silently (a typo such as ``hard_deletes``, or another plugin's
setting), so the user would never learn that a value was ignored. Meltano only passes settings a
project declares, but a config file (``--config``) can carry anything. The two plugins keep
their own copy of this module: neither package imports the other.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

# difflib's similarity ratio a known name needs to be offered as "did you mean".
NEAREST_MIN_RATIO = 0.6


def unknown_setting_warnings(
    config: Mapping[str, Any], known: Collection[str], plugin: str
) -> list[str]:
    """A one-line warning for each key of ``config`` not in ``known`` (values never shown)."""
    names = sorted(known)
    warnings = []
    for key in sorted(str(k) for k in config if k not in known):
        nearest = difflib.get_close_matches(key, names, n=1, cutoff=NEAREST_MIN_RATIO)
        hint = (
            f"did you mean '{nearest[0]}'?"
            if nearest
            else f"run `{plugin} --about` for the settings it has"
        )
        warnings.append(f"Setting '{key}' is not a setting of {plugin} and is ignored; {hint}")
    return warnings
