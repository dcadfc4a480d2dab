"""A tiny singer-sdk tap with the ``batch`` capability, for the target's interop test.

It syncs one stream, ``things``, of ``count`` generated records (every JSON type the target maps:
strings with awkward text, integers, numbers, booleans, date-times, dates, nulls) and, given the
SDK's ``batch_config`` setting, sends them as BATCH messages of files written by the SDK's own
batch writers, exactly as any SDK tap would.

    .venv/bin/python -m tests.integration.sdk_batch_tap --config config.json
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities
from typing_extensions import override

DEFAULT_COUNT = 25


def thing(i: int) -> dict[str, Any]:
    """Record ``i`` of the stream (also used by the test to build the expected table)."""
    return {
        "id": i,
        "name": None if i % 7 == 0 else f'thing {i} "quoted", comma\nnew line\t\\ é',
        "amount": None if i % 5 == 0 else i * 1.25,
        "active": i % 2 == 0,
        "updated_at": f"2024-01-{i % 28 + 1:02d}T10:{i % 60:02d}:00.000Z",
        "born": f"19{i % 90 + 10:02d}-0{i % 9 + 1}-1{i % 9}",
    }


class Things(Stream):
    """One stream of generated records."""

    name = "things"
    primary_keys = ("id",)
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("amount", th.NumberType),
        th.Property("active", th.BooleanType),
        th.Property("updated_at", th.DateTimeType),
        th.Property("born", th.DateType),
    ).to_dict()

    @override
    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        for i in range(1, int(self.config.get("count", DEFAULT_COUNT)) + 1):
            yield thing(i)


class SdkBatchTap(Tap):
    """An SDK tap that sends BATCH messages when ``batch_config`` is set."""

    name = "tap-sdk-batch"
    capabilities = [PluginCapabilities.ABOUT, PluginCapabilities.BATCH]
    config_jsonschema = th.PropertiesList(th.Property("count", th.IntegerType)).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        return [Things(self)]


if __name__ == "__main__":
    SdkBatchTap.cli()
