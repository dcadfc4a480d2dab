"""How one field value is written: in Bulk CSV, in REST JSON, and as SOQL compares it.

CSV decisions, each from Salesforce's own examples:

* every non-null value is enclosed in double quotes, and so is every header name (the results
  example ``"Id","Name"`` / ``"005R0000000UyrWIAS","Jane Dunn"`` in "Get Results for a Query
  Job", https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm);
* a double quote inside a value is doubled (``"This is the ""gold"" standard"``, "Valid CSV Record
  Rows", https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/datafiles_csv_valid_record_rows.htm);
* null is an empty, unquoted field: Bulk results cannot tell null from blank
  (https://help.heroku.com/FQT2NF8N/how-does-heroku-connect-sync-null-and-empty-values), and
  Salesforce stores no empty strings, so nothing else is ever empty;
* booleans ``true``/``false``; dates ``2024-01-02``; datetimes ``2024-01-02T03:04:05.000Z``;
* time ``13:30:00.000Z`` (``HH:mm:ss.SSSZ``, see ``type_zoo``); anyType, encryptedstring and
  datacategorygroupreference values are text;
* double, currency and percent use Java's ``Double.toString``: ``23.0``, ``1234.5``, and
  scientific notation from 10^7 (``1.6147805824397E13``, reported from a Bulk 2.0 export in
  https://github.com/forcedotcom/cli/issues/3367); int fields print as plain integers.
"""

from __future__ import annotations

import json
from decimal import Decimal

from tests.fake_salesforce.clock import csv_datetime, date_text, rest_datetime, time_text
from tests.fake_salesforce.vocabulary import FieldType

# A typed value: str for text-like types (and json/complexvalue, as JSON text), bool, int (int
# fields; epoch ms for datetime; day number for date; ms of the day for time), float for double/currency/percent, dict for compound fields, or None.
Typed = str | bool | int | float | dict[str, object] | None

_JAVA_PLAIN_MIN = 1e-3
_JAVA_PLAIN_MAX = 1e7


def java_double(value: float) -> str:
    """``Double.toString`` of ``value``: plain between 10^-3 and 10^7, else ``d.dddE<n>``."""
    if value == 0:
        return "0.0"
    magnitude = abs(value)
    if _JAVA_PLAIN_MIN <= magnitude < _JAVA_PLAIN_MAX:
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    sign = "-" if value < 0 else ""
    digits_tuple = Decimal(repr(magnitude)).normalize().as_tuple()
    digits = "".join(str(d) for d in digits_tuple.digits).rstrip("0") or "0"
    exponent = int(digits_tuple.exponent) + len(digits_tuple.digits) - 1
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def text_of(field_type: FieldType, value: Typed) -> str | None:
    """The unquoted CSV text of a value (None for null)."""
    if value is None:
        return None
    if field_type is FieldType.BOOLEAN:
        return "true" if value else "false"
    if field_type is FieldType.DATETIME:
        assert isinstance(value, int)
        return csv_datetime(value)
    if field_type is FieldType.DATE:
        assert isinstance(value, int)
        return date_text(value)
    if field_type is FieldType.TIME:
        assert isinstance(value, int)
        return time_text(value)
    if field_type is FieldType.INT:
        return str(value)
    if field_type.is_numeric:
        assert isinstance(value, int | float)
        return java_double(float(value))
    return str(value)


def csv_cell(text: str | None) -> str:
    """One CSV cell: quoted with doubled quotes, or empty for null."""
    if text is None:
        return ""
    return '"' + text.replace('"', '""') + '"'


def json_value(field_type: FieldType, value: Typed) -> object:
    """A value as REST JSON carries it (datetimes with ``+0000``, numbers as numbers)."""
    if value is None:
        return None
    if field_type is FieldType.DATETIME:
        assert isinstance(value, int)
        return rest_datetime(value)
    if field_type is FieldType.DATE:
        assert isinstance(value, int)
        return date_text(value)
    if field_type is FieldType.TIME:
        assert isinstance(value, int)
        return time_text(value)
    if field_type in (FieldType.JSON, FieldType.COMPLEXVALUE):
        return json.loads(str(value))
    if field_type.is_numeric and field_type is not FieldType.INT:
        assert isinstance(value, int | float)
        return float(value)
    return value
