"""pytest fixtures that own emulator instances (loaded by ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fake_salesforce.emulator import FakeSalesforce

FAST_JOB_PROCESSING_SECONDS = 0.05


@pytest.fixture
def fake_salesforce() -> Iterator[FakeSalesforce]:
    """A started emulator: 2,000 contacts, 200 accounts, seed 1, fast job processing."""
    sf = FakeSalesforce(
        contacts=2_000, accounts=200, seed=1, job_processing_seconds=FAST_JOB_PROCESSING_SECONDS
    )
    sf.start()
    try:
        yield sf
    finally:
        sf.stop()


@pytest.fixture
def make_fake_salesforce() -> Iterator[Callable[..., FakeSalesforce]]:
    """Factory: ``make_fake_salesforce(**kwargs)`` starts an emulator, stopped after the test."""
    started: list[FakeSalesforce] = []

    def make(**kwargs: Any) -> FakeSalesforce:
        kwargs.setdefault("job_processing_seconds", FAST_JOB_PROCESSING_SECONDS)
        sf = FakeSalesforce(**kwargs).start()
        started.append(sf)
        return sf

    try:
        yield make
    finally:
        for sf in started:
            sf.stop()
