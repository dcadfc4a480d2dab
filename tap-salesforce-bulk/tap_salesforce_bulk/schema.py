"""Salesforce describe -> Singer JSON schema, replication key, and what Bulk 2.0 cannot return.

https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

logger = logging.getLogger(__name__)


class Kind(StrEnum):
    """How a Salesforce field type is represented in a record."""

    STRING = "string"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "date-time"
    TIME = "time"


SALESFORCE_TYPE_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        (
            "id",
            "reference",
            "string",
            "picklist",
            "multipicklist",
            "email",
            "phone",
            "url",
            "textarea",
            "combobox",
            # Classic encrypted text: masked (****1234) unless the user may view encrypted data.
            "encryptedstring",
            # A data category group's unique name.
            "datacategorygroupreference",
            # "Any value of the following types: String, Picklist, Boolean, Integer, Double,
            # Percent, ID, Date, DateTime, URL, or Email": Bulk writes each as its own text, so
            # text is the one type that keeps every value as sent.
            "anytype",
        ),
        Kind.STRING,
    ),
    "boolean": Kind.BOOLEAN,
    "int": Kind.INTEGER,
    "long": Kind.INTEGER,
    "double": Kind.NUMBER,
    "currency": Kind.NUMBER,
    "percent": Kind.NUMBER,
    "date": Kind.DATE,
    "datetime": Kind.DATETIME,
    "time": Kind.TIME,
}

# Bulk API 2.0 cannot query compound fields (their components are queried instead) nor base64,
# and cannot write json or complexvalue values into CSV ("Cannot serialize value for '...' in
# CSV format", as singer-io/tap-salesforce's Blacklisting.md records for such fields).
# https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm
UNSUPPORTED_TYPES: dict[str, str] = {
    "address": "compound address field (its component fields are kept)",
    "location": "compound geolocation field (its __Latitude__s/__Longitude__s are kept)",
    "base64": "base64 field (Bulk API 2.0 cannot return file bodies)",
    "json": "json field (Bulk API 2.0 cannot write it into CSV)",
    "complexvalue": "complexvalue field (Bulk API 2.0 cannot write it into CSV)",
}
ENCRYPTED_TYPE = "encryptedstring"

# Preferred incremental keys, best first: SystemModstamp moves on every change, including
# system-driven ones that LastModifiedDate misses.
REPLICATION_KEY_CANDIDATES = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


@dataclass(frozen=True)
class FieldSpec:
    """One field the tap emits."""

    name: str
    salesforce_type: str
    kind: Kind
    calculated: bool = False
    filterable: bool = True  # describe ``filterable``: may a WHERE clause name it
    label: str | None = None  # describe's label, shown in Salesforce next to the field
    help_text: str | None = None  # describe's inlineHelpText (the field-level help)


@dataclass
class ObjectSpec:
    """One sObject as the tap sees it after describe."""

    name: str
    fields: dict[str, FieldSpec]
    replication_key: str | None
    left_out: dict[str, str] = field(default_factory=dict)
    # Describe's "replicateable": getUpdated answers for this object (see coverage.py).
    replicateable: bool = True
    # Task and Event: archived rows exist, and only queryAll returns them.
    has_archived_rows: bool = False
    label: str | None = None  # describe's label of the object

    @property
    def schema(self) -> dict[str, Any]:
        """The Singer JSON schema of the emitted records; labels and help text ride along as
        ``title`` and ``description`` (a target can show them, e.g. as column comments)."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: json_schema_for(spec) for name, spec in self.fields.items()},
            "required": ["Id"],
        }
        if self.label:
            schema["title"] = self.label
        return schema


