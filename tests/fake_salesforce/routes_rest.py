"""REST routes: versions, resources, limits, record counts, describes, SOQL query, getDeleted,
getUpdated, identity, plus the OAuth token endpoint and SOAP login.

Query results use REST's JSON shape (``totalSize``, ``done``, ``records`` with ``attributes``,
``nextRecordsUrl`` when more than a batch of 2,000 remains;
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.fake_salesforce import replication, soap
from tests.fake_salesforce.auth import form_params
from tests.fake_salesforce.dataset import Snapshot
from tests.fake_salesforce.describe import describe_global, describe_object
from tests.fake_salesforce.errors import OAuthError, SalesforceError, not_found
from tests.fake_salesforce.http_types import XML_TYPE, Request, Response, json_response
from tests.fake_salesforce.ids import KEY_PREFIXES, make_id
from tests.fake_salesforce.soql_check import CheckedQuery, check
from tests.fake_salesforce.soql_eval import matching_rows, order_rows
from tests.fake_salesforce.values import json_value
from tests.fake_salesforce.vocabulary import (
    MAX_API_VERSION,
    MIN_API_VERSION,
    SOAP_LOGIN_LAST_VERSION,
    Operation,
    release_label,
)

if TYPE_CHECKING:
    from tests.fake_salesforce.emulator import FakeSalesforce

QUERY_BATCH_SIZE = 2_000
MIN_QUERY_BATCH_SIZE = 200
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)")


@dataclass
class Cursor:
    """A REST query whose records did not fit in one batch."""

    checked: CheckedQuery
    snapshot: Snapshot
    rows: list[int]
    version: str
    batch: int


class Cursors:
    """Open REST query cursors, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: dict[str, Cursor] = {}
        self._sequence = 0

    def add(self, cursor: Cursor) -> str:
        """Store a cursor; returns its id."""
        with self._lock:
            self._sequence += 1
            cursor_id = make_id(KEY_PREFIXES["QueryLocator"], self._sequence)
            self._cursors[cursor_id] = cursor
            return cursor_id

    def get(self, cursor_id: str) -> Cursor | None:
        """A stored cursor."""
        with self._lock:
            return self._cursors.get(cursor_id)


