"""Generators of Contact values, group by group (see ``pools``).

The pools deliberately contain what breaks naive CSV handling: names with accents, CJK and emoji,
titles with commas and double quotes, streets and notes with LF and CRLF line breaks, a biography
at the 131,072-character long-text-area maximum, large currency amounts that Salesforce prints
in scientific notation, and plenty of nulls.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tests.fake_salesforce.contact_schema import (
    INSURANCE,
    LANGUAGES,
    NETWORKS,
    SPECIALTIES,
    US_STATES,
)
from tests.fake_salesforce.contact_values import (
    BIO_PARAGRAPH,
    CITIES,
    DEPARTMENTS,
    DESCRIPTIONS,
    FIRST_NAMES,
    HOSPITALS,
    LAST_NAMES,
    MIDDLE_NAMES,
    OFFICE_HOURS,
    SCHOOLS,
    STREETS,
    SUFFIXES,
    TITLES,
)
from tests.fake_salesforce.fields import LONG_TEXT_AREA_MAX_LENGTH
from tests.fake_salesforce.ids import IdSpace
from tests.fake_salesforce.pools import Generator
from tests.fake_salesforce.stamps import BASE_SPAN_MS, BASE_START_MS
from tests.fake_salesforce.values import Typed


def _maybe(rng: random.Random, chance: float, value: Typed) -> Typed:
    return value if rng.random() < chance else None


def _phone(rng: random.Random) -> str:
    return f"({rng.randint(201, 989)}) 555-{rng.randint(0, 9999):04d}"


def _ascii(text: str) -> str:
    kept = "".join(ch for ch in text.lower() if "a" <= ch <= "z")
    return kept or "provider"


def _stamp(rng: random.Random) -> int:
    return BASE_START_MS + rng.randrange(BASE_SPAN_MS)


def _day(rng: random.Random, first_year: int, years: int) -> int:
    return (first_year - 1970) * 365 + rng.randrange(years * 365)


def person(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Name, email, birthdate and identity fields."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    middle = _maybe(rng, 0.3, rng.choice(MIDDLE_NAMES))
    suffix = _maybe(rng, 0.1, rng.choice(SUFFIXES))
    parts = [p for p in (first, middle, last, suffix) if p]
    return {
        "FirstName": first,
        "LastName": last,
        "MiddleName": middle,
        "Suffix": suffix,
        "Salutation": _maybe(rng, 0.7, rng.choice(("Dr.", "Ms.", "Mr.", "Mrs.", "Prof.", "Mx."))),
        "Name": " ".join(str(p) for p in parts),
        "Email": _maybe(rng, 0.9, f"{_ascii(first)}.{_ascii(last)}{variant}@example-health.org"),
        "Birthdate": _maybe(rng, 0.8, _day(rng, 1950, 45)),
        "Pronouns": _maybe(rng, 0.4, rng.choice(("He/Him", "She/Her", "They/Them"))),
        "GenderIdentity": _maybe(rng, 0.4, rng.choice(("Male", "Female", "Nonbinary"))),
    }


def role(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Job title and assistant."""
    return {
        "Title": _maybe(rng, 0.85, rng.choice(TITLES)),
        "Department": _maybe(rng, 0.7, rng.choice(DEPARTMENTS)),
        "AssistantName": _maybe(rng, 0.3, rng.choice(FIRST_NAMES)),
        "AssistantPhone": _maybe(rng, 0.2, _phone(rng)),
        "LeadSource": _maybe(rng, 0.5, rng.choice(("Web", "Phone Inquiry", "Partner Referral"))),
        "Provider_Type__c": rng.choice(("MD", "DO", "NP", "PA", "DDS")),
    }


def _address(rng: random.Random, prefix: str) -> dict[str, Typed]:
    city, state, postal, _county = rng.choice(CITIES)
    number = rng.randint(1, 9999)
    street = f"{number} {rng.choice(STREETS)}"
    if rng.random() < 0.3:
        street += rng.choice(("\nSuite 400", "\r\nBuilding B", "\nFloor 3, Room 12"))
    return {
        f"{prefix}Street": street,
        f"{prefix}City": city,
        f"{prefix}State": state,
        f"{prefix}PostalCode": postal,
        f"{prefix}Country": rng.choice(("United States", "USA")),
        f"{prefix}Latitude": _maybe(rng, 0.8, round(rng.uniform(25.0, 48.0), 15)),
        f"{prefix}Longitude": _maybe(rng, 0.8, round(rng.uniform(-124.0, -67.0), 15)),
        f"{prefix}GeocodeAccuracy": _maybe(rng, 0.8, rng.choice(("Address", "Street", "Zip"))),
    }