def json_schema_for(spec: FieldSpec) -> dict[str, Any]:
    """The JSON schema of one field; every field but Id may be null."""
    json_type = {
        Kind.STRING: "string",
        Kind.DATE: "string",
        Kind.DATETIME: "string",
        Kind.TIME: "string",
        Kind.BOOLEAN: "boolean",
        Kind.INTEGER: "integer",
        Kind.NUMBER: "number",
    }[spec.kind]
    schema: dict[str, Any] = {"type": [json_type] if spec.name == "Id" else [json_type, "null"]}
    if spec.kind in {Kind.DATE, Kind.DATETIME, Kind.TIME}:
        schema["format"] = spec.kind.value
    if spec.label:
        schema["title"] = spec.label
    if spec.help_text:
        schema["description"] = spec.help_text
    return schema


def build_object_spec(
    describe: Mapping[str, Any], *, include_formula_fields: bool = True
) -> ObjectSpec:
    """Turn ``/sobjects/{name}/describe`` into what the tap emits, logging what is left out."""
    name = str(describe["name"])
    fields: dict[str, FieldSpec] = {}
    left_out: dict[str, str] = {}
    for raw in describe.get("fields", []):
        field_name = str(raw["name"])
        sf_type = str(raw.get("type", "")).lower()
        calculated = bool(raw.get("calculated"))
        if sf_type in UNSUPPORTED_TYPES:
            left_out[field_name] = UNSUPPORTED_TYPES[sf_type]
            continue
        if calculated and not include_formula_fields and field_name != "Id":
            left_out[field_name] = "formula/roll-up field (include_formula_fields is false)"
            continue
        kind = SALESFORCE_TYPE_KINDS.get(sf_type)
        if kind is None:
            logger.warning(
                "%s.%s has Salesforce type '%s', which this tap does not know; emitting it as text",
                name,
                field_name,
                sf_type,
            )
            kind = Kind.STRING
        fields[field_name] = FieldSpec(
            field_name,
            sf_type,
            kind,
            calculated,
            filterable=raw.get("filterable", True) is not False,
            label=_text(raw.get("label")),
            help_text=_text(raw.get("inlineHelpText")),
        )
    if "Id" not in fields:
        msg = f"{name} has no Id field in its describe; it cannot be synced with a key"
        raise ValueError(msg)
    if left_out:
        logger.info(
            "%s: leaving out %d field(s) Bulk API 2.0 cannot query or that are deselected by "
            "setting: %s",
            name,
            len(left_out),
            "; ".join(f"{f} ({why})" for f, why in sorted(left_out.items())),
        )
    encrypted = [f.name for f in fields.values() if f.salesforce_type == ENCRYPTED_TYPE]
    if encrypted:
        logger.warning(
            "%s: %s encrypted text; Salesforce sends masked values (such as ****1234) unless the "
            "integration user has the View Encrypted Data permission",
            name,
            ", ".join(encrypted) + (" is" if len(encrypted) == 1 else " are"),
        )
    return ObjectSpec(
        name=name,
        fields=fields,
        replication_key=choose_replication_key(fields.values()),
        left_out=left_out,
        replicateable=bool(describe.get("replicateable", True)),
        # "You cannot use query() as it automatically filters out all records where isArchived
        # is set to true": https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_queryall.htm
        has_archived_rows={"IsArchived", "IsDeleted"} <= fields.keys(),
        label=_text(describe.get("label")),
    )


def _text(value: Any) -> str | None:
    """A describe text attribute, or None when absent or blank."""
    return value.strip() or None if isinstance(value, str) else None


def choose_replication_key(fields: Iterable[FieldSpec]) -> str | None:
    """SystemModstamp, else LastModifiedDate, else CreatedDate, else None (full table).

    Only a field describe calls filterable: some objects (ActivityFieldHistory) describe their
    SystemModstamp as not filterable and refuse ``WHERE SystemModstamp >= ...``, which would
    fail every run after the first (airbytehq/airbyte#62877).
    """
    datetimes = {f.name for f in fields if f.kind is Kind.DATETIME and f.filterable}
    return next((c for c in REPLICATION_KEY_CANDIDATES if c in datetimes), None)
