"""``Type_Zoo__c``: one field of every type a real describe can carry that Contact and Account lack
(opt-in: ``FakeSalesforce(type_zoo=N)``), rendered the way Bulk API 2.0 writes them.

Types from "Field Types" (https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/field_types.htm)
and Apex's ``Schema.DisplayType`` (https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apexref/apex_enum_Schema_DisplayType.htm):

* ``time``: ``HH:mm:ss.SSSZ`` ("Salesforce uses the format HH:mm:ss.SSSZ for time fields ... not
  localized or associated with a time zone", lightning:formattedTime,
  https://developer.salesforce.com/docs/atlas.en-us.lightning.meta/lightning/aura_compref_lightning_formattedTime.htm).
* ``anyType``: "any value of the following types: String, Picklist, Boolean, Integer, Double,
  Percent, ID, Date, DateTime, URL, or Email", each written as its own CSV text.
* ``encryptedstring`` (Classic encryption, at most 175 characters): the API user here lacks
  "View Encrypted Data", so values arrive masked (describe ``mask``/``maskType``).
* ``datacategorygroupreference``: the unique name of a data category group.
* ``location``: a compound (refused by Bulk like the address compounds) with its
  ``__Latitude__s``/``__Longitude__s`` components.
* ``json`` and ``complexvalue``: Bulk cannot write them into CSV; a job selecting one ends
  ``Failed`` with "FeatureNotEnabled : Cannot serialize value for '<field>' in CSV format" (the
  message singer-io/tap-salesforce's ``Blacklisting.md`` quotes for Bulk-unserializable fields).
"""

from __future__ import annotations

import json
import random

from tests.fake_salesforce.contact_data import _day, _maybe
from tests.fake_salesforce.fields import FieldSpec, location_fields, simple, text
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType as T

ZOO = "zoo"
POOL_SIZES = {ZOO: 53}
ENCRYPTED_MAX_LENGTH = 175
MS_PER_MINUTE = 60_000
CANNOT_SERIALIZE = "FeatureNotEnabled : Cannot serialize value for '{field}' in CSV format"


def _row(name: str, label: str, ftype: T, **kw: object) -> FieldSpec:
    return simple(name, label, ftype, "row", nillable=False, system=True, **kw)


TYPE_ZOO_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Id", T.ID, "Record ID", length=18, nillable=False, updateable=False, system=True,
              group="row"),
    _row("IsDeleted", "Deleted", T.BOOLEAN),
    text("Name", "Type Zoo Name", 80, ZOO, nillable=False, name_field=True),
    simple("Opens_At__c", "Opens At", T.TIME, ZOO, custom=True),
    FieldSpec("Any_Value__c", T.ANYTYPE, "Any Value", length=255, group=ZOO, custom=True),
    FieldSpec("Tax_Id__c", T.ENCRYPTEDSTRING, "Tax ID", length=ENCRYPTED_MAX_LENGTH, group=ZOO,
              custom=True, extra={"mask": "*", "maskType": "lastFour"}),
    FieldSpec("Category_Group__c", T.DATACATEGORYGROUPREFERENCE, "Category Group", length=80,
              group=ZOO, custom=True),
    FieldSpec("Payload__c", T.JSON, "Payload", length=131_072, group=ZOO, custom=True),
    FieldSpec("Metadata__c", T.COMPLEXVALUE, "Metadata", group=ZOO, custom=True),
    *location_fields("Site__c", "Site", ZOO, 6),
    simple("Visits__c", "Visits", T.INT, ZOO, custom=True, digits=9),
    simple("Due__c", "Due", T.DATE, ZOO, custom=True),
    _row("CreatedDate", "Created Date", T.DATETIME),
    _row("LastModifiedDate", "Last Modified Date", T.DATETIME),
    _row("SystemModstamp", "System Modstamp", T.DATETIME),
)  # fmt: skip

ANY_VALUES: tuple[Typed, ...] = (
    "plain text, with a comma",
    "42",
    "3.14",
    "true",
    "2024-02-29",
    "2024-02-29T13:45:00.000Z",
    "003000000000001AAA",
    'quoted "text"\nover two lines',
    "https://example.org/a?b=c",
)


def zoo(rng: random.Random, variant: int) -> dict[str, Typed]:
    """One row of odd types; about one value in six is null."""
    minute = rng.randrange(24 * 60)
    return {
        "Name": f"Zoo {variant}",
        "Opens_At__c": _maybe(rng, 0.85, minute * MS_PER_MINUTE + rng.choice((0, 500, 999))),
        "Any_Value__c": _maybe(rng, 0.85, ANY_VALUES[variant % len(ANY_VALUES)]),
        "Tax_Id__c": _maybe(rng, 0.85, f"*****{rng.randrange(10_000):04d}"),
        "Category_Group__c": _maybe(rng, 0.85, rng.choice(("Products", "Regions", "Topics"))),
        "Payload__c": _maybe(rng, 0.85, json.dumps({"visits": variant, "tags": ["a", "b"]})),
        "Metadata__c": json.dumps({"urls": None, "description": f"metadata {variant}"}),
        "Site__Latitude__s": _maybe(rng, 0.85, round(rng.uniform(-60, 60), 6)),
        "Site__Longitude__s": _maybe(rng, 0.85, round(rng.uniform(-170, 170), 6)),
        "Visits__c": _maybe(rng, 0.85, rng.randrange(10_000)),
        "Due__c": _maybe(rng, 0.85, _day(rng, 2024, 2)),
    }
