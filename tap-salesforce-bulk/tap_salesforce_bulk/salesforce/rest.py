"""The REST resources the tap reads besides Bulk jobs: describe, small queries, counts, identity.

https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
"""

from __future__ import annotations

from typing import Any

import requests

from tap_salesforce_bulk.salesforce.client import SalesforceClient
from tap_salesforce_bulk.salesforce.errors import SalesforceError

# A REST query names its fields in the URL. Salesforce refuses more than 16,384 bytes of URI and
# headers (414/431) and advises far less; proxies often stop at 8 KB request lines. Samples keep
# their URI within this. https://help.salesforce.com/s/articleView?id=000386264&type=1
QUERY_URI_MAX_BYTES = 8_000


def describe_global(client: SalesforceClient) -> list[dict[str, Any]]:
    """``GET sobjects``: one entry per object (name, queryable, retrieveable, ...)."""
    listing = client.get_json("sobjects").get("sobjects", [])
    return [entry for entry in listing if isinstance(entry, dict)]


def describe_sobject(client: SalesforceClient, name: str) -> dict[str, Any]:
    """``GET sobjects/{name}/describe``: the object's fields and properties."""
    return dict(client.get_json(f"sobjects/{name}/describe"))


def query_records(
    client: SalesforceClient, soql: str, *, query_all: bool = False
) -> list[dict[str, Any]]:
    """The first batch of a REST ``query`` (or ``queryAll``: deleted and archived rows too; up to
    2,000 rows): only for small, bounded queries.
    https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm
    """
    resource = "queryAll" if query_all else "query"
    records = client.get_json(resource, {"q": soql}).get("records", [])
    return [record for record in records if isinstance(record, dict)]


def record_counts(client: SalesforceClient, names: list[str]) -> dict[str, int]:
    """Approximate counts from ``limits/recordCount`` (one call for every object)."""
    if not names:
        return {}
    body = client.get_json("limits/recordCount", {"sObjects": ",".join(names)})
    return {
        str(entry.get("name")): int(entry.get("count", 0))
        for entry in body.get("sObjects", [])
        if isinstance(entry, dict)
    }


def identity(client: SalesforceClient, identity_url: str | None) -> dict[str, Any]:
    """The logged-in user's identity (username, user and org ids); empty when unavailable."""
    if not identity_url:
        return {}
    try:
        body = client.get_json(identity_url)
    except SalesforceError:
        return {}
    return body if isinstance(body, dict) else {}


def query_total_size(client: SalesforceClient, soql: str) -> int:
    """``totalSize`` of a REST query (``SELECT COUNT() FROM X`` counts without reading rows)."""
    return int(client.get_json("query", {"q": soql}).get("totalSize", 0))


def query_uri_bytes(client: SalesforceClient, soql: str) -> int:
    """Bytes of the request-target (path and query string) a REST query for ``soql`` sends."""
    prepared = requests.Request("GET", client.url("query"), params={"q": soql}).prepare()
    return len(prepared.path_url.encode())
