"""Which objects to sync, from the ``objects`` setting and Salesforce's global and object describe.

https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_describe.htm
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tap_salesforce_bulk.known_objects import KNOWN_UNREADABLE
from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import SalesforceApiError, affects_every_object
from tap_salesforce_bulk.salesforce.rest import describe_global, describe_sobject
from tap_salesforce_bulk.schema import ObjectSpec, build_object_spec
from tap_salesforce_bulk.settings import ALL_OBJECTS, SettingError
from tap_salesforce_bulk.soql import API_NAME

logger = logging.getLogger(__name__)

DESCRIBE_PARALLELISM = 4
# Objects that describe calls queryable but Bulk API 2.0 refuses (status/picklist-like objects
# and relation views), as documented in Salesforce's known issues and met by other connectors.
BULK_UNSUPPORTED_OBJECTS = frozenset(
    {
        "AcceptedEventRelation",
        "AssetTokenEvent",
        "AttachedContentDocument",
        "AttachedContentNote",
        "CaseStatus",
        "ContractStatus",
        "DeclinedEventRelation",
        "EventWhoRelation",
        "OrderStatus",
        "PartnerRole",
        "QuoteTemplateRichTextData",
        "RecentlyViewed",
        "SolutionStatus",
        "TaskPriority",
        "TaskStatus",
        "TaskWhoRelation",
        "UndecidedEventRelation",
        "UserRecordAccess",
    }
)
# Suffixes of objects Bulk 2.0 cannot query: feeds, change events, platform events, external
# and big objects. https://help.salesforce.com/s/articleView?id=000383508&type=1
BULK_UNSUPPORTED_SUFFIXES = ("Feed", "ChangeEvent", "__e", "__x", "__b")


def bulk_queryable(sobject: dict[str, Any]) -> bool:
    """Whether a global-describe entry is an object Bulk API 2.0 can extract."""
    name = str(sobject.get("name", ""))
    return (
        bool(sobject.get("queryable"))
        and bool(sobject.get("retrieveable", True))
        and name not in BULK_UNSUPPORTED_OBJECTS
        and not name.endswith(BULK_UNSUPPORTED_SUFFIXES)
    )


def resolve_object_names(client: SalesforceClient, configured: Sequence[str]) -> list[str]:
    """The configured names, or every Bulk-queryable object for ``["*"]``; names are checked."""
    if list(configured) == [ALL_OBJECTS]:
        queryable = sorted(str(o["name"]) for o in describe_global(client) if bulk_queryable(o))
        unreadable = [name for name in queryable if name in KNOWN_UNREADABLE]
        if unreadable:
            logger.warning(
                "objects ['*']: skipping %s: Salesforce does not let a plain query read them "
                "(known to need a filter on one Id, or queryable only inside another query)",
                ", ".join(unreadable),
            )
        names = [name for name in queryable if name not in KNOWN_UNREADABLE]
        logger.info("objects ['*']: %d objects Bulk API 2.0 can query", len(names))
        return names
    bad = [name for name in configured if not API_NAME.match(str(name))]
    if bad or not configured:
        msg = f"objects: {bad or '[]'} are not sObject API names; use names like Contact or NPI_Directory__c"
        raise SettingError(msg)
    return list(dict.fromkeys(configured))


def describe_object(client: SalesforceClient, name: str) -> dict[str, Any]:
    """GET ``sobjects/{name}/describe``, with a plain-words error for an unknown name."""
    try:
        return describe_sobject(client, name)
    except SalesforceApiError as exc:
        if exc.failure.status == 404 or exc.failure.error_code in {"NOT_FOUND", "INVALID_TYPE"}:
            msg = (
                f"objects: '{name}' is not an sObject this user can see; check the API name "
                "(custom objects end in __c) and the user's object permissions"
            )
            raise SettingError(msg) from None
        raise


def _described(client: SalesforceClient, name: str, *, every_object: bool) -> dict[str, Any] | None:
    """The object's describe; with ``["*"]``, None (and a warning) when this user cannot
    describe an object the global describe listed."""
    try:
        return describe_object(client, name)
    except (SettingError, SalesforceApiError) as exc:
        if not every_object or (isinstance(exc, SalesforceApiError) and affects_every_object(exc)):
            raise
        logger.warning("%s: skipped, Salesforce refused its describe (%s)", name, exc)
        return None


def discover_object_specs(
    client: SalesforceClient, configured: Sequence[str], *, include_formula_fields: bool
) -> list[ObjectSpec]:
    """Describe each object (a few at a time) and turn it into an :class:`ObjectSpec`."""
    names = resolve_object_names(client, configured)
    every_object = list(configured) == [ALL_OBJECTS]
    with ThreadPoolExecutor(max_workers=DESCRIBE_PARALLELISM) as pool:
        described = list(
            pool.map(lambda n: _described(client, n, every_object=every_object), names)
        )
    specs = []
    for describe in (d for d in described if d is not None):
        if not describe.get("queryable", True):
            logger.warning("%s is not queryable for this user; skipping it", describe.get("name"))
            continue
        specs.append(build_object_spec(describe, include_formula_fields=include_formula_fields))
    return specs
