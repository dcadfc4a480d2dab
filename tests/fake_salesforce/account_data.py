"""Generators of Account values: clinics and hospitals with large revenues and addresses."""

from __future__ import annotations

import random

from tests.fake_salesforce.contact_data import _address, _maybe, _phone
from tests.fake_salesforce.contact_schema import NETWORKS
from tests.fake_salesforce.contact_values import CITIES, HOSPITALS, LAST_NAMES
from tests.fake_salesforce.ids import IdSpace
from tests.fake_salesforce.pools import Generator
from tests.fake_salesforce.values import Typed

POOL_OF_GROUP = {"org": "org", "billing_address": "address", "shipping_address": "address"}
POOL_SIZES = {"org": 1009, "address": 1013}


def make_org_generator(
    accounts: IdSpace, account_rows: int, user_ids: tuple[str, ...]
) -> Generator:
    """Organisation details, owners and the parent account."""

    def org(rng: random.Random, variant: int) -> dict[str, Typed]:
        city = rng.choice(CITIES)[0]
        kind = rng.choice(("Hospital", "Clinic", "Group Practice", "Urgent Care", "Laboratory"))
        name = rng.choice((f"{rng.choice(LAST_NAMES)} {kind}, {city}", rng.choice(HOSPITALS)))
        return {
            "Name": name,
            "Type": kind,
            "ParentId": _maybe(rng, 0.2, accounts.id_of(rng.randrange(account_rows)))
            if account_rows
            else None,
            "Phone": _maybe(rng, 0.9, _phone(rng)),
            "Fax": _maybe(rng, 0.4, _phone(rng)),
            "AccountNumber": _maybe(rng, 0.7, f"AC-{rng.randint(100000, 999999)}"),
            "Website": _maybe(rng, 0.7, f"https://www.{variant}.example-health.org"),
            "Industry": "Healthcare",
            "AnnualRevenue": _maybe(rng, 0.8, float(rng.randint(5, 90_000) * 10_000)),
            "NumberOfEmployees": _maybe(rng, 0.8, rng.randint(3, 25_000)),
            "Ownership": _maybe(rng, 0.6, rng.choice(("Public", "Private", "Subsidiary"))),
            "Description": _maybe(rng, 0.3, 'Regional provider,\nserving "underserved" areas.'),
            "Rating": _maybe(rng, 0.5, rng.choice(("Hot", "Warm", "Cold"))),
            "Site": _maybe(rng, 0.3, city),
            "OwnerId": rng.choice(user_ids),
            "CreatedById": rng.choice(user_ids),
            "LastModifiedById": rng.choice(user_ids),
            "LastActivityDate": None,
            "Network__c": rng.choice(NETWORKS),
            "Facility_Type__c": _maybe(
                rng, 0.8, rng.choice(("Acute Care", "Ambulatory", "Behavioral"))
            ),
            "Bed_Count__c": _maybe(rng, 0.5, float(rng.randint(0, 900))),
            "Accredited__c": rng.random() < 0.7,
        }

    return org


def billing(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Billing address."""
    return _address(rng, "Billing")


def shipping(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Shipping address, often absent."""
    return _address(rng, "Shipping") if rng.random() < 0.4 else {}
