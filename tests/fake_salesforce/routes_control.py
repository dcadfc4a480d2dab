"""The emulator's own control API under ``/__emulator/`` (JSON in, JSON out, no auth).

It mirrors the Python API so a standalone emulator process can be driven by demos, benchmarks
and subprocess tests: update/insert/delete/purge records, open, commit and roll back
transactions, recalculate formulas, add, remove, hide and show fields, mark an object not
replicateable, advance the clock, expire tokens, set limits, inject faults, read counters and the
truth.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.fake_salesforce import faults
from tests.fake_salesforce.clock import rest_datetime
from tests.fake_salesforce.http_types import Request, Response, json_response

if TYPE_CHECKING:
    from tests.fake_salesforce.emulator import FakeSalesforce


def _body(request: Request) -> dict[str, object]:
    payload = request.json() if request.body else {}
    if not isinstance(payload, dict):
        raise ValueError("control requests take a JSON object")
    return payload


def handle(sf: FakeSalesforce, request: Request) -> Response:
    """Dispatch ``/__emulator/{action}``."""
    action = request.path.removeprefix("/__emulator/").strip("/")
    try:
        body = _body(request) if request.method in ("POST", "PUT") else {}
        return _ACTIONS[(request.method, action)](sf, request, body)
    except KeyError as exc:
        return json_response({"error": f"unknown control action or key: {exc}"}, 404)
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, 400)


def _ids(value: object) -> list[str] | None:
    return [str(v) for v in value] if isinstance(value, list) else None


def _update(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    count = body.get("count")
    fields = body.get("fields")
    ids = sf.update_records(
        str(body["object"]),
        count=int(count) if count is not None else None,  # type: ignore[call-overload]
        ids=_ids(body.get("ids")),
        fields=fields if isinstance(fields, dict) else None,
        system_modstamp=body.get("system_modstamp"),  # type: ignore[arg-type]
        transaction=str(body["transaction"]) if body.get("transaction") else None,
    )
    return json_response({"ids": ids})


def _begin(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    transaction = sf.begin_transaction(body.get("started_at"))  # type: ignore[arg-type]
    return json_response({"transaction": transaction})


def _commit(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"ids": sf.commit_transaction(str(body["transaction"]))})


def _rollback(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.rollback_transaction(str(body["transaction"]))
    return json_response({"rolled_back": True})


def _replicateable(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.set_replicateable(str(body["object"]), bool(body["replicateable"]))
    return json_response({"replicateable": bool(body["replicateable"])})


def _insert(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"ids": sf.insert_records(str(body["object"]), int(body["count"]))})  # type: ignore[call-overload]


def _delete(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    ids = _ids(body.get("ids")) or []
    sf.delete_records(str(body["object"]), ids)
    return json_response({"ids": ids})


def _purge(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response(
        {"ids": sf.purge_records(str(body["object"]), _ids(body.get("ids")) or [])}
    )


def _recalculate(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    count = body.get("count")
    ids = sf.recalculate_formulas(
        str(body["object"]),
        count=int(count) if count is not None else None,  # type: ignore[call-overload]
        ids=_ids(body.get("ids")),
    )
    return json_response({"ids": ids})


def _int(body: dict[str, object], key: str) -> int | None:
    value = body.get(key)
    return None if value is None else int(value)  # type: ignore[call-overload]


def _add_field(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    picklist_values = body.get("picklist_values")
    values = body.get("values")
    label = body.get("label")
    described = sf.add_field(
        str(body["object"]),
        str(body["name"]),
        str(body.get("type", "string")),
        label=str(label) if label is not None else None,
        length=_int(body, "length"),
        precision=_int(body, "precision"),
        scale=_int(body, "scale"),
        picklist_values=[str(v) for v in picklist_values]
        if isinstance(picklist_values, list)
        else None,
        values=values if isinstance(values, list) else None,
    )
    return json_response({"field": described})


def _remove_field(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"removed": sf.remove_field(str(body["object"]), str(body["name"]))})


def _hide_field(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"hidden": sf.hide_field(str(body["object"]), str(body["name"]))})


def _show_field(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"shown": sf.show_field(str(body["object"]), str(body["name"]))})


def _advance(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.advance_clock(float(body["seconds"]))  # type: ignore[arg-type]
    return json_response({"now": rest_datetime(sf.clock.now_ms())})


def _expire(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.expire_tokens()
    return json_response({"expired": True})


def _counters(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response(sf.counters)


def _reset(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.reset_counters()
    return json_response({"reset": True})


def _limits(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    if body:
        sf.set_limit(str(body["name"]), max=body.get("max"), remaining=body.get("remaining"))  # type: ignore[arg-type]
    return json_response(sf.limits.as_json())


def _inject(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    fault = sf.inject(faults.from_json(body))
    return json_response({"injected": type(fault).__name__})


def _clear(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    sf.faults.clear()
    return json_response({"cleared": True})


def _credentials(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    return json_response({"url": sf.url, "credentials": sf.credentials.as_json()})


def _truth(sf: FakeSalesforce, request: Request, body: dict[str, object]) -> Response:
    include = request.params.get("include_deleted", "false").lower() == "true"
    rows = sf.truth(request.params.get("object", "Contact"), include_deleted=include)
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    return Response(200, lines.encode(), "application/x-ndjson")


_ACTIONS = {
    ("POST", "update_records"): _update,
    ("POST", "insert_records"): _insert,
    ("POST", "begin_transaction"): _begin,
    ("POST", "commit_transaction"): _commit,
    ("POST", "rollback_transaction"): _rollback,
    ("POST", "set_replicateable"): _replicateable,
    ("POST", "delete_records"): _delete,
    ("POST", "purge_records"): _purge,
    ("POST", "recalculate_formulas"): _recalculate,
    ("POST", "add_field"): _add_field,
    ("POST", "remove_field"): _remove_field,
    ("POST", "hide_field"): _hide_field,
    ("POST", "show_field"): _show_field,
    ("POST", "advance_clock"): _advance,
    ("POST", "expire_tokens"): _expire,
    ("GET", "counters"): _counters,
    ("POST", "reset_counters"): _reset,
    ("GET", "limits"): _limits,
    ("POST", "limits"): _limits,
    ("POST", "faults"): _inject,
    ("DELETE", "faults"): _clear,
    ("GET", "credentials"): _credentials,
    ("GET", "truth"): _truth,
}
