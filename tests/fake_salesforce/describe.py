"""JSON bodies of the describe resources, built from the org's field specs."""

from __future__ import annotations

from tests.fake_salesforce.fields import FieldSpec
from tests.fake_salesforce.ids import KEY_PREFIXES
from tests.fake_salesforce.org import Org

MAX_BATCH_SIZE = 200


def _urls(version: str, name: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "listviews": f"{base}/listviews",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def _sobject_summary(
    version: str,
    name: str,
    label: str,
    key_prefix: str | None,
    *,
    feed: bool = False,
    replicateable: bool = True,
    writable: bool = True,
) -> dict[str, object]:
    return {
        "activateable": False,
        "associateEntityType": "Feed" if feed else None,
        "associateParentEntity": name.removesuffix("Feed") if feed else None,
        "createable": writable,
        "custom": name.endswith("__c"),
        "customSetting": False,
        "deepCloneable": False,
        "deletable": writable,
        "deprecatedAndHidden": False,
        "feedEnabled": writable,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": key_prefix,
        "label": label,
        "labelPlural": label + "s",
        "layoutable": writable,
        "mergeable": name in ("Account", "Contact"),
        "mruEnabled": writable,
        "name": name,
        "queryable": True,
        "replicateable": replicateable,
        "retrieveable": True,
        "searchable": writable,
        "triggerable": writable,
        "undeletable": writable,
        "updateable": writable,
        "urls": _urls(version, name),
    }


def _label(name: str) -> str:
    """An object's label: a custom object's is its name without ``__c`` (``License``)."""
    return name.removesuffix("__c").replace("_", " ")


def describe_global(org: Org, version: str) -> dict[str, object]:
    """``GET /services/data/vXX.X/sobjects``."""
    sobjects = [
        _sobject_summary(
            version, name, _label(name), KEY_PREFIXES[name], replicateable=org.replicateable(name)
        )
        for name in org.objects
    ]
    for obj in org.unsupported.values():
        feed = obj.name.endswith("Feed")
        sobjects.append(
            _sobject_summary(
                version,
                obj.name,
                obj.label,
                obj.key_prefix,
                feed=feed,
                replicateable=org.replicateable(obj.name),
                writable=False,
            )
        )
    sobjects.sort(key=lambda entry: str(entry["name"]))
    return {"encoding": "UTF-8", "maxBatchSize": MAX_BATCH_SIZE, "sobjects": sobjects}


def describe_object(org: Org, name: str, version: str) -> dict[str, object] | None:
    """``GET /services/data/vXX.X/sobjects/{name}/describe``, or None for an unknown object."""
    data = org.object(name)
    fields: tuple[FieldSpec, ...]
    if data is not None:
        canonical, fields = data.name, data.fields
        summary = _sobject_summary(
            version,
            canonical,
            _label(canonical),
            KEY_PREFIXES[canonical],
            replicateable=org.replicateable(canonical),
        )
    else:
        unsupported = org.unsupported_object(name)
        if unsupported is None:
            return None
        canonical, fields = unsupported.name, unsupported.fields
        feed = canonical.endswith("Feed")
        summary = _sobject_summary(
            version,
            canonical,
            unsupported.label,
            unsupported.key_prefix,
            feed=feed,
            replicateable=org.replicateable(canonical),
            writable=False,
        )
    return {
        **summary,
        "actionOverrides": [],
        "childRelationships": [],
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [spec.describe() for spec in fields],
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All contacts", "name": "everything"}],
    }
