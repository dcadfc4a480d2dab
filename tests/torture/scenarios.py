"""Every scenario of the suite, in the order the report lists them."""

from __future__ import annotations

from tests.torture import (
    scenarios_batch,
    scenarios_changes,
    scenarios_crash,
    scenarios_faults,
    scenarios_meltano,
    scenarios_secrets,
    scenarios_tap_input,
    scenarios_target_input,
)
from tests.torture.scenario import Scenario

ALL: list[Scenario] = [
    *scenarios_faults.SCENARIOS,
    *scenarios_changes.SCENARIOS,
    *scenarios_tap_input.SCENARIOS,
    *scenarios_target_input.SCENARIOS,
    *scenarios_crash.SCENARIOS,
    *scenarios_meltano.SCENARIOS,
    *scenarios_secrets.SCENARIOS,
    *scenarios_batch.SCENARIOS,
]
