"""Field specifications and the describe JSON built from them.

Attribute names and defaults follow the REST "sObject Describe" field properties
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm#field).
Compound fields (address, location) carry ``compoundFieldName`` on their components, which is
how a client learns not to select the compound itself in a Bulk query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fake_salesforce.vocabulary import FieldType

# Text lengths Salesforce uses for standard field kinds (describe `length`).
PHONE_LENGTH = 40
EMAIL_LENGTH = 80
URL_LENGTH = 255
PICKLIST_LENGTH = 255  # custom picklists
STANDARD_PICKLIST_LENGTH = 40  # standard picklists, as real describes give them (most of them)
FILLED_ON_CREATE = frozenset(
    {"Id", "OwnerId", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
     "SystemModstamp"}
)  # fmt: skip
LONG_TEXT_AREA_LENGTH = 32_000
LONG_TEXT_AREA_MAX_LENGTH = 131_072
ID_LENGTH = 18


@dataclass(frozen=True)
class FieldSpec:
    """One field of an emulated sObject."""

    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    digits: int = 0
    nillable: bool = True
    custom: bool = False
    calculated: bool = False
    formula: str | None = None
    compound_field_name: str | None = None
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    external_id: bool = False
    unique: bool = False
    updateable: bool = True
    extra_type_info: str | None = None
    html_formatted: bool = False
    name_field: bool = False
    id_lookup: bool = False
    defaulted_on_create: bool = False
    default_value: object = None
    system: bool = False  # audit/system fields: not createable, not updateable
    filterable: bool | None = None  # None: as the type decides (describe ``filterable``)
    group: str = ""  # data generation: which value pool the field reads
    help_text: str | None = None  # describe ``inlineHelpText``: the field-level help, if set
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def is_compound(self) -> bool:
        """Whether this is an address or geolocation compound field."""
        return self.type.is_compound

    @property
    def is_filterable(self) -> bool:
        """Whether SOQL may filter on the field (describe ``filterable``): not long text areas,
        compound, json or complexvalue fields, unless the field says otherwise."""
        if self.filterable is not None:
            return self.filterable
        ftype = self.type
        return (
            not (ftype is FieldType.TEXTAREA and self.length > 255)
            and not self.is_compound
            and ftype.csv_serializable
        )

    @property
    def permissionable(self) -> bool:
        """Whether field-level security can be set on the field (describe ``permissionable``)."""
        return self.nillable and not self.system and self.type is not FieldType.ID

    def describe(self) -> dict[str, object]:
        """The field's entry in ``/sobjects/{name}/describe`` ``fields``."""
        ftype = self.type
        filterable = self.is_filterable
        sortable = filterable and ftype is not FieldType.MULTIPICKLIST
        groupable = (
            sortable and not ftype.is_numeric and ftype is not FieldType.DATETIME
        ) or ftype is FieldType.INT
        creatable = (
            self.updateable and not self.system and not self.calculated and not self.is_compound
        )
        # Ids are ASCII: real describes give id and reference fields byteLength 18.
        byte_length = (
            self.length
            if ftype in (FieldType.ID, FieldType.REFERENCE)
            else self.length * 3
            if ftype.is_text
            else 0
        )
        return {
            "aggregatable": sortable and ftype is not FieldType.BOOLEAN,
            "aiPredictionField": False,
            "autoNumber": False,
            "byteLength": byte_length,
            "calculated": self.calculated,
            "calculatedFormula": self.formula,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": self.compound_field_name,
            "controllerName": None,
            "createable": creatable and ftype is not FieldType.ID,
            "custom": self.custom,
            # Real describes give checkboxes their default, false unless set otherwise.
            "defaultValue": (
                False
                if ftype is FieldType.BOOLEAN and self.default_value is None
                else self.default_value
            ),
            "defaultValueFormula": None,
            # Salesforce fills the Id, the audit fields and the owner on create.
            "defaultedOnCreate": self.defaulted_on_create
            or ftype is FieldType.BOOLEAN
            or self.name in FILLED_ON_CREATE,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.digits,
            "displayLocationInDecimal": ftype is FieldType.LOCATION,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": self.extra_type_info,
            # Real describes call address compounds filterable (DISTANCE() filters on them).
            "filterable": filterable or (self.is_compound and self.filterable is None),
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": groupable,
            "highScaleNumber": False,
            "htmlFormatted": self.html_formatted,
            "idLookup": self.id_lookup or ftype is FieldType.ID,
            "inlineHelpText": self.help_text,
            "label": self.label or self.name,
            "length": self.length,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.permissionable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": False,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": False,
            "precision": self.precision,
            "queryByDistance": ftype is FieldType.LOCATION,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": False,
            "scale": self.scale,
            "searchPrefilterable": ftype is FieldType.REFERENCE,
            "soapType": ftype.soap_type,
            "sortable": sortable,
            "type": ftype.value,
            "unique": self.unique,
            "updateable": creatable and ftype is not FieldType.ID,
            "writeRequiresMasterRead": False,
            **self.extra,
        }


