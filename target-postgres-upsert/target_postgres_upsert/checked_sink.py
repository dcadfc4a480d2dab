"""The sink base every stream kind shares: our own record checks, rejects, batch counting.

The SDK's per-record jsonschema validation and timestamp parsing are switched off (``rows.py``
checks values; PostgreSQL parses timestamps). A record that fails its checks becomes a reject
(``_sdc_rejected_records``), or stops the run with ``on_invalid_record: fail``.
"""

from __future__ import annotations

from typing import Any

from singer_sdk.sinks import BatchSink
from singer_sdk.target_base import Target
from typing_extensions import override

from target_postgres_upsert.db import Reject
from target_postgres_upsert.errors import InvalidRecordError, MissingKeyError
from target_postgres_upsert.host import SinkHost
from target_postgres_upsert.rows import Row, RowFormatter
from target_postgres_upsert.settings import InvalidRecordPolicy
from target_postgres_upsert.values import InvalidValueError

REJECT_LOG_LIMIT = 10  # rejects logged one by one per stream; the rest only as counts
REJECTS_TABLE_NAME = "_sdc_rejected_records"


class CheckedSink(BatchSink):
    """A ``BatchSink`` that checks records itself and files the ones that fail as rejects."""

    def __init__(
        self,
        target: SinkHost,
        stream_name: str,
        schema: dict[str, Any],
        key_properties: list[str] | None,
    ) -> None:
        """Keep the target's settings, loader and reader; nothing is pending yet."""
        # The SDK's Sink takes the SDK's Target (it reads its logger, config and start time),
        # which the SDK always passes; the check narrows the type to both for mypy.
        assert isinstance(target, Target)
        self._host: SinkHost = target
        self._settings = target.settings
        super().__init__(target, stream_name, schema, key_properties)
        self._reader = target.reader
        self._policy = self._settings.on_invalid_record
        # Records read since the last flush (rejects and duplicates included); counted here and
        # handed to the SDK's tallies once per batch, which is cheaper than per record.
        self._pending_records = 0
        self._max_records = self.max_size
        self._rejects: list[Reject] = []
        self._rejected_total = 0

    @property
    @override
    def current_size(self) -> int:
        """Records read since the last flush (the SDK's batch size measure)."""
        return self._pending_records

    # --- SDK speed knobs: our own checks replace jsonschema; PostgreSQL parses timestamps -------

    @override
    def get_validator(self) -> None:
        """No per-record jsonschema validation (see ``rows.py`` for what is checked)."""
        return

    @override
    def _parse_timestamps_in_record(
        self, record: dict[str, Any], schema: Any, treatment: Any
    ) -> None:
        """Leave ISO-8601 strings as they are: PostgreSQL parses them."""

    @override
    def _singer_validate_message(self, record: dict[str, Any]) -> None:
        """Missing keys are rejects (``_checked_row``), not crashes."""

    # --- checks and rejects -----------------------------------------------------------------------

    def _checked_row(
        self, formatter: RowFormatter, values: tuple[Any, ...], *, keyed: bool = True
    ) -> Row | None:
        """The record's checked row, or None after filing it as a reject."""
        try:
            row = formatter.row(values)
        except InvalidValueError as exc:
            self._invalid(exc.reason)
            return None
        missing = formatter.missing_key(row) if keyed else None
        if missing is not None:
            self._invalid(f"key property {missing!r} is missing or null", missing_key=True)
            return None
        return row

    def _invalid(
        self,
        reason: str,
        *,
        missing_key: bool = False,
        line_number: int | None = None,
        raw: str | None = None,
    ) -> None:
        """File a reject for the current input line (or the given one), or stop (``fail``)."""
        if line_number is None:
            line_number = self._reader.line_number
        if self._policy is InvalidRecordPolicy.FAIL:
            error = MissingKeyError if missing_key else InvalidRecordError
            raise error(self.stream_name, line_number, reason)
        self._rejects.append(
            Reject(self.stream_name, line_number, reason, raw or self._reader.current_line)
        )
        self._rejected_total += 1
        if self._rejected_total <= REJECT_LOG_LIMIT:
            self.logger.warning(
                "Rejected the record at input line %d: %s (kept in %s)",
                line_number,
                reason,
                REJECTS_TABLE_NAME,
            )
