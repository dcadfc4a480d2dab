"""The Contact object: standard fields plus a healthcare-provider directory's custom fields.

Standard field names, types and lengths follow the Contact page of the Object Reference
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contact.htm).
``group`` names the value pool a field is generated from (see ``contact_data``); fields of one
group vary together, so a row's city, state and postal code stay consistent.
"""

from __future__ import annotations

from tests.fake_salesforce.fields import (
    LONG_TEXT_AREA_LENGTH,
    LONG_TEXT_AREA_MAX_LENGTH,
    FieldSpec,
    address_fields,
    location_fields,
    multipicklist,
    number,
    picklist,
    reference,
    simple,
    text,
    textarea,
)
from tests.fake_salesforce.vocabulary import FieldType as T

SPECIALTIES = (
    "Family Medicine",
    "Internal Medicine",
    "Pediatrics",
    "Cardiology",
    "Dermatology",
    "Orthopedic Surgery",
    "Psychiatry",
    "Obstetrics & Gynecology",
    "Neurology",
    "Oncology",
    "Endocrinology",
    "Gastroenterology",
    "Ophthalmology",
    "Radiology",
    "Urology",
)
NETWORKS = (
    "Blue Ridge Health",
    "Coastal Care Alliance",
    "Summit Partners",
    "Valley Preferred",
    "Out of Network",
)
LANGUAGES = (
    "English",
    "Spanish",
    "Mandarin",
    "Vietnamese",
    "Tagalog",
    "Arabic",
    "French",
    "Korean",
    "Russian",
    "Hindi",
)
INSURANCE = (
    "Aetna",
    "Cigna",
    "Humana",
    "Kaiser",
    "Medicare",
    "Medicaid",
    "UnitedHealthcare",
    "Tricare",
)
US_STATES = ("CA", "NY", "TX", "FL", "WA", "IL", "PA", "OH", "GA", "NC", "MA", "AZ", "CO", "OR")

_ROW = "row"  # computed per row, not pooled
PERSON_NAME = "personname"  # describe extraTypeInfo of the name fields


