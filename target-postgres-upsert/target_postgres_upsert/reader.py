"""Reads Singer messages with msgspec, counting lines and waking the target when input is idle.

Differences from the SDK's ``MsgSpecReader`` (which it otherwise mirrors, numbers as Decimal):

* every problem with the input (not JSON, no ``type``, an unknown type, a RECORD before its
  SCHEMA, a message missing a required key) raises ``InputLineError`` naming the line number,
  instead of logging the whole line and a traceback;
* standard input is read in large chunks with ``select``, so when the tap goes quiet the target
  still gets a call every ``IDLE_TICK_SECONDS`` and can commit records that have waited longer
  than ``max_batch_age_seconds`` (and release the STATE behind them);
* blank lines are skipped;
* a RECORD line of the stream the previous record belonged to is decoded once, whole, with that
  stream's typed decoder (``use_fast_path``); other lines, and records whose values do not pass
  the typed decoding, take the general path (envelope first, record left as JSON bytes).
"""

from __future__ import annotations

import contextlib
import decimal
import fcntl
import io
import os
import select
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import IO, Any

import msgspec
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

from target_postgres_upsert.errors import InputLineError, RecordBeforeSchemaError

IDLE_TICK_SECONDS = 1.0
READ_CHUNK_BYTES = 4 << 20
# A pipe holds 64 KiB by default: reading 300 MB of records took 4,700 select + read calls.
# Linux lets an unprivileged process grow it to /proc/sys/fs/pipe-max-size (1 MiB by default).
PIPE_BUFFER_BYTES = 1 << 20
SHORT_READ_BYTES = 256 << 10
SHORT_READ_PAUSE_SECONDS = 0.01
MAX_PROBLEM_CHARS = 300  # an error quoting a message keeps the one-line error readable

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


class RecordMessage(msgspec.Struct, gc=False):
    """A RECORD message whose ``record`` is left as JSON bytes for the sink's typed decoder."""

    type: Any = None
    stream: Any = None
    record: msgspec.Raw = msgspec.Raw(b"")
    time_extracted: Any = None
    version: Any = None


_ENVELOPE = msgspec.json.Decoder(RecordMessage)


def decode_json(data: Any) -> Any:
    """Decode JSON text or bytes; numbers with a fraction become ``Decimal`` (never rounded)."""
    return _DECODER.decode(data)


def _unknown(kind: Any) -> str:
    return "message has no 'type'" if kind is None else f"unknown message type {kind!r}"


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 3] + "..."


