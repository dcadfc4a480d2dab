"""What the sinks (``SinkHost``) and the batch lane (``BatchHost``) use of the target, as Protocols.

``target.py`` imports the sink modules (to pick a sink class); if they imported ``target.py`` back,
even only for type hints, the two would form a cycle. Naming here the few members the sinks use
breaks it: the sinks depend on this module, and ``target.py`` has mypy check that
``TargetPostgresUpsert`` is a ``SinkHost``. What the SDK's own ``Sink`` reads of its ``Target``
(logger, config, start time) is not listed: the SDK passes its ``Target`` itself.
"""

from __future__ import annotations

from typing import Any, Protocol

from target_postgres_upsert.db import TablePlan
from target_postgres_upsert.loader import Loader
from target_postgres_upsert.reader import NumberedReader, RecordMessage
from target_postgres_upsert.settings import Settings


class PlannedSink(Protocol):
    """A sink that loads a table of its own, as a side stream sees its base stream's sink."""

    @property
    def plan(self) -> TablePlan:
        """The table the sink loads, with its columns and their property names."""


class SinkHost(Protocol):
    """The members of the target that the sinks use."""

    @property
    def settings(self) -> Settings:
        """The target's typed settings."""

    @property
    def reader(self) -> NumberedReader:
        """The message reader (the current input line and its number, for rejects)."""

    @property
    def loader(self) -> Loader:
        """The loader thread: DDL the sink waits for, batches and jobs it queues."""

    def claim_table(self, stream_name: str) -> str:
        """The table a stream loads into (a second stream never shares one)."""

    def base_sink(self, stream_name: str) -> PlannedSink | None:
        """The sink loading ``stream_name`` in this run, if any (a side stream's base)."""

    def first_id_set_sink(self, stream_name: str) -> bool:
        """True the first time an Id set stream sets up in this run (its set starts empty)."""


class BatchHost(Protocol):
    """What the lane uses of the target (``TargetPostgresUpsert``)."""

    @property
    def settings(self) -> Settings:
        """The typed settings."""

    @property
    def loader(self) -> Loader:
        """The loader thread."""

    @property
    def reader(self) -> NumberedReader:
        """The message reader (what a reject quotes)."""

    @property
    def mapper(self) -> Any:
        """The SDK's stream maps."""

    @property
    def _sinks_active(self) -> dict[str, Any]:
        """The SDK's live sink of each stream."""

    def drain_one(self, sink: Any) -> None:
        """Queue a sink's pending rows."""

    def _plain_stream(self, stream_name: str, stream_maps: list[Any]) -> bool:
        """True if no stream map or flattening changes the stream's records."""

    def _process_record_message(self, message: RecordMessage) -> None:
        """The record lane, for one record."""

    def _has_pending(self) -> bool:
        """True if any sink holds a record not yet queued."""

    def _flush_all(self) -> None:
        """Queue every sink's pending rows, then the STATE that this makes safe."""

    def _release_state(self) -> None:
        """Queue the STATE that was held for pending records."""
