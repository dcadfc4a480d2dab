"""CI's torture subset: one or two scenarios per family, small data, exact convergence.

Each case is a scenario of the full suite (``python -m tests.torture``) with one seed. A
scenario that shows a known, not yet fixed defect is an expected failure (strict: once the
defect is fixed the case passes, the xfail turns into an error, and the mark must go).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.torture.context import Context
from tests.torture.scenario import QUICK, Scenario, execute, select
from tests.torture.scenarios import ALL


def _cases() -> list[Any]:
    cases = []
    for scenario in select(ALL, QUICK):
        marks = []
        if scenario.known_defect:
            marks.append(pytest.mark.xfail(strict=True, reason=scenario.known_defect))
        for seed in scenario.seeds(QUICK):
            cases.append(pytest.param(scenario, seed, id=f"{scenario.name}-{seed}", marks=marks))
    return cases


@pytest.fixture(scope="module")
def torture(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """One context for the module: the private PostgreSQL and Meltano project are made once."""
    ctx = Context(database_url, tmp_path_factory.mktemp("torture"), quick=True)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.mark.parametrize(("scenario", "seed"), _cases())
def test_scenario_ends_with_an_exact_copy(torture: Context, scenario: Scenario, seed: int) -> None:
    outcome = execute(scenario, torture, seed)
    assert outcome.passed, "\n".join([*outcome.problems[:20], *outcome.notes[-5:]])