def _standard() -> list[FieldSpec]:
    return [
        FieldSpec(
            "Id",
            T.ID,
            "Contact ID",
            length=18,
            nillable=False,
            updateable=False,
            system=True,
            group=_ROW,
        ),
        simple("IsDeleted", "Deleted", T.BOOLEAN, _ROW, nillable=False, system=True),
        reference(
            "MasterRecordId", "Master Record ID", "Contact", "MasterRecord", "refs", system=True
        ),
        reference("AccountId", "Account ID", "Account", "Account", "refs"),
        text(
            "LastName",
            "Last Name",
            80,
            "person",
            nillable=False,
            compound_field_name="Name",
            extra_type_info=PERSON_NAME,
        ),
        text(
            "FirstName",
            "First Name",
            40,
            "person",
            compound_field_name="Name",
            extra_type_info=PERSON_NAME,
        ),
        picklist(
            "Salutation",
            "Salutation",
            ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx."),
            "person",
            compound_field_name="Name",
            extra_type_info=PERSON_NAME,
        ),
        text("MiddleName", "Middle Name", 40, "person", compound_field_name="Name"),
        text("Suffix", "Name Suffix", 40, "person", compound_field_name="Name"),
        text(
            "Name",
            "Full Name",
            121,
            "person",
            nillable=False,
            updateable=False,
            name_field=True,
            extra_type_info=PERSON_NAME,
        ),
        *address_fields("Other", "Other", "other_address"),
        *address_fields("Mailing", "Mailing", "mailing_address"),
        simple("Phone", "Business Phone", T.PHONE, "phones"),
        simple("Fax", "Business Fax", T.PHONE, "phones"),
        simple("MobilePhone", "Mobile Phone", T.PHONE, "phones"),
        simple("HomePhone", "Home Phone", T.PHONE, "phones"),
        simple("OtherPhone", "Other Phone", T.PHONE, "phones"),
        simple("AssistantPhone", "Asst. Phone", T.PHONE, "role"),
        reference("ReportsToId", "Reports To ID", "Contact", "ReportsTo", "refs"),
        simple("Email", "Email", T.EMAIL, "person", id_lookup=True),
        text("Title", "Title", 128, "role"),
        text("Department", "Department", 80, "role"),
        text("AssistantName", "Assistant's Name", 40, "role"),
        picklist(
            "LeadSource",
            "Lead Source",
            ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"),
            "role",
            length=255,
        ),
        simple("Birthdate", "Birthdate", T.DATE, "person"),
        textarea("Description", "Contact Description", LONG_TEXT_AREA_LENGTH, "notes"),
        reference("OwnerId", "Owner ID", "User", "Owner", "owners", nillable=False),
        simple("HasOptedOutOfEmail", "Email Opt Out", T.BOOLEAN, "flags", nillable=False),
        simple("HasOptedOutOfFax", "Fax Opt Out", T.BOOLEAN, "flags", nillable=False),
        simple("DoNotCall", "Do Not Call", T.BOOLEAN, "flags", nillable=False),
        simple("CreatedDate", "Created Date", T.DATETIME, _ROW, nillable=False, system=True),
        reference(
            "CreatedById",
            "Created By ID",
            "User",
            "CreatedBy",
            "owners",
            nillable=False,
            system=True,
        ),
        simple(
            "LastModifiedDate", "Last Modified Date", T.DATETIME, _ROW, nillable=False, system=True
        ),
        reference(
            "LastModifiedById",
            "Last Modified By ID",
            "User",
            "LastModifiedBy",
            "owners",
            nillable=False,
            system=True,
        ),
        simple("SystemModstamp", "System Modstamp", T.DATETIME, _ROW, nillable=False, system=True),
        simple("LastActivityDate", "Last Activity", T.DATE, "activity", system=True),
        simple(
            "LastCURequestDate",
            "Last Stay-in-Touch Request Date",
            T.DATETIME,
            "activity",
            system=True,
        ),
        simple(
            "LastCUUpdateDate", "Last Stay-in-Touch Save Date", T.DATETIME, "activity", system=True
        ),
        simple("LastViewedDate", "Last Viewed Date", T.DATETIME, "activity", system=True),
        simple("LastReferencedDate", "Last Referenced Date", T.DATETIME, "activity", system=True),
        text("EmailBouncedReason", "Email Bounced Reason", 255, "flags"),
        simple("EmailBouncedDate", "Email Bounced Date", T.DATETIME, "flags"),
        simple(
            "IsEmailBounced", "Is Email Bounced", T.BOOLEAN, "flags", nillable=False, system=True
        ),
        simple("PhotoUrl", "Photo URL", T.URL, "notes", system=True, extra_type_info="imageurl"),
        text("Jigsaw", "Data.com Key", 20, "notes"),
        text("JigsawContactId", "Jigsaw Contact ID", 20, "notes", system=True),
        picklist(
            "CleanStatus",
            "Clean Status",
            (
                "Matched",
                "Different",
                "Acknowledged",
                "NotFound",
                "Inactive",
                "Pending",
                "SelectMatch",
                "Skipped",
            ),
            "notes",
        ),
        reference("IndividualId", "Individual ID", "Individual", "Individual", "refs"),
        picklist(
            "Pronouns",
            "Pronouns",
            ("He/Him", "She/Her", "They/Them", "He/They", "She/They", "Not Listed"),
            "person",
        ),
        picklist(
            "GenderIdentity",
            "Gender Identity",
            ("Male", "Female", "Nonbinary", "Not Listed"),
            "person",
        ),
    ]