class NumberedReader(GenericSingerReader[str]):
    """A Singer message reader that knows the current line number and raw line."""

    default_input = sys.stdin

    def __init__(self) -> None:
        """Start before line 1, with no idle callback."""
        super().__init__()
        self.line_number = 0
        self.on_idle: Callable[[], None] | None = None
        self._fast_stream: str | None = None
        self._fast_decode: Callable[[Any], Any] | None = None
        self._fast_callback: Callable[[Any], None] | None = None

    def use_fast_path(
        self, stream: str, decode: Callable[[Any], Any], callback: Callable[[Any], None]
    ) -> None:
        """Decode RECORD lines of ``stream`` whole with ``decode`` and hand them to ``callback``.

        ``decode`` returns an object with ``type``, ``stream``, ``record`` (None if absent),
        ``time_extracted`` and ``version``, or raises ``msgspec.DecodeError``.
        """
        self._fast_stream, self._fast_decode, self._fast_callback = stream, decode, callback

    def clear_fast_path(self) -> None:
        """Forget the fast path (the stream's schema or sink changed)."""
        self._fast_stream = self._fast_decode = self._fast_callback = None

    def show_line(self, line: bytes | str) -> None:
        """Make ``line`` the current line, the one a reject quotes (a row of a BATCH file)."""
        current: Any = line  # the SDK types it str; our reader keeps the raw bytes as well
        self._current_message = current

    @property
    def current_line(self) -> str:
        """The raw text of the line being processed (for the rejects table)."""
        line: Any = self._current_message
        if isinstance(line, bytes | bytearray):
            return bytes(line).decode("utf-8", errors="replace").rstrip("\r\n")
        return str(line or "").rstrip("\r\n")

    @override
    def deserialize_json(self, line: str) -> dict[str, Any]:
        """Decode one line (numbers with a fraction become ``Decimal``, so nothing is rounded).

        Raises:
            InputLineError: the line is not a JSON object.
        """
        try:
            message = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise InputLineError(self.line_number, f"not valid JSON ({exc})") from None
        if type(message) is not dict:
            raise InputLineError(self.line_number, "not a JSON object")
        return message

    @override
    def process_lines(
        self,
        file_input: IO[str] | None,
        callbacks: dict[str, Callable[[Any], None]],
    ) -> Counter[str]:
        """Dispatch each message to its callback; count messages by type.

        RECORD lines are decoded as a ``RecordMessage`` whose ``record`` stays JSON bytes for the
        sink's typed decoder; every other message is decoded to a dict, as the SDK does.
        """
        stats: Counter[str] = Counter()
        records = 0
        on_record = callbacks.get("RECORD")
        decode_envelope = _ENVELOPE.decode
        for lines in self._chunks(file_input):
            if lines is None:
                if self.on_idle is not None:
                    self.on_idle()
                continue
            for line in lines:
                self.line_number += 1
                if len(line) < 3 and not line.strip():
                    continue
                self._current_message = line
                callback: Callable[[Any], None] | None = None
                fast_decode = self._fast_decode
                if fast_decode is not None:
                    try:
                        message: Any = fast_decode(line)
                    except msgspec.DecodeError:
                        pass  # not valid for this stream's types: the general path says why
                    else:
                        if (
                            message.type == "RECORD"
                            and message.stream == self._fast_stream
                            and message.record is not None
                        ):
                            callback = self._fast_callback
                            records += 1
                if callback is None:
                    try:
                        envelope = decode_envelope(line)
                    except msgspec.ValidationError:
                        raise InputLineError(self.line_number, "not a JSON object") from None
                    except msgspec.DecodeError as exc:
                        msg = f"not valid JSON ({exc})"
                        raise InputLineError(self.line_number, msg) from None
                    if envelope.type == "RECORD" and on_record is not None:
                        message = envelope
                        callback = on_record
                        records += 1
                    else:
                        message = self.deserialize_json(line)
                        kind = message.get("type")
                        callback = callbacks.get(kind) if isinstance(kind, str) else None
                        if callback is None:
                            raise InputLineError(self.line_number, _unknown(kind))
                        stats[kind] += 1
                try:
                    callback(message)
                except RecordsWithoutSchemaException as exc:
                    raise RecordBeforeSchemaError(self.line_number, _shorten(str(exc))) from None
                except InvalidInputLine as exc:
                    raise InputLineError(self.line_number, _shorten(str(exc))) from None
        if records:
            stats["RECORD"] += records
        return stats

    def _chunks(self, file_input: IO[str] | None) -> Iterator[list[Any] | None]:
        """Lists of input lines; ``None`` whenever standard input was idle for a tick."""
        source = file_input if file_input is not None else sys.stdin
        try:
            fd = source.fileno() if source is sys.stdin else -1
        except (OSError, io.UnsupportedOperation):
            fd = -1
        if fd >= 0:
            yield from _fd_chunks(fd)
            return
        while lines := source.readlines(READ_CHUNK_BYTES):
            yield lines


def _fd_chunks(fd: int) -> Iterator[list[bytes] | None]:
    """Split what ``fd`` delivers into lists of lines, yielding None after each idle tick."""
    _widen_pipe(fd)
    pending: list[bytes] = []  # the start of a line that continues in the next chunk
    short = False
    while True:
        if short:
            # The tap writes slower than we read: let a few lines gather instead of waking up
            # for each one (a 10 ms pause turned 14,000 reads of 300 MB into about 1,500).
            time.sleep(SHORT_READ_PAUSE_SECONDS)
        ready, _, _ = select.select([fd], [], [], IDLE_TICK_SECONDS)
        if not ready:
            yield None
            continue
        chunk = os.read(fd, READ_CHUNK_BYTES)
        if not chunk:
            break
        short = len(chunk) < SHORT_READ_BYTES
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            pending.append(chunk)  # a line longer than a chunk: join it once complete
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
            pending = []
        tail = lines.pop()
        if tail:
            pending.append(tail)
        yield lines
    if pending:
        yield [b"".join(pending)]


def _widen_pipe(fd: int) -> None:
    """Ask for a larger pipe buffer on ``fd`` (fewer, larger reads); ignored where refused."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if set_size is None or not stat.S_ISFIFO(os.fstat(fd).st_mode):
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_size, PIPE_BUFFER_BYTES)