def versions(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /services/data/``: every served API version."""
    return json_response(
        [
            {"label": release_label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(MIN_API_VERSION, MAX_API_VERSION + 1)
        ]
    )


def resources(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /services/data/vXX.X/``: the resource directory."""
    base = f"/services/data/v{request.version}"
    names = ("limits", "sobjects", "query", "queryAll", "jobs")
    return json_response(
        {name: f"{base}/{name}" for name in names} | {"identity": sf.oauth.identity_url}
    )


def _require_view_setup(sf: FakeSalesforce) -> None:
    """/limits and /limits/recordCount are "for API users with the View Setup and Configuration
    permission"; the refusal's code and words are not documented (403 INSUFFICIENT_ACCESS here)."""
    if not sf.view_setup_permission:
        raise SalesforceError(
            403,
            "INSUFFICIENT_ACCESS",
            "The request has been refused: this resource needs the View Setup and Configuration "
            "permission",
        )


def limits(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /limits``."""
    _require_view_setup(sf)
    return json_response(sf.limits.as_json())


def record_count(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /limits/recordCount?sObjects=A,B``: approximate counts (here exact, live rows)."""
    _require_view_setup(sf)
    wanted = [name for name in request.params.get("sObjects", "").split(",") if name]
    counts = []
    for name in wanted or list(sf.org.objects):
        data = sf.org.object(name)
        if data is None:
            continue
        snap = data.snapshot(0)
        deleted = sum(
            1 for row in range(data.base_rows) if row not in snap.overlay and data.base_deleted(row)
        )
        deleted += sum(1 for change in snap.overlay.values() if change.deleted)  # purged too
        counts.append({"count": snap.total_rows - deleted, "name": data.name})
    return json_response({"sObjects": counts})


def sobjects(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /sobjects`` (global describe)."""
    assert request.version is not None
    return json_response(describe_global(sf.org, request.version))


def sobject_describe(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /sobjects/{name}/describe``."""
    assert request.version is not None
    body = describe_object(sf.org, request.parts[1], request.version)
    if body is None:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    return json_response(body)


def deleted(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /sobjects/{name}/deleted/?start=&end=`` (see ``replication``)."""
    name = request.parts[1]
    data = sf.org.object(name)
    if data is None and sf.org.unsupported_object(name) is None:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    start = replication.parse_instant("start", request.params.get("start"))
    end = replication.parse_instant("end", request.params.get("end"))
    now = sf.clock.now_ms()
    snapshot = data.snapshot(now) if data is not None else Snapshot(0, {}, now)
    return json_response(replication.get_deleted(data, snapshot, start, end, now))


def updated(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /sobjects/{name}/updated/?start=&end=`` (see ``replication``)."""
    name = request.parts[1]
    data = sf.org.object(name)
    unsupported = sf.org.unsupported_object(name)
    if data is None and unsupported is None:
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
    canonical = data.name if data is not None else str(unsupported.name)  # type: ignore[union-attr]
    if not sf.org.replicateable(canonical):
        raise SalesforceError(
            400,
            "INVALID_TYPE_FOR_OPERATION",
            f"entity type {canonical} does not support replication",
        )
    start = replication.parse_instant("start", request.params.get("start"))
    end = replication.parse_instant("end", request.params.get("end"))
    now = sf.clock.now_ms()
    oldest_open = sf.transactions.oldest_start_ms()  # read before the snapshot: never too late
    snapshot = data.snapshot(now) if data is not None else Snapshot(0, {}, now)
    body = replication.get_updated(data, snapshot, start, end, now, oldest_open_ms=oldest_open)
    return json_response(body)


def _batch_size(request: Request) -> int:
    match = _BATCH_OPTION.search(request.headers.get("Sforce-Query-Options", ""))
    if match is None:
        return QUERY_BATCH_SIZE
    return max(MIN_QUERY_BATCH_SIZE, min(QUERY_BATCH_SIZE, int(match.group(1))))


def _records(cursor: Cursor, start: int, stop: int) -> list[dict[str, object]]:
    data = cursor.checked.data
    assert data is not None
    out = []
    for row in cursor.rows[start:stop]:
        change = cursor.snapshot.overlay.get(row)
        record_id = data.ids.id_of(row)
        record: dict[str, object] = {
            "attributes": {
                "type": data.name,
                "url": f"/services/data/v{cursor.version}/sobjects/{data.name}/{record_id}",
            }
        }
        for spec in cursor.checked.fields:
            value = (
                data.compound(spec, row, change)
                if spec.is_compound
                else data.typed(spec.name, row, change)
            )
            record[spec.name] = json_value(spec.type, value)
        out.append(record)
    return out


def _page(sf: FakeSalesforce, cursor: Cursor, cursor_id: str | None, start: int) -> Response:
    stop = min(len(cursor.rows), start + cursor.batch)
    body: dict[str, object] = {
        "totalSize": len(cursor.rows),
        "done": stop >= len(cursor.rows),
        "records": _records(cursor, start, stop),
    }
    if stop < len(cursor.rows):
        cursor_id = cursor_id or sf.cursors.add(cursor)
        body["nextRecordsUrl"] = f"/services/data/v{cursor.version}/query/{cursor_id}-{stop}"
    return json_response(body)


def query(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /query?q=`` and ``/queryAll?q=``, and ``GET /query/{cursor}-{offset}``."""
    assert request.version is not None
    if len(request.parts) == 2:
        cursor_id, _, offset = request.parts[1].rpartition("-")
        cursor = sf.cursors.get(cursor_id)
        if cursor is None or not offset.isdigit():
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return _page(sf, cursor, cursor_id, int(offset))
    soql = request.params.get("q")
    if soql is None:
        raise SalesforceError(400, "MALFORMED_QUERY", "The q parameter is required")
    checked = check(soql, sf.org, bulk=False)
    operation = Operation.QUERY_ALL if request.parts[0] == "queryAll" else Operation.QUERY
    data = checked.data
    snapshot = data.snapshot(sf.clock.now_ms()) if data is not None else Snapshot(0, {}, 0)
    matched = matching_rows(checked, snapshot, operation)
    rows = order_rows(checked, snapshot, matched) if checked.order_by else list(matched)
    if checked.query.limit is not None:
        rows = rows[: checked.query.limit]
    if checked.count_only:
        return json_response({"totalSize": len(rows), "done": True, "records": []})
    cursor = Cursor(checked, snapshot, rows, request.version, _batch_size(request))
    return _page(sf, cursor, None, 0)


def identity(sf: FakeSalesforce, request: Request) -> Response:
    """``GET /id/{orgId}/{userId}``: who the token belongs to."""
    org_id, user_id = request.parts[0], request.parts[1]
    if org_id != sf.org.org_id or user_id != sf.org.integration_user_id:
        raise not_found()
    base = sf.url
    version_base = f"{base}/services/data/v{{version}}"
    return json_response(
        {
            "id": sf.oauth.identity_url,
            "asserted_user": True,
            "user_id": user_id,
            "organization_id": org_id,
            "username": sf.credentials.username,
            "nick_name": "integration",
            "display_name": "Integration User",
            "email": "integration@example-health.org",
            "email_verified": True,
            "first_name": "Integration",
            "last_name": "User",
            "timezone": "America/Los_Angeles",
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -28_800_000,
            "urls": {
                "enterprise": f"{base}/services/Soap/c/{{version}}/{org_id[:15]}",
                "metadata": f"{base}/services/Soap/m/{{version}}/{org_id[:15]}",
                "partner": f"{base}/services/Soap/u/{{version}}/{org_id[:15]}",
                "rest": f"{version_base}/",
                "sobjects": f"{version_base}/sobjects/",
                "search": f"{version_base}/search/",
                "query": f"{version_base}/query/",
                "recent": f"{version_base}/recent/",
                "profile": f"{base}/{user_id}",
            },
        }
    )


def token(sf: FakeSalesforce, request: Request) -> Response:
    """``POST /services/oauth2/token``: OAuth 2.0 grants (errors as OAuth JSON)."""
    query_string = "&".join(f"{k}={v}" for k, v in request.params.items())
    # Every attempt counts under the grant it asked for, refused or not (lockout tests).
    asked = form_params(request.body, query_string).get("grant_type") or "invalid"
    sf.counter_store.count_auth(
        {"urn:ietf:params:oauth:grant-type:jwt-bearer": "jwt_bearer"}.get(asked, asked)
    )
    try:
        _, body = sf.oauth.grant(
            request.body,
            query_string,
            request.headers.get("Authorization"),
            request.headers.get("Host"),
        )
    except OAuthError as exc:
        return Response(exc.status, exc.body())
    return json_response(body)


def soap_login(sf: FakeSalesforce, request: Request) -> Response:
    """``POST /services/Soap/u/{version}``: partner login()."""
    sf.counter_store.count_auth("soap_login")
    version = request.parts[0] if request.parts else ""
    number = version.removesuffix(".0")
    if (
        not re.fullmatch(r"\d+\.0", version)
        or not MIN_API_VERSION <= int(number) <= MAX_API_VERSION
    ):
        body = soap.fault("UNSUPPORTED_API_VERSION", "Invalid Api version specified on URL")
        return Response(500, body, XML_TYPE)
    if int(number) > SOAP_LOGIN_LAST_VERSION:
        body = soap.fault(
            "INVALID_OPERATION",
            f"SOAP API login() is not supported in API version {version} and later. "
            "Use OAuth 2.0 with an external client app.",
        )
        return Response(500, body, XML_TYPE)
    if not sf.soap_login_enabled:
        body = soap.fault(
            "INVALID_OPERATION",
            "SOAP API login() is disabled by default in this org. "
            "Contact the org administrator to enable SOAP API login().",
        )
        return Response(500, body, XML_TYPE)
    login = soap.parse_login(request.body)
    if login is None:
        return Response(
            500, soap.fault("INVALID_XML", "The request is not a login() envelope"), XML_TYPE
        )
    creds = sf.credentials
    if (
        login.username == creds.username
        and creds.security_token
        and login.password == creds.password
    ):
        # Right password from an IP outside the org's trusted ranges, without the token.
        return Response(500, soap.must_use_security_token(), XML_TYPE)
    if login.username != creds.username or login.password != creds.password + creds.security_token:
        return Response(500, soap.invalid_login(), XML_TYPE)
    session = sf.tokens.issue()
    body = soap.login_response(
        sf.url, version, session, sf.org.org_id, sf.org.integration_user_id, creds.username
    )
    return Response(200, body, XML_TYPE)
