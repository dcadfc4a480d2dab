"""Stage rows as msgspec JSON, and the bytes of one ``COPY ... (FORMAT csv)`` made from them.

Each row is a JSON array written by msgspec: strings in double quotes with JSON's backslash
escapes, ``null``, ``true``/``false``, numbers. Without its brackets that is almost a CSV line as
PostgreSQL reads it with ``QUOTE '"', ESCAPE '\\', NULL 'null'``:

* a quoted field is text, whatever it reads (``"null"`` is the string, never NULL); inside it
  ``\\"`` is a quote and ``\\\\`` a backslash, as in JSON;
* an unquoted ``null`` is NULL; numbers and ``true``/``false`` are given to the column type's
  input function as they are.

``RowBuffer`` writes a batch's rows one after another into one buffer, a newline between two
rows (each row overwrites the closing bracket of the one before), so no Python object is made
per row. ``copy_payload`` then does the rest for the whole batch, in C: JSON's other escapes,
which CSV does not know (``\\n \\r \\t \\b \\f`` and ``\\u00XX`` for the other control
characters), become the characters themselves, which a quoted CSV field holds as they are;
``\\u0000`` is removed, since PostgreSQL text cannot hold NUL (and counted, for the log). One
regular expression finds them; it also matches ``\\\\`` so that an escaped backslash followed by
``n`` or ``u0000`` stays text.

msgspec's own output is the only input: it writes no other escapes (non-ASCII is plain UTF-8,
``/`` is not escaped) and no raw control characters, so a newline in a batch ends a row and
nothing else. Numbers kept as the tap's raw JSON text can be anything a JSON value is; a value
that is not a number fails PostgreSQL's ``numeric`` input (or the CSV parse) and its row is
rejected.
https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.10
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

#: The COPY options that read these bytes (the values go through ``sql.Literal``).
CSV_QUOTE = '"'
CSV_ESCAPE = "\\"
CSV_NULL = "null"

_ENCODER = msgspec.json.Encoder(decimal_format="number")
_ROW_DECODER = msgspec.json.Decoder(list[Any], float_hook=decimal.Decimal)
_ESCAPES = re.compile(rb"\\(?:[\\nrtbf]|u00[01][0-9a-fA-F])")
_REPLACEMENTS = {
    b"\\\\": b"\\\\",  # stays: CSV reads it as one backslash
    b"\\n": b"\n",
    b"\\r": b"\r",
    b"\\t": b"\t",
    b"\\b": b"\b",
    b"\\f": b"\f",
}
_NUL_ESCAPE = b"\\u0000"
_NEWLINE = 0x0A


def _unescape(match: re.Match[bytes]) -> bytes:
    escape = match.group()
    replacement = _REPLACEMENTS.get(escape)
    if replacement is not None:
        return replacement
    code = int(escape[2:], 16)  # \u00XX: a control character
    return bytes((code,)) if code else b""


def encode_row(values: Sequence[Any]) -> bytes:
    """One row on its own, as a JSON array (what ``RowBuffer`` holds for each row)."""
    return _ENCODER.encode(values)


def decode_row(row: bytes) -> list[Any]:
    """The values of one row given as a JSON array; numbers as ``Decimal``."""
    return _ROW_DECODER.decode(row)


class RowBuffer:
    """The rows of one batch, encoded back to back; a row can be dropped (a later duplicate)."""

    def __init__(self) -> None:
        """Start empty."""
        self._data = bytearray()
        self._starts: list[int] = []  # where each row's values begin (after "[" or "\n")
        self._dropped: set[int] = set()

    def __len__(self) -> int:
        """Rows appended (dropped ones included)."""
        return len(self._starts)

    def append(self, values: Sequence[Any]) -> int:
        """Encode ``values`` as the next row; its index."""
        data = self._data
        if data:
            end = len(data) - 1  # the closing bracket of the last row becomes the separator
            _ENCODER.encode_into(values, data, end)
            data[end] = _NEWLINE
            self._starts.append(end + 1)
        else:
            _ENCODER.encode_into(values, data, 0)
            self._starts.append(1)
        return len(self._starts) - 1

    def get(self, index: int) -> bytes:
        """Row ``index`` on its own, as a JSON array."""
        starts = self._starts
        end = starts[index + 1] - 1 if index + 1 < len(starts) else len(self._data) - 1
        return b"[" + bytes(self._data[starts[index] : end]) + b"]"

    def drop(self, index: int) -> None:
        """Leave row ``index`` out of the batch."""
        self._dropped.add(index)

    def rows(self) -> tuple[bytes, list[int], list[int]]:
        """(the kept rows' values joined by newlines, where each begins, their indexes)."""
        starts, data = self._starts, self._data
        if not starts:
            return b"", [], []
        view = memoryview(data)[1:-1]  # without the first "[" and the last "]"
        if not self._dropped:
            return bytes(view), [s - 1 for s in starts], list(range(len(starts)))
        ends = [*(s - 2 for s in starts[1:]), len(view)]
        kept = [i for i in range(len(starts)) if i not in self._dropped]
        pieces = [view[starts[i] - 1 : ends[i]] for i in kept]
        offsets, position = [], 0
        for piece in pieces:
            offsets.append(position)
            position += len(piece) + 1
        return b"\n".join(pieces), offsets, kept


def split_rows(body: bytes, starts: Sequence[int]) -> list[bytes]:
    """The rows of ``body`` (as made by ``RowBuffer.rows``), each as its own JSON array."""
    ends = [*(s - 1 for s in starts[1:]), len(body)]
    return [b"[" + body[s:e] + b"]" for s, e in zip(starts, ends, strict=True)]


def copy_payload(rows: Iterable[bytes] | bytes) -> tuple[bytes, int]:
    """The COPY CSV bytes of rows, and how many NUL characters were removed.

    ``rows`` is a body from ``RowBuffer.rows`` (values joined by newlines, no brackets), or
    separate rows as JSON arrays.
    """
    data = rows if isinstance(rows, bytes) else b"\n".join(row[1:-1] for row in rows)
    if not data:
        return b"", 0
    removed = 0
    if b"\\" in data:
        if _NUL_ESCAPE in data:
            # Counted on the matches, so an escaped backslash before "u0000" is not counted.
            removed = sum(1 for m in _ESCAPES.finditer(data) if m.group() == _NUL_ESCAPE)
        data = _ESCAPES.sub(_unescape, data)
    return data + b"\n", removed
