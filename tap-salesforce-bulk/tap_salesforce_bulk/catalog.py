"""An input catalog brought up to date with what Salesforce's describe says today.

Catalogs get old: Meltano and users keep them between runs while admins add, delete or hide
fields. Each run, the schema of every catalog stream is replaced with the described one, so

* a field that no longer exists (or that this user can no longer see) is dropped with a warning
  instead of failing the Bulk job with INVALID_FIELD;
* a new field is synced from the next run on, unless the catalog pins a selection (some field
  explicitly deselected), in which case new fields stay deselected until the user selects them;
* the selection the catalog made for fields that still exist is kept as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tap_salesforce_bulk.schema import ObjectSpec

logger = logging.getLogger(__name__)

Breadcrumb = tuple[str, ...]


def _metadata_by_breadcrumb(entry: Mapping[str, Any]) -> dict[Breadcrumb, dict[str, Any]]:
    return {
        tuple(item.get("breadcrumb", [])): dict(item.get("metadata", {}))
        for item in entry.get("metadata", [])
    }


def is_pinned(metadata: Mapping[Breadcrumb, Mapping[str, Any]]) -> bool:
    """Whether the catalog deselects some field explicitly (a hand-picked selection)."""
    return any(crumb and md.get("selected") is False for crumb, md in metadata.items())


def reconcile_entry(entry: Mapping[str, Any], spec: ObjectSpec) -> dict[str, Any]:
    """One catalog stream with the described schema and the catalog's selections kept."""
    stream = spec.name
    metadata = _metadata_by_breadcrumb(entry)
    old_fields = set(entry.get("schema", {}).get("properties", {}))
    dropped = sorted(old_fields - set(spec.fields))
    added = [name for name in spec.fields if name not in old_fields]
    if dropped:
        logger.warning(
            "%s: the catalog has %s, which Salesforce no longer describes to this user (deleted, "
            "renamed or hidden by field-level security); not syncing them, the target keeps its "
            "columns",
            stream,
            ", ".join(dropped),
        )
    pinned = is_pinned(metadata)
    always = {"Id", spec.replication_key}
    if added and old_fields:
        logger.info(
            "%s: new in Salesforce since the catalog was made: %s (%s)",
            stream,
            ", ".join(added),
            "left deselected: the catalog pins a selection" if pinned else "synced from now on",
        )
    items: list[dict[str, Any]] = [{"breadcrumb": [], "metadata": metadata.get((), {})}]
    for name in spec.fields:
        crumb: Breadcrumb = ("properties", name)
        md = metadata.get(crumb)
        if md is None:
            md = {"inclusion": "automatic" if name in always else "available"}
            if pinned and name not in always:
                md["selected"] = False
        items.append({"breadcrumb": list(crumb), "metadata": md})
    return {**entry, "schema": spec.schema, "metadata": items}


def reconcile_catalog(
    catalog: Mapping[str, Any], specs: Mapping[str, ObjectSpec]
) -> dict[str, Any]:
    """The whole catalog, each described stream reconciled; unknown streams are left as given."""
    streams = [
        reconcile_entry(entry, specs[entry["tap_stream_id"]])
        if entry.get("tap_stream_id") in specs
        else dict(entry)
        for entry in catalog.get("streams", [])
    ]
    return {**catalog, "streams": streams}
