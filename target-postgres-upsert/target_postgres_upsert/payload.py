"""A batch of rows (msgspec JSON arrays) -> the bytes of one ``COPY ... (FORMAT csv)``.

Each row is a JSON array made by msgspec: strings in double quotes with JSON's backslash escapes,
``null``, ``true``/``false``, numbers. That is almost a CSV line as PostgreSQL reads it with
``QUOTE '"', ESCAPE '\\', NULL 'null'``:

* a quoted field is text, whatever it reads (``"null"`` is the string, never NULL); inside it
  ``\\"`` is a quote and ``\\\\`` a backslash, as in JSON;
* an unquoted ``null`` is NULL; numbers and ``true``/``false`` are given to the column type's
  input function as they are.

What is left is done on the whole batch, in C, with no Python per field: the rows are joined with
newlines and the brackets between them dropped; JSON's other escapes, which CSV does not know
(``\\n \\r \\t \\b \\f`` and ``\\u00XX`` for the other control characters), become the
characters themselves, which a quoted CSV field holds as they are; ``\\u0000`` is removed, since
PostgreSQL text cannot hold NUL (and counted, for the log). One regular expression finds them; it
also matches ``\\\\`` so that an escaped backslash followed by ``n`` or ``u0000`` stays text.

msgspec's own output is the only input: it writes no other escapes (non-ASCII is plain UTF-8,
``/`` is not escaped) and no raw control characters, so a newline in the batch ends a row and
nothing else. Numbers kept as the tap's raw JSON text can be anything a JSON value is; a value
that is not a number fails PostgreSQL's ``numeric`` input (or the CSV parse) and its row is
rejected.
https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.10
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence
from typing import Any

import msgspec

#: The COPY options that read these bytes (the values go through ``sql.Literal``).
CSV_QUOTE = '"'
CSV_ESCAPE = "\\"
CSV_NULL = "null"

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
_ROW_DECODER = msgspec.json.Decoder(list[Any], float_hook=decimal.Decimal)


def _unescape(match: re.Match[bytes]) -> bytes:
    escape = match.group()
    replacement = _REPLACEMENTS.get(escape)
    if replacement is not None:
        return replacement
    code = int(escape[2:], 16)  # \u00XX: a control character
    return bytes((code,)) if code else b""


def copy_payload(rows: Sequence[bytes]) -> tuple[bytes, int]:
    """The COPY CSV bytes of ``rows``, and how many NUL characters were removed."""
    if not rows:
        return b"", 0
    data = b"\n".join(rows)
    # "]\n[" only occurs between two rows: msgspec never writes a raw newline inside one.
    data = data.replace(b"]\n[", b"\n")[1:-1]
    removed = 0
    if b"\\" in data:
        if _NUL_ESCAPE in data:
            # Counted on the matches, so an escaped backslash before "u0000" is not counted.
            removed = sum(1 for m in _ESCAPES.finditer(data) if m.group() == _NUL_ESCAPE)
        data = _ESCAPES.sub(_unescape, data)
    return data + b"\n", removed


def decode_row(row: bytes) -> list[Any]:
    """The values of one row (to show a row PostgreSQL refused); numbers as ``Decimal``."""
    return _ROW_DECODER.decode(row)
