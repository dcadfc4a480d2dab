"""Salesforce vocabulary the emulator speaks: job states, operations, CSV options, field types, grants.

Values are spelled exactly as Salesforce spells them on the wire, so the enums double as the JSON
values. Sources: Bulk API 2.0 "Create a Query Job" and "Get Information About a Query Job"
(https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm),
field types from the SOAP API "Field Types" page
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm).
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """States of a Bulk API 2.0 query job."""

    UPLOAD_COMPLETE = "UploadComplete"
    IN_PROGRESS = "InProgress"
    JOB_COMPLETE = "JobComplete"
    FAILED = "Failed"
    ABORTED = "Aborted"

    @property
    def is_terminal(self) -> bool:
        """Whether the job can no longer change state (and so can be deleted)."""
        return self in (JobState.JOB_COMPLETE, JobState.FAILED, JobState.ABORTED)

    @property
    def shouting(self) -> str:
        """The upper-case spelling used inside JOB_NOT_COMPLETE messages (IN_PROGRESS, ...)."""
        return {
            JobState.UPLOAD_COMPLETE: "UPLOAD_COMPLETE",
            JobState.IN_PROGRESS: "IN_PROGRESS",
            JobState.JOB_COMPLETE: "JOB_COMPLETE",
            JobState.FAILED: "FAILED",
            JobState.ABORTED: "ABORTED",
        }[self]


class Operation(StrEnum):
    """Bulk query operations: queryAll also returns soft-deleted rows."""

    QUERY = "query"
    QUERY_ALL = "queryAll"


class ColumnDelimiter(StrEnum):
    """Every columnDelimiter value Bulk API 2.0 documents."""

    BACKQUOTE = "BACKQUOTE"
    CARET = "CARET"
    COMMA = "COMMA"
    PIPE = "PIPE"
    SEMICOLON = "SEMICOLON"
    TAB = "TAB"

    @property
    def char(self) -> str:
        """The single character written between columns."""
        return {
            ColumnDelimiter.BACKQUOTE: "`",
            ColumnDelimiter.CARET: "^",
            ColumnDelimiter.COMMA: ",",
            ColumnDelimiter.PIPE: "|",
            ColumnDelimiter.SEMICOLON: ";",
            ColumnDelimiter.TAB: "\t",
        }[self]


class LineEnding(StrEnum):
    """Row terminators Bulk API 2.0 supports."""

    LF = "LF"
    CRLF = "CRLF"

    @property
    def chars(self) -> str:
        """The characters that end each CSV row."""
        return "\n" if self is LineEnding.LF else "\r\n"


class ContentType(StrEnum):
    """Result formats; CSV is the only one Bulk API 2.0 query offers."""

    CSV = "CSV"


class FieldType(StrEnum):
    """Describe `type` values used by the emulated objects."""

    ID = "id"
    REFERENCE = "reference"
    STRING = "string"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    TEXTAREA = "textarea"
    PICKLIST = "picklist"
    MULTIPICKLIST = "multipicklist"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    DOUBLE = "double"
    CURRENCY = "currency"
    PERCENT = "percent"
    INT = "int"
    ADDRESS = "address"
    LOCATION = "location"
    COMBOBOX = "combobox"
    TIME = "time"
    ANYTYPE = "anyType"
    ENCRYPTEDSTRING = "encryptedstring"
    DATACATEGORYGROUPREFERENCE = "datacategorygroupreference"
    JSON = "json"
    COMPLEXVALUE = "complexvalue"

    @property
    def soap_type(self) -> str:
        """The describe `soapType` for this field type."""
        return {
            FieldType.ID: "tns:ID",
            FieldType.REFERENCE: "tns:ID",
            FieldType.BOOLEAN: "xsd:boolean",
            FieldType.DATE: "xsd:date",
            FieldType.DATETIME: "xsd:dateTime",
            FieldType.DOUBLE: "xsd:double",
            FieldType.CURRENCY: "xsd:double",
            FieldType.PERCENT: "xsd:double",
            FieldType.INT: "xsd:int",
            FieldType.ADDRESS: "urn:address",
            FieldType.LOCATION: "urn:location",
            FieldType.TIME: "xsd:time",
            FieldType.ANYTYPE: "xsd:anyType",
            FieldType.JSON: "urn:JsonValue",
            FieldType.COMPLEXVALUE: "urn:ComplexValue",
        }.get(self, "xsd:string")

    @property
    def is_compound(self) -> bool:
        """Address and geolocation fields are compound: Bulk queries cannot select them."""
        return self in (FieldType.ADDRESS, FieldType.LOCATION)

    @property
    def csv_serializable(self) -> bool:
        """Whether Bulk API 2.0 can write the type into CSV (json and complexvalue cannot)."""
        return self not in (FieldType.JSON, FieldType.COMPLEXVALUE)

    @property
    def is_numeric(self) -> bool:
        """Types compared as numbers in SOQL."""
        return self in (FieldType.DOUBLE, FieldType.CURRENCY, FieldType.PERCENT, FieldType.INT)

    @property
    def is_text(self) -> bool:
        """Types compared as (case-insensitive) strings in SOQL."""
        return not (
            self.is_numeric
            or self.is_compound
            or self
            in (
                FieldType.BOOLEAN,
                FieldType.DATE,
                FieldType.DATETIME,
                FieldType.TIME,
                FieldType.JSON,
                FieldType.COMPLEXVALUE,
            )
        )


class GrantType(StrEnum):
    """OAuth 2.0 grant types the token endpoint accepts."""

    PASSWORD = "password"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"
    JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# API versions served: 31.0 is the oldest supported version, 21.0-30.0 are retired (REST answers
# 410), https://help.salesforce.com/s/articleView?id=000354473&type=1 ; 67.0 is Summer '26.
MIN_API_VERSION = 31
MAX_API_VERSION = 67
RETIRED_API_VERSIONS = range(21, 31)
# Bulk API 2.0 query resources exist from 47.0; resultPages from 58.0 (their "Available since" notes).
BULK_QUERY_MIN_VERSION = 47
RESULT_PAGES_MIN_VERSION = 58
# SOAP login() "is not available in API version 65.0 and later"
# (https://help.salesforce.com/s/articleView?id=005132110&type=1).
SOAP_LOGIN_LAST_VERSION = 64


def release_label(version: int) -> str:
    """The release name Salesforce gives an API version (65 -> "Winter '26")."""
    offset = version - 30
    season = ("Spring", "Summer", "Winter")[offset % 3]
    year = 14 + offset // 3 + (1 if season == "Winter" else 0)
    return f"{season} '{year:02d}"
