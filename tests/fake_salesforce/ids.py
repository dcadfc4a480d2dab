"""Salesforce record ids: 15 case-sensitive characters plus the 3-character case-safe suffix.

The suffix encodes, for each 5-character chunk, which characters are upper case
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm#i1435616 "ID
field type"). Emulated ids are ``prefix(3) + pod(2) + "0" + 9 base-62 digits``, like real ones,
so the last chunk is the only one that varies and its suffix letter comes from lookup tables.
"""

from __future__ import annotations

from collections.abc import Callable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_LOW_SPAN = 62 * 62  # the last two base-62 digits
POD = "5g"

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "Organization": "00D",
    "QueryJob": "750",
    "Individual": "0PK",
    "FeedItem": "0D5",
    "QueryLocator": "01g",
    "Task": "00T",
    "Event": "00U",
    "ActivityFieldHistory": "0Ah",
    "Type_Zoo__c": "a0Z",
    "License__c": "a0L",  # a custom object (license_object.py)
}


def _chunk_bits(chunk: str) -> int:
    return sum(1 << pos for pos, char in enumerate(chunk) if "A" <= char <= "Z")


def checksum(id15: str) -> str:
    """The 3-character case-safe suffix of a 15-character id."""
    return "".join(_SUFFIX_ALPHABET[_chunk_bits(id15[k : k + 5])] for k in (0, 5, 10))


def to_18(id15: str) -> str:
    """The 18-character form of a 15-character id."""
    return id15 + checksum(id15)


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits))


class IdSpace:
    """Maps row numbers of one object to 18-character ids and back, cheaply."""

    def __init__(self, prefix: str, counter_base: int = 1) -> None:
        self.prefix = prefix
        self.counter_base = counter_base
        self._head = prefix + POD + "00000"  # first 10 characters
        fixed = _SUFFIX_ALPHABET[_chunk_bits(self._head[:5])]
        fixed += _SUFFIX_ALPHABET[_chunk_bits(self._head[5:10])]
        self._fixed_suffix = fixed
        self._low = [_base62(n, 2) for n in range(_LOW_SPAN)]
        self._low_bits = [_chunk_bits("000" + text) for text in self._low]
        self._high: list[str] = []
        self._high_bits: list[int] = []

    def _grow(self, high: int) -> None:
        for number in range(len(self._high), high + 1):
            text = _base62(number, 3)
            self._high.append(text)
            self._high_bits.append(_chunk_bits(text))

    def id_of(self, row: int) -> str:
        """The 18-character id of row ``row``."""
        high, low = divmod(row + self.counter_base, _LOW_SPAN)
        if high >= len(self._high):
            self._grow(high)
        suffix = _SUFFIX_ALPHABET[self._high_bits[high] | self._low_bits[low]]
        return self._head + self._high[high] + self._low[low] + self._fixed_suffix + suffix

    def quoted_id_function(self, max_row: int) -> Callable[[int], str]:
        """A fast ``row -> '"<id>"'`` function for rows below ``max_row`` (for CSV rendering)."""
        self._grow((max_row + self.counter_base) // _LOW_SPAN + 1)
        head = '"' + self._head
        high_t, high_b, low_t, low_b = self._high, self._high_bits, self._low, self._low_bits
        tail = self._fixed_suffix
        base = self.counter_base
        alphabet = _SUFFIX_ALPHABET

        def quoted(row: int) -> str:
            high, low = divmod(row + base, _LOW_SPAN)
            return (
                head + high_t[high] + low_t[low] + tail + alphabet[high_b[high] | low_b[low]] + '"'
            )

        return quoted

    def render_tables(
        self, max_row: int
    ) -> tuple[str, list[str], list[int], list[str], list[int], list[str], int]:
        """Tables for inlined id rendering: head, high digits and bits, low digits and bits,
        fixed suffix + checksum letter by bit pattern, counter base. Id of row r:
        ``head + high[(r+base)//3844] + low[(r+base)%3844] + suffixes[high_bits | low_bits]``."""
        self._grow((max_row + self.counter_base) // _LOW_SPAN + 1)
        suffixes = [self._fixed_suffix + letter for letter in _SUFFIX_ALPHABET]
        return (
            self._head,
            self._high,
            self._high_bits,
            self._low,
            self._low_bits,
            suffixes,
            self.counter_base,
        )

    def row_of(self, record_id: str) -> int | None:
        """The row number of an id of this object (15 or 18 characters), or None."""
        if len(record_id) not in (15, 18) or not record_id.startswith(self._head):
            return None
        number = 0
        for char in record_id[10:15]:
            digit = BASE62.find(char)
            if digit < 0:
                return None
            number = number * 62 + digit
        row = number - self.counter_base
        if row < 0 or (len(record_id) == 18 and self.id_of(row) != record_id):
            return None
        return row


def make_id(prefix: str, number: int) -> str:
    """A standalone 18-character id (users, org, jobs, locators)."""
    return to_18(prefix + POD + "0" + _base62(number, 9))