def mailing_address(rng: random.Random, variant: int) -> dict[str, Typed]:
    """The practice's mailing address, location and geolocation."""
    values = _address(rng, "Mailing") if rng.random() < 0.92 else {}
    city = values.get("MailingCity") or rng.choice(CITIES)[0]
    county = next(c[3] for c in CITIES if c[0] == city)
    values.update(
        {
            "Practice_Name__c": f"{rng.choice(LAST_NAMES)} Family Practice, {city}",
            "Practice_Location__c": f"{city} campus,\nwing {rng.choice('ABCDE')}",
            "County__c": _maybe(rng, 0.9, county),
            "Practice_Geolocation__Latitude__s": _maybe(rng, 0.7, round(rng.uniform(25, 48), 6)),
            "Practice_Geolocation__Longitude__s": _maybe(
                rng, 0.7, round(rng.uniform(-124, -67), 6)
            ),
        }
    )
    return values


def other_address(rng: random.Random, variant: int) -> dict[str, Typed]:
    """A second address, rarely filled in."""
    return _address(rng, "Other") if rng.random() < 0.15 else {}


def phones(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Phone numbers, often missing."""
    return {
        "Phone": _maybe(rng, 0.9, _phone(rng)),
        "Fax": _maybe(rng, 0.3, _phone(rng)),
        "MobilePhone": _maybe(rng, 0.6, _phone(rng)),
        "HomePhone": _maybe(rng, 0.2, _phone(rng)),
        "OtherPhone": _maybe(rng, 0.1, _phone(rng)),
    }


def flags(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Checkboxes and bounce information."""
    bounced = rng.random() < 0.05
    return {
        "HasOptedOutOfEmail": rng.random() < 0.1,
        "HasOptedOutOfFax": rng.random() < 0.3,
        "DoNotCall": rng.random() < 0.05,
        "IsEmailBounced": bounced,
        "EmailBouncedReason": "550 5.1.1 mailbox unavailable, user unknown" if bounced else None,
        "EmailBouncedDate": _stamp(rng) if bounced else None,
        "Accepting_New_Patients__c": rng.random() < 0.6,
        "Board_Certified__c": rng.random() < 0.8,
        "Telehealth_Available__c": rng.random() < 0.45,
    }


def practice(rng: random.Random, variant: int) -> dict[str, Typed]:
    """The healthcare-directory custom fields."""
    specialty = rng.choice(SPECIALTIES)
    network = rng.choice(NETWORKS)
    years = rng.randint(0, 45)
    return {
        "Specialty__c": specialty,
        "Secondary_Specialty__c": _maybe(rng, 0.2, rng.choice(SPECIALTIES)),
        "Network__c": network,
        "Languages__c": ";".join(sorted(rng.sample(LANGUAGES, rng.randint(1, 3)))),
        "Insurance_Plans_Accepted__c": _maybe(
            rng, 0.8, ";".join(sorted(rng.sample(INSURANCE, rng.randint(1, 5))))
        ),
        "Years_In_Practice__c": float(years),
        "Panel_Size__c": _maybe(rng, 0.85, float(rng.randint(0, 3500))),
        "Graduation_Year__c": float(2024 - years - rng.randint(3, 8)),
        "Rating__c": _maybe(rng, 0.7, round(rng.uniform(1.0, 5.0), 1)),
        "Average_Wait_Days__c": _maybe(rng, 0.6, round(rng.uniform(0.5, 60.0), 2)),
        "Patient_Satisfaction__c": _maybe(rng, 0.6, round(rng.uniform(40.0, 100.0), 2)),
        "Consultation_Fee__c": _maybe(rng, 0.7, round(rng.uniform(50, 600) * 4) / 4),
        "Annual_Billing__c": _maybe(
            rng, 0.5, float(rng.randint(80, 3500) * 10_000 + rng.randint(0, 99) / 100)
        ),
        "Hospital_Affiliation__c": _maybe(rng, 0.75, rng.choice(HOSPITALS)),
        "Medical_School__c": _maybe(rng, 0.8, rng.choice(SCHOOLS)),
        "License_Number__c": f"{rng.choice(US_STATES)}-{rng.randint(10000, 999999)}",
        "License_State__c": rng.choice(US_STATES),
        "License_Expiration__c": _maybe(rng, 0.9, _day(rng, 2024, 4)),
        "DEA_Number__c": _maybe(
            rng, 0.5, f"B{rng.choice('ABCDEFGHJKLM')}{rng.randint(1000000, 9999999)}"
        ),
        "Taxonomy_Code__c": rng.choice(
            ("207Q00000X", "207R00000X", "208000000X", "207RC0000X", "363L00000X")
        ),
        "Credentialing_Status__c": rng.choice(
            ("Pending", "In Review", "Approved", "Approved", "Expired")
        ),
        "Last_Credentialed__c": _maybe(rng, 0.8, _stamp(rng)),
        "Profile_URL__c": _maybe(
            rng, 0.6, f"https://directory.example-health.org/providers/{variant}?ref=sf&lang=en"
        ),
        "Secondary_Email__c": _maybe(rng, 0.2, f"office{variant}@clinic.example.com"),
        "Office_Hours__c": _maybe(rng, 0.6, rng.choice(OFFICE_HOURS)),
        "Provider_Summary__c": f"{specialty} ({network})",
    }


def activity(rng: random.Random, variant: int) -> dict[str, Typed]:
    """System-maintained activity dates."""
    return {
        "LastActivityDate": _maybe(rng, 0.5, _day(rng, 2022, 3)),
        "LastCURequestDate": _maybe(rng, 0.05, _stamp(rng)),
        "LastCUUpdateDate": _maybe(rng, 0.05, _stamp(rng)),
        "LastViewedDate": _maybe(rng, 0.3, _stamp(rng)),
        "LastReferencedDate": _maybe(rng, 0.3, _stamp(rng)),
    }


def notes(rng: random.Random, variant: int) -> dict[str, Typed]:
    """Long text, data.com keys and clean status."""
    return {
        "Description": _maybe(rng, 0.45, rng.choice(DESCRIPTIONS)),
        "Jigsaw": _maybe(rng, 0.05, str(rng.randint(10**7, 10**8))),
        "JigsawContactId": None,
        "CleanStatus": _maybe(rng, 0.6, rng.choice(("Matched", "Pending", "Skipped", "NotFound"))),
        "PhotoUrl": None,
    }


def make_bio_generator(giant_variant: int) -> Generator:
    """Biographies: mostly null, some paragraphs, one at the long-text-area maximum length."""
    paragraphs = [
        BIO_PARAGRAPH.format(name=last, school=school, years=k)
        for k, (last, school) in enumerate(zip(LAST_NAMES, SCHOOLS * 5, strict=False))
    ]
    block = "".join(paragraphs)
    giant = (block * (LONG_TEXT_AREA_MAX_LENGTH // len(block) + 1))[:LONG_TEXT_AREA_MAX_LENGTH]

    def bio(rng: random.Random, variant: int) -> dict[str, Typed]:
        if variant == giant_variant:
            return {"Bio__c": giant}
        return {"Bio__c": _maybe(rng, 0.3, rng.choice(paragraphs))}

    return bio


def make_refs_generator(
    accounts: IdSpace, account_rows: int, contacts: IdSpace, contact_rows: int, individuals: IdSpace
) -> Generator:
    """Lookups to accounts, other contacts and individuals (only to rows that exist)."""

    def refs(rng: random.Random, variant: int) -> dict[str, Typed]:
        account = accounts.id_of(rng.randrange(account_rows)) if account_rows else None
        facility = accounts.id_of(rng.randrange(account_rows)) if account_rows else None
        boss = contacts.id_of(rng.randrange(contact_rows)) if contact_rows else None
        return {
            "AccountId": _maybe(rng, 0.95, account),
            "Primary_Facility__c": _maybe(rng, 0.6, facility),
            "ReportsToId": _maybe(rng, 0.3, boss),
            "MasterRecordId": None,
            "IndividualId": _maybe(rng, 0.5, individuals.id_of(variant)),
        }

    return refs


def make_owner_generator(user_ids: tuple[str, ...], prefix: str = "") -> Generator:
    """Owner and audit users, drawn from the org's few users."""

    def owners(rng: random.Random, variant: int) -> dict[str, Typed]:
        return {
            f"{prefix}OwnerId": rng.choice(user_ids),
            f"{prefix}CreatedById": rng.choice(user_ids),
            f"{prefix}LastModifiedById": rng.choice(user_ids),
        }

    return owners


# Pools: the schema's fine-grained groups merge into a few pools (fewer pools, fewer lookups per
# rendered row). Sizes are distinct primes so rows decorrelate across pools.
POOL_OF_GROUP = {
    "person": "person",
    "role": "person",
    "phones": "person",
    "mailing_address": "address",
    "other_address": "address",
    "practice": "practice",
    "flags": "practice",
    "owners": "admin",
    "refs": "admin",
    "notes": "admin",
    "activity": "admin",
    "bio": "bio",
}
POOL_SIZES = {"person": 2003, "address": 1013, "practice": 1039, "admin": 1031, "bio": 100_003}
STATIC_GENERATORS: dict[str, Callable[[random.Random, int], dict[str, Typed]]] = {
    "person": person,
    "role": role,
    "mailing_address": mailing_address,
    "other_address": other_address,
    "phones": phones,
    "flags": flags,
    "practice": practice,
    "activity": activity,
    "notes": notes,
}


def merge_generators(parts: list[Generator]) -> Generator:
    """One pool generator calling each group generator with the same random stream."""

    def merged(rng: random.Random, variant: int) -> dict[str, Typed]:
        values: dict[str, Typed] = {}
        for part in parts:
            values.update(part(rng, variant))
        return values

    return merged