def text(name: str, label: str, length: int, group: str, **kw: Any) -> FieldSpec:
    """A ``string`` field."""
    return FieldSpec(name, FieldType.STRING, label, length=length, group=group, **kw)


def textarea(name: str, label: str, length: int, group: str, **kw: Any) -> FieldSpec:
    """A text area; above 255 characters it is a long text area (not filterable). Real
    describes mark both kinds ``extraTypeInfo: plaintextarea`` (rich text: ``richtextarea``)."""
    info = "plaintextarea"
    return FieldSpec(
        name, FieldType.TEXTAREA, label, length=length, group=group, extra_type_info=info, **kw
    )


def picklist(
    name: str,
    label: str,
    values: tuple[str, ...],
    group: str,
    length: int | None = None,
    **kw: Any,
) -> FieldSpec:
    """A single-select picklist: 255 long when custom, 40 when standard unless given."""
    if length is None:
        length = PICKLIST_LENGTH if kw.get("custom") else STANDARD_PICKLIST_LENGTH
    return FieldSpec(
        name, FieldType.PICKLIST, label, length=length, picklist=values, group=group, **kw
    )


def multipicklist(
    name: str, label: str, values: tuple[str, ...], group: str, **kw: Any
) -> FieldSpec:
    """A multi-select picklist: values joined with ``;``."""
    return FieldSpec(
        name, FieldType.MULTIPICKLIST, label, length=4099, picklist=values, group=group, **kw
    )


def number(
    name: str, label: str, ftype: FieldType, precision: int, scale: int, group: str, **kw: Any
) -> FieldSpec:
    """A double, currency or percent field (custom Number fields are doubles even at scale 0)."""
    return FieldSpec(name, ftype, label, precision=precision, scale=scale, group=group, **kw)


def reference(
    name: str, label: str, target: str, relationship: str, group: str, **kw: Any
) -> FieldSpec:
    """A lookup to ``target``."""
    return FieldSpec(
        name,
        FieldType.REFERENCE,
        label,
        length=ID_LENGTH,
        reference_to=(target,),
        relationship_name=relationship,
        group=group,
        **kw,
    )


def simple(name: str, label: str, ftype: FieldType, group: str, **kw: Any) -> FieldSpec:
    """Any other field type with its standard length."""
    lengths = {
        FieldType.PHONE: PHONE_LENGTH,
        FieldType.EMAIL: EMAIL_LENGTH,
        FieldType.URL: URL_LENGTH,
    }
    return FieldSpec(name, ftype, label, length=lengths.get(ftype, 0), group=group, **kw)


def address_fields(prefix: str, label: str, group: str) -> list[FieldSpec]:
    """A compound address and its components, whose ``compoundFieldName`` names the compound."""
    compound = f"{prefix}Address"
    parts = [
        textarea(f"{prefix}Street", f"{label} Street", 255, group, compound_field_name=compound),
        text(f"{prefix}City", f"{label} City", 40, group, compound_field_name=compound),
        text(f"{prefix}State", f"{label} State/Province", 80, group, compound_field_name=compound),
        text(
            f"{prefix}PostalCode",
            f"{label} Zip/Postal Code",
            20,
            group,
            compound_field_name=compound,
        ),
        text(f"{prefix}Country", f"{label} Country", 80, group, compound_field_name=compound),
        number(
            f"{prefix}Latitude",
            f"{label} Latitude",
            FieldType.DOUBLE,
            18,
            15,
            group,
            compound_field_name=compound,
        ),
        number(
            f"{prefix}Longitude",
            f"{label} Longitude",
            FieldType.DOUBLE,
            18,
            15,
            group,
            compound_field_name=compound,
        ),
        picklist(
            f"{prefix}GeocodeAccuracy",
            f"{label} Geocode Accuracy",
            ("Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip", "City"),
            group,
            compound_field_name=compound,
        ),
    ]
    return [*parts, FieldSpec(compound, FieldType.ADDRESS, f"{label} Address", group=group)]


def location_fields(name: str, label: str, group: str, scale: int) -> list[FieldSpec]:
    """A custom geolocation compound (``X__c``) and its ``X__Latitude__s``/``__Longitude__s``."""
    base = name.removesuffix("__c")
    return [
        FieldSpec(name, FieldType.LOCATION, label, custom=True, scale=scale, group=group),
        number(
            f"{base}__Latitude__s",
            f"{label} (Latitude)",
            FieldType.DOUBLE,
            18,
            scale,
            group,
            custom=True,
            compound_field_name=name,
        ),
        number(
            f"{base}__Longitude__s",
            f"{label} (Longitude)",
            FieldType.DOUBLE,
            18,
            scale,
            group,
            custom=True,
            compound_field_name=name,
        ),
    ]