def _custom() -> list[FieldSpec]:
    c = {"custom": True}
    return [
        text(
            "NPI__c",
            "NPI Number",
            10,
            _ROW,
            external_id=True,
            unique=True,
            help_text="The provider's 10-digit National Provider Identifier, issued by CMS.",
            **c,
        ),
        picklist("Specialty__c", "Specialty", SPECIALTIES, "practice", **c),
        picklist("Secondary_Specialty__c", "Secondary Specialty", SPECIALTIES, "practice", **c),
        picklist("Network__c", "Network", NETWORKS, "practice", **c),
        picklist(
            "Provider_Type__c",
            "Provider Type",
            ("MD", "DO", "NP", "PA", "DDS", "PhD", "LCSW"),
            "role",
            **c,
        ),
        text("Practice_Name__c", "Practice Name", 255, "mailing_address", **c),
        textarea("Practice_Location__c", "Practice Location", 255, "mailing_address", **c),
        text("County__c", "County", 80, "mailing_address", **c),
        *location_fields("Practice_Geolocation__c", "Practice Geolocation", "mailing_address", 6),
        simple(
            "Accepting_New_Patients__c",
            "Accepting New Patients",
            T.BOOLEAN,
            "flags",
            nillable=False,
            **c,
        ),
        simple("Board_Certified__c", "Board Certified", T.BOOLEAN, "flags", nillable=False, **c),
        simple(
            "Telehealth_Available__c",
            "Telehealth Available",
            T.BOOLEAN,
            "flags",
            nillable=False,
            **c,
        ),
        multipicklist("Languages__c", "Languages Spoken", LANGUAGES, "practice", **c),
        multipicklist(
            "Insurance_Plans_Accepted__c", "Insurance Plans Accepted", INSURANCE, "practice", **c
        ),
        number("Years_In_Practice__c", "Years In Practice", T.DOUBLE, 3, 0, "practice", **c),
        number("Panel_Size__c", "Panel Size", T.DOUBLE, 6, 0, "practice", **c),
        number("Graduation_Year__c", "Graduation Year", T.DOUBLE, 4, 0, "practice", **c),
        number("Rating__c", "Rating", T.DOUBLE, 2, 1, "practice", **c),
        number("Average_Wait_Days__c", "Average Wait (Days)", T.DOUBLE, 5, 2, "practice", **c),
        number("Patient_Satisfaction__c", "Patient Satisfaction", T.PERCENT, 5, 2, "practice", **c),
        number("Consultation_Fee__c", "Consultation Fee", T.CURRENCY, 16, 2, "practice", **c),
        number("Annual_Billing__c", "Annual Billing", T.CURRENCY, 18, 2, "practice", **c),
        text("Hospital_Affiliation__c", "Hospital Affiliation", 255, "practice", **c),
        text("Medical_School__c", "Medical School", 255, "practice", **c),
        text("License_Number__c", "License Number", 30, "practice", **c),
        picklist("License_State__c", "License State", US_STATES, "practice", **c),
        simple("License_Expiration__c", "License Expiration", T.DATE, "practice", **c),
        text("DEA_Number__c", "DEA Number", 9, "practice", **c),
        text("Taxonomy_Code__c", "Taxonomy Code", 10, "practice", **c),
        picklist(
            "Credentialing_Status__c",
            "Credentialing Status",
            ("Pending", "In Review", "Approved", "Expired", "Rejected"),
            "practice",
            **c,
        ),
        simple("Last_Credentialed__c", "Last Credentialed", T.DATETIME, "practice", **c),
        simple("Profile_URL__c", "Profile URL", T.URL, "practice", **c),
        simple("Secondary_Email__c", "Secondary Email", T.EMAIL, "practice", **c),
        textarea("Office_Hours__c", "Office Hours", 255, "practice", **c),
        reference(
            "Primary_Facility__c", "Primary Facility", "Account", "Primary_Facility__r", "refs", **c
        ),
        textarea("Bio__c", "Biography", LONG_TEXT_AREA_MAX_LENGTH, "bio", **c),
        text(
            "Provider_Summary__c",
            "Provider Summary",
            1300,
            "practice",
            calculated=True,
            formula="FirstName & ' ' & LastName & ', ' & TEXT(Specialty__c) & ' (' & TEXT(Network__c) & ')'",
            updateable=False,
            **c,
        ),
    ]


CONTACT_FIELDS: tuple[FieldSpec, ...] = tuple(_standard() + _custom())
