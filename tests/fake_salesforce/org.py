"""The emulated org: its id, users, and the objects with their data and describe results.

Describe shapes follow the REST "Describe Global" and "sObject Describe" resources
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_describeGlobal.htm).
Besides Contact and Account, the global describe lists objects that Bulk API 2.0 refuses with
"Entity '...' is not supported by the Bulk API" (feed objects, CaseStatus, AttachedContentDocument;
https://help.salesforce.com/s/articleView?id=000383508&type=1), so a tap discovering ``*`` has
something to skip. Opt-in objects: Task and Event with archived rows (``activity_*``), objects
that refuse a plain query (``restricted_objects``) and ``Type_Zoo__c`` (``type_zoo``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace

from tests.fake_salesforce import (
    account_data,
    activity_data,
    contact_data,
    license_object,
    type_zoo,
)
from tests.fake_salesforce.account_schema import ACCOUNT_FIELDS
from tests.fake_salesforce.activity_schema import EVENT_FIELDS, TASK_FIELDS
from tests.fake_salesforce.contact_schema import CONTACT_FIELDS
from tests.fake_salesforce.dataset import ObjectData, SerialField
from tests.fake_salesforce.fields import FieldSpec, reference, simple, text
from tests.fake_salesforce.ids import KEY_PREFIXES, IdSpace, make_id
from tests.fake_salesforce.pools import Generator, PoolGroup, build_group
from tests.fake_salesforce.restricted_objects import (
    ACTIVITY_FIELD_HISTORY_FIELDS,
    ACTIVITY_FIELD_HISTORY_ROWS,
    HISTORY_POOL_SIZE,
    RESTRICTED,
    Refusal,
    make_history_generator,
)
from tests.fake_salesforce.vocabulary import FieldType

USER_COUNT = 10
NPI_BASE = 1_000_000_000
NPI_SPAN = 900_000_000
NPI_MULTIPLIER = 7_654_321  # coprime with NPI_SPAN, so NPIs are unique per row
GIANT_BIO_ROW = 17  # the row (variant) whose Bio__c is at the 131,072-character maximum


def _by_pool(
    groups: Mapping[str, Generator], pool_of: Mapping[str, str]
) -> dict[str, list[Generator]]:
    merged: dict[str, list[Generator]] = {}
    for group, generator in groups.items():
        merged.setdefault(pool_of[group], []).append(generator)
    return merged


@dataclass(frozen=True)
class UnsupportedObject:
    """An object the global describe lists but whose queries Salesforce refuses: by default Bulk
    API 2.0 answers INVALIDENTITY; ``bulk_refusal``/``rest_refusal`` say otherwise."""

    name: str
    label: str
    key_prefix: str | None
    fields: tuple[FieldSpec, ...]
    bulk_refusal: Refusal | None = None
    rest_refusal: Refusal | None = None  # None: REST queries it (no rows here)


def _feed_fields(parent: str) -> tuple[FieldSpec, ...]:
    return (
        FieldSpec("Id", FieldType.ID, "Feed Item ID", length=18, nillable=False, system=True),
        reference("ParentId", "Parent ID", parent, "Parent", ""),
        text("Type", "Feed Item Type", 40, ""),
        simple("CreatedDate", "Created Date", FieldType.DATETIME, "", nillable=False, system=True),
        simple(
            "SystemModstamp", "System Modstamp", FieldType.DATETIME, "", nillable=False, system=True
        ),
    )


UNSUPPORTED_OBJECTS = (
    UnsupportedObject("ContactFeed", "Contact Feed", None, _feed_fields("Contact")),
    UnsupportedObject("AccountFeed", "Account Feed", None, _feed_fields("Account")),
    UnsupportedObject(
        "CaseStatus",
        "Case Status Value",
        "01J",
        (
            FieldSpec(
                "Id", FieldType.ID, "Case Status Value ID", length=18, nillable=False, system=True
            ),
            text("MasterLabel", "Master Label", 255, ""),
            simple("IsClosed", "Closed", FieldType.BOOLEAN, "", nillable=False),
        ),
    ),
    UnsupportedObject(
        "AttachedContentDocument",
        "Attached Content Document",
        None,
        (
            FieldSpec(
                "Id",
                FieldType.ID,
                "Attached Content Document ID",
                length=18,
                nillable=False,
                system=True,
            ),
            reference("LinkedEntityId", "Linked Entity ID", "Contact", "LinkedEntity", ""),
            text("Title", "Title", 255, ""),
        ),
    ),
)

_POOL_CACHE: dict[tuple[object, ...], PoolGroup] = {}
_POOL_LOCK = threading.Lock()


def pooled_fields(
    fields: tuple[FieldSpec, ...], pool_of: Mapping[str, str], order: list[str]
) -> tuple[FieldSpec, ...]:
    """Fields with their group renamed to their pool, sorted so each pool's fields are adjacent.

    Adjacent fields of one pool render as one pre-joined CSV segment. Row-computed fields keep
    group "row": Id and IsDeleted first, the timestamps last.
    """
    renamed = [replace(f, group=pool_of.get(f.group, f.group)) for f in fields]
    last = ("CreatedDate", "LastModifiedDate", "SystemModstamp")

    def rank(spec: FieldSpec) -> int:
        if spec.group == "row":
            return (
                len(order) + 1 + last.index(spec.name)
                if spec.name in last
                else (0 if spec.name in ("Id", "IsDeleted") else len(order))
            )
        return 1 + order.index(spec.group)

    return tuple(sorted(renamed, key=rank))


def _pools(
    object_name: str,
    counts: tuple[int, ...],
    count_dependent: str,
    fields: tuple[FieldSpec, ...],
    sizes: dict[str, int],
    generators: dict[str, list[Generator]],
    seed: int,
) -> dict[str, PoolGroup]:
    """Build (or reuse) each pool; only ``count_dependent`` (lookups to rows) depends on row counts."""
    pools = {}
    for name, size in sizes.items():
        key = (object_name, seed, name, counts if name == count_dependent else ())
        with _POOL_LOCK:
            pool = _POOL_CACHE.get(key)
            if pool is None:
                members = [f for f in fields if f.group == name]
                pool = build_group(
                    name, size, members, contact_data.merge_generators(generators[name]), seed
                )
                _POOL_CACHE[key] = pool
        pools[name] = pool
    return pools


class Org:
    """Everything the emulator serves: org and users, Contact and Account data, describes."""

    def __init__(
        self,
        contacts: int,
        accounts: int,
        seed: int,
        *,
        tasks: int = 0,
        events: int = 0,
        restricted_objects: bool = False,
        type_zoo_rows: int = 0,
        licenses: int = 0,
    ) -> None:
        self.seed = seed
        self.org_id = make_id(KEY_PREFIXES["Organization"], 1 + seed % 1000)
        self.user_ids = tuple(make_id(KEY_PREFIXES["User"], 100 + n) for n in range(USER_COUNT))
        self.integration_user_id = self.user_ids[0]
        account_ids = IdSpace(KEY_PREFIXES["Account"], 1 + (seed % 97) * 10_000)
        contact_ids = IdSpace(KEY_PREFIXES["Contact"], 1 + (seed % 89) * 10_000)
        individual_ids = IdSpace(KEY_PREFIXES["Individual"], 1)
        groups: dict[str, Generator] = dict(contact_data.STATIC_GENERATORS)
        groups["owners"] = contact_data.make_owner_generator(self.user_ids)
        groups["refs"] = contact_data.make_refs_generator(
            account_ids, accounts, contact_ids, contacts, individual_ids
        )
        groups["bio"] = contact_data.make_bio_generator(GIANT_BIO_ROW)
        contact_fields = pooled_fields(
            CONTACT_FIELDS, contact_data.POOL_OF_GROUP, list(contact_data.POOL_SIZES)
        )
        contact_pools = _pools(
            "Contact",
            (contacts, accounts),
            "admin",
            contact_fields,
            contact_data.POOL_SIZES,
            _by_pool(groups, contact_data.POOL_OF_GROUP),
            seed,
        )
        account_groups: dict[str, Generator] = {
            "org": account_data.make_org_generator(account_ids, accounts, self.user_ids),
            "billing_address": account_data.billing,
            "shipping_address": account_data.shipping,
        }
        account_fields = pooled_fields(
            ACCOUNT_FIELDS, account_data.POOL_OF_GROUP, list(account_data.POOL_SIZES)
        )
        account_pools = _pools(
            "Account",
            (accounts,),
            "org",
            account_fields,
            account_data.POOL_SIZES,
            _by_pool(account_groups, account_data.POOL_OF_GROUP),
            seed,
        )
        npi = SerialField(NPI_BASE, NPI_SPAN, NPI_MULTIPLIER, (seed * 1_000_003) % NPI_SPAN)
        self.objects: dict[str, ObjectData] = {
            "Contact": ObjectData(
                "Contact",
                contact_fields,
                contacts,
                seed,
                contact_ids,
                contact_pools,
                {"NPI__c": npi},
            ),
            "Account": ObjectData(
                "Account", account_fields, accounts, seed, account_ids, account_pools
            ),
        }
        if licenses:  # a custom object, only when asked for (license_object.py)
            license_fields = pooled_fields(
                license_object.LICENSE_FIELDS,
                license_object.POOL_OF_GROUP,
                list(license_object.POOL_SIZES),
            )
            generator = license_object.make_license_generator(contact_ids, contacts, self.user_ids)
            self.objects[license_object.NAME] = ObjectData(
                license_object.NAME,
                license_fields,
                licenses,
                seed,
                IdSpace(license_object.KEY_PREFIX, 1 + (seed % 83) * 10_000),
                _pools(
                    license_object.NAME,
                    (contacts,),
                    "license",
                    license_fields,
                    license_object.POOL_SIZES,
                    {"license": [generator]},
                    seed,
                ),
            )
        self.unsupported = {obj.name: obj for obj in UNSUPPORTED_OBJECTS}
        self.not_replicateable: set[str] = set()  # set_replicateable(name, False)
        links = {
            "links": activity_data.make_links_generator(
                contact_ids, contacts, account_ids, accounts, self.user_ids
            )
        }
        if tasks:
            self._add("Task", TASK_FIELDS, tasks, {"activity": activity_data.task, **links})
        if events:
            self._add("Event", EVENT_FIELDS, events, {"activity": activity_data.event, **links})
        if restricted_objects:
            self._add_restricted()
        if type_zoo_rows:
            self._add("Type_Zoo__c", type_zoo.TYPE_ZOO_FIELDS, type_zoo_rows, {"zoo": type_zoo.zoo})

    def _add(
        self,
        name: str,
        fields: tuple[FieldSpec, ...],
        rows: int,
        generators: Mapping[str, Generator],
        sizes: Mapping[str, int] | None = None,
    ) -> None:
        """An object whose fields each read the pool named by their group (one generator each)."""
        sizes = dict(sizes or {**activity_data.POOL_SIZES, **type_zoo.POOL_SIZES})
        sizes = {group: size for group, size in sizes.items() if group in generators}
        ids = IdSpace(KEY_PREFIXES[name], 1 + (self.seed % 83) * 10_000)
        specs = pooled_fields(fields, {g: g for g in sizes}, list(sizes))
        pools = _pools(
            name,
            (rows,),
            "links",
            specs,
            sizes,
            {group: [generator] for group, generator in generators.items()},
            self.seed,
        )
        self.objects[name] = ObjectData(name, specs, rows, self.seed, ids, pools)

    def _add_restricted(self) -> None:
        """Objects that refuse a plain query, one way each (see ``restricted_objects``)."""
        for name, (label, prefix, fields, bulk, rest) in RESTRICTED.items():
            self.unsupported[name] = UnsupportedObject(name, label, prefix, fields, bulk, rest)
        task = self.objects.get("Task")
        task_id = task.ids.id_of(0) if task else make_id(KEY_PREFIXES["Task"], 1)
        self._add(
            "ActivityFieldHistory",
            ACTIVITY_FIELD_HISTORY_FIELDS,
            ACTIVITY_FIELD_HISTORY_ROWS,
            {"history": make_history_generator(self.user_ids, task_id)},
            {"history": HISTORY_POOL_SIZE},
        )

    def object(self, name: str) -> ObjectData | None:
        """The queryable object named ``name`` (case-insensitive)."""
        for key, data in self.objects.items():
            if key.lower() == name.lower():
                return data
        return None

    def unsupported_object(self, name: str) -> UnsupportedObject | None:
        """A listed object Bulk API 2.0 cannot query (case-insensitive)."""
        for key, data in self.unsupported.items():
            if key.lower() == name.lower():
                return data
        return None

    def replicateable(self, name: str) -> bool:
        """Describe's ``replicateable``: false for feeds and for objects switched off by a test."""
        return not name.endswith("Feed") and name not in self.not_replicateable
