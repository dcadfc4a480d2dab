"""A Salesforce emulator for tests, demos and benchmarks (standard library + ``cryptography``).

>>> from tests.fake_salesforce import FakeSalesforce, faults
>>> with FakeSalesforce(contacts=10_000, seed=7) as sf:
...     sf.inject(faults.HttpError(status=503, nth=2))
...     ...  # point the tap at sf.url with sf.credentials

See README.md for the Salesforce behaviours reproduced and their documentation.
"""

from tests.fake_salesforce import faults
from tests.fake_salesforce.auth import Credentials
from tests.fake_salesforce.emulator import FakeSalesforce
from tests.fake_salesforce.vocabulary import ColumnDelimiter, JobState, LineEnding, Operation

__all__ = [
    "ColumnDelimiter",
    "Credentials",
    "FakeSalesforce",
    "JobState",
    "LineEnding",
    "Operation",
    "faults",
]
