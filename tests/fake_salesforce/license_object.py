"""``License__c``: a small custom object (a provider's state licences), opt-in.

Custom objects carry the system fields every object has (Id, IsDeleted, Name, OwnerId,
CreatedDate, CreatedById, LastModifiedDate, LastModifiedById, SystemModstamp) plus their custom
fields, and their name and custom fields end in ``__c``; their describe says ``custom: true``.
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_custom_object__c.htm
Its records point at Contacts (``Contact__c``). It exists only when the emulator is built with
``licenses`` rows (``FakeSalesforce(licenses=...)``), so the default org is unchanged; the
tests of several Meltano jobs at once use it as their third object.
"""

from __future__ import annotations

import random

from tests.fake_salesforce.contact_data import _day, _maybe
from tests.fake_salesforce.contact_schema import US_STATES
from tests.fake_salesforce.fields import FieldSpec, picklist, reference, simple, text
from tests.fake_salesforce.ids import IdSpace
from tests.fake_salesforce.pools import Generator
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType as T

NAME = "License__c"
LABEL = "License"
KEY_PREFIX = "a0L"  # custom objects get a generated prefix starting with "a"
POOL_OF_GROUP = {"license": "license"}
POOL_SIZES = {"license": 1019}
_ROW = "row"
_C = {"custom": True}

LICENSE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "Id",
        T.ID,
        "Record ID",
        length=18,
        nillable=False,
        updateable=False,
        system=True,
        group=_ROW,
    ),
    simple("IsDeleted", "Deleted", T.BOOLEAN, _ROW, nillable=False, system=True),
    text("Name", "License Name", 80, "license", nillable=False, name_field=True),
    reference("OwnerId", "Owner ID", "User", "Owner", "license", nillable=False),
    simple("CreatedDate", "Created Date", T.DATETIME, _ROW, nillable=False, system=True),
    reference(
        "CreatedById", "Created By ID", "User", "CreatedBy", "license", nillable=False, system=True
    ),
    simple("LastModifiedDate", "Last Modified Date", T.DATETIME, _ROW, nillable=False, system=True),
    reference(
        "LastModifiedById",
        "Last Modified By ID",
        "User",
        "LastModifiedBy",
        "license",
        nillable=False,
        system=True,
    ),
    simple("SystemModstamp", "System Modstamp", T.DATETIME, _ROW, nillable=False, system=True),
    reference("Contact__c", "Provider", "Contact", "Contact__r", "license", **_C),
    picklist("State__c", "Issuing State", US_STATES, "license", **_C),
    picklist("Kind__c", "License Kind", ("MD", "DO", "NP", "PA", "RN", "DEA"), "license", **_C),
    simple("Expires__c", "Expires On", T.DATE, "license", **_C),
    simple("Verified__c", "Verified", T.BOOLEAN, "license", nillable=False, **_C),
)


def make_license_generator(
    contacts: IdSpace, contact_rows: int, user_ids: tuple[str, ...]
) -> Generator:
    """A licence of some provider (a Contact that exists), owned by one of the org's users."""

    def license_values(rng: random.Random, variant: int) -> dict[str, Typed]:
        state = rng.choice(US_STATES)
        return {
            "Name": f"{state}-{rng.randint(100000, 999999)}",
            "OwnerId": rng.choice(user_ids),
            "CreatedById": rng.choice(user_ids),
            "LastModifiedById": rng.choice(user_ids),
            "Contact__c": contacts.id_of(rng.randrange(contact_rows)) if contact_rows else None,
            "State__c": state,
            "Kind__c": rng.choice(("MD", "DO", "NP", "PA", "RN", "DEA")),
            "Expires__c": _maybe(rng, 0.9, _day(rng, 2024, 6)),
            "Verified__c": rng.random() < 0.8,
        }

    return license_values
