"""Singer output: msgspec-encoded lines, flushed at each STATE rather than after every record.

Flushing after every RECORD (what the SDK's msgspec writer does) costs a system call per record.
Here the buffer flushes when full and always right after a STATE, so a STATE never reaches the
target before the records it covers, and records after the last STATE are at worst read again.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override


class StateFlushingWriter(MsgSpecWriter):
    """msgspec lines; stdout is flushed after every message that is not a RECORD."""

    @override
    def write_message(self, message: Any) -> None:
        """Write one message, flushing unless it is a RECORD."""
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            out.flush()

    def write_record_line(self, prefix: bytes, record: dict[str, Any], suffix: bytes) -> None:
        """Write ``prefix + JSON(record) + suffix``: a RECORD line built without a message object.

        ``prefix`` is ``{"type":"RECORD","stream":"<name>","record":`` and ``suffix`` closes the
        object (with ``time_extracted``) and ends the line; the record holds only JSON-native values.
        """
        line = self._line
        del line[:]
        line += prefix
        encoder.encode_into(record, line, len(line))
        line += suffix
        sys.stdout.buffer.write(line)

    @property
    def _line(self) -> bytearray:
        buffer: bytearray | None = getattr(self, "_line_buffer", None)
        if buffer is None:
            buffer = self._line_buffer = bytearray(4096)
        return buffer
