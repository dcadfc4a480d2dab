"""The Singer SDK's standard tap tests, run in-process against an emulator.

The SDK's test factory discovers streams while the test class is built (at collection), so this
module starts its own emulator at import and stops it when the interpreter exits.
"""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_salesforce_bulk.tap import TapSalesforceBulk
from tests.fake_salesforce import FakeSalesforce
from tests.integration.tap_runner import tap_config

_EMULATOR = FakeSalesforce(contacts=500, accounts=50, seed=3, job_processing_seconds=0.05).start()
atexit.register(_EMULATOR.stop)

TestTapSalesforceBulkStandard = get_tap_test_class(
    TapSalesforceBulk,
    config=tap_config(_EMULATOR, objects=["Contact", "Account"], page_size=200),
    # Patch streams only send records when a field was added or formulas are refreshed.
    suite_config=SuiteConfig(ignore_no_records_for_streams=["Contact__patch", "Account__patch"]),
)
