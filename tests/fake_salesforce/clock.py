"""Time as the emulator sees it, and the three timestamp spellings Salesforce uses.

* Bulk API 2.0 CSV: ``2024-01-02T03:04:05.000Z`` (Celigo's Bulk 2.0 guide contrasts it with REST:
  https://docs.celigo.com/hc/en-us/articles/27438241234459-Salesforce-Bulk-API-2-0-Guide).
* REST JSON and job info: ``2024-01-02T03:04:05.000+0000`` (Create a Query Job response example).
* SOQL datetime literals: ``2024-01-02T03:04:05Z``, optional ``.sss``, or a ``+hh:mm`` offset
  (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

MS_PER_DAY = 86_400_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DATE = dt.date(1970, 1, 1)

_DAY_CACHE: dict[int, str] = {}


def _day_text(day: int) -> str:
    text = _DAY_CACHE.get(day)
    if text is None:
        text = (_EPOCH_DATE + dt.timedelta(days=day)).isoformat()
        _DAY_CACHE[day] = text
    return text


def _time_text(ms_of_day: int) -> str:
    seconds, ms = divmod(ms_of_day, 1000)
    minutes, sec = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{sec:02d}.{ms:03d}"


def csv_datetime(epoch_ms: int) -> str:
    """Bulk CSV spelling of an instant: always milliseconds and ``Z``."""
    day, rest = divmod(epoch_ms, MS_PER_DAY)
    return f"{_day_text(day)}T{_time_text(rest)}Z"


def rest_datetime(epoch_ms: int) -> str:
    """REST/job-info spelling of an instant: milliseconds and ``+0000``."""
    day, rest = divmod(epoch_ms, MS_PER_DAY)
    return f"{_day_text(day)}T{_time_text(rest)}+0000"


def time_text(ms_of_day: int) -> str:
    """A time field's spelling (Bulk CSV and REST alike): ``HH:mm:ss.SSSZ``."""
    return _time_text(ms_of_day) + "Z"


def date_text(day: int) -> str:
    """ISO date for a day number counted from 1970-01-01."""
    return _day_text(day)


_DATETIME_LITERAL = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:\d{2})$"
)
_DATE_LITERAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_datetime_literal(text: str) -> int | None:
    """Epoch ms of a SOQL datetime literal, or None when ``text`` is not one."""
    match = _DATETIME_LITERAL.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=dt.UTC
        )
    except ValueError:
        return None
    ms = int((frac or "0").ljust(3, "0"))
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return (moment - EPOCH) // dt.timedelta(milliseconds=1) + ms


def parse_date_literal(text: str) -> int | None:
    """Day number of a SOQL date literal, or None when ``text`` is not one."""
    match = _DATE_LITERAL.match(text)
    if match is None:
        return None
    try:
        day = dt.date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return (day - _EPOCH_DATE).days


def epoch_ms(moment: dt.datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


class EmulatorClock:
    """Wall-clock milliseconds that never go backwards, with an optional offset for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self.offset_ms = 0

    def now_ms(self) -> int:
        """Current emulator time in epoch milliseconds (monotonic non-decreasing)."""
        with self._lock:
            now = int(time.time() * 1000) + self.offset_ms
            self._last_ms = max(self._last_ms, now)
            return self._last_ms

    def advance(self, ms: int) -> None:
        """Move emulator time forward (never back: stamps must not decrease)."""
        if ms < 0:
            raise ValueError("the emulator clock only moves forward")
        with self._lock:
            self.offset_ms += ms
