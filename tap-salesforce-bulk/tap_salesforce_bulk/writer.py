"""Singer output: msgspec-encoded lines, flushed at each STATE rather than after every record.

Flushing after every RECORD (what the SDK's msgspec writer does) costs a system call per record.
Here the buffer flushes when full and always right after a STATE, so a STATE never reaches the
target before the records it covers, and records after the last STATE are at worst read again.
"""

from __future__ import annotations

import sys
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage


class StateFlushingWriter(MsgSpecWriter):
    """msgspec lines; stdout is flushed after every message that is not a RECORD."""

    def write_message(self, message: Any) -> None:
        """Write one message, flushing unless it is a RECORD."""
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            out.flush()
