"""The Account object, smaller than Contact: provider organisations (clinics, hospitals).

Standard fields per the Account page of the Object Reference
(https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_account.htm).
``NumberOfEmployees`` is a real ``int`` field; ``AnnualRevenue`` is a currency large enough to
render in Java's scientific notation.
"""

from __future__ import annotations

from tests.fake_salesforce.contact_schema import NETWORKS
from tests.fake_salesforce.fields import (
    LONG_TEXT_AREA_LENGTH,
    FieldSpec,
    address_fields,
    number,
    picklist,
    reference,
    simple,
    text,
    textarea,
)
from tests.fake_salesforce.vocabulary import FieldType as T

_ROW = "row"

ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "Id",
        T.ID,
        "Account ID",
        length=18,
        nillable=False,
        updateable=False,
        system=True,
        group=_ROW,
    ),
    simple("IsDeleted", "Deleted", T.BOOLEAN, _ROW, nillable=False, system=True),
    text("Name", "Account Name", 255, "org", nillable=False, name_field=True),
    picklist(
        "Type",
        "Account Type",
        ("Hospital", "Clinic", "Group Practice", "Urgent Care", "Laboratory"),
        "org",
    ),
    reference("ParentId", "Parent Account ID", "Account", "Parent", "org"),
    *address_fields("Billing", "Billing", "billing_address"),
    *address_fields("Shipping", "Shipping", "shipping_address"),
    simple("Phone", "Account Phone", T.PHONE, "org"),
    simple("Fax", "Account Fax", T.PHONE, "org"),
    text("AccountNumber", "Account Number", 40, "org"),
    simple("Website", "Website", T.URL, "org"),
    picklist(
        "Industry", "Industry", ("Healthcare", "Biotechnology", "Insurance", "Education"), "org"
    ),
    number("AnnualRevenue", "Annual Revenue", T.CURRENCY, 18, 0, "org"),
    simple("NumberOfEmployees", "Employees", T.INT, "org", digits=8),
    picklist("Ownership", "Ownership", ("Public", "Private", "Subsidiary", "Other"), "org"),
    textarea("Description", "Account Description", LONG_TEXT_AREA_LENGTH, "org"),
    picklist("Rating", "Account Rating", ("Hot", "Warm", "Cold"), "org"),
    text("Site", "Account Site", 80, "org"),
    reference("OwnerId", "Owner ID", "User", "Owner", "org", nillable=False),
    simple("CreatedDate", "Created Date", T.DATETIME, _ROW, nillable=False, system=True),
    reference(
        "CreatedById", "Created By ID", "User", "CreatedBy", "org", nillable=False, system=True
    ),
    simple("LastModifiedDate", "Last Modified Date", T.DATETIME, _ROW, nillable=False, system=True),
    reference(
        "LastModifiedById",
        "Last Modified By ID",
        "User",
        "LastModifiedBy",
        "org",
        nillable=False,
        system=True,
    ),
    simple("SystemModstamp", "System Modstamp", T.DATETIME, _ROW, nillable=False, system=True),
    simple("LastActivityDate", "Last Activity", T.DATE, "org", system=True),
    picklist("Network__c", "Network", NETWORKS, "org", custom=True),
    picklist(
        "Facility_Type__c",
        "Facility Type",
        ("Acute Care", "Ambulatory", "Behavioral", "Rehabilitation"),
        "org",
        custom=True,
    ),
    number("Bed_Count__c", "Bed Count", T.DOUBLE, 5, 0, "org", custom=True),
    simple("Accredited__c", "Accredited", T.BOOLEAN, "org", nillable=False, custom=True),
)
