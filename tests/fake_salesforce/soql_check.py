"""Resolve a parsed query against the org and refuse what Salesforce refuses.

Bulk API 2.0 rejects GROUP BY, OFFSET, TYPEOF, aggregate functions, compound fields, FIELDS()
and parent-to-child subqueries ("Create a Query Job",
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_create_job.htm).
All of them fail synchronously at job creation with HTTP 400, as real clients observe (for
example estuary's connector matches "Selecting compound data not supported in Bulk Query" on the
create call). Objects that refuse any plain query answer as ``restricted_objects`` says, and a
json or complexvalue field fails the job (``type_zoo``). Unknown fields and objects use the REST wording: "No such column 'X' on entity 'Y'.
If you are attempting to use a custom field, be sure to append the '__c' ..."
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.fake_salesforce.dataset import ObjectData
from tests.fake_salesforce.errors import SalesforceError
from tests.fake_salesforce.fields import FieldSpec
from tests.fake_salesforce.org import Org
from tests.fake_salesforce.restricted_objects import BULK_UNSUPPORTED, Refusal
from tests.fake_salesforce.soql import parse
from tests.fake_salesforce.soql_ast import (
    BoolOp,
    Comparison,
    Expr,
    FieldRef,
    FunctionCall,
    Literal,
    Not,
    OrderItem,
    Query,
    Unsupported,
    soql_error,
)
from tests.fake_salesforce.type_zoo import CANNOT_SERIALIZE
from tests.fake_salesforce.vocabulary import FieldType

NOT_IN_BULK = "FUNCTIONALITY_NOT_ENABLED"
_KIND_FOR_TYPE = {
    FieldType.DATETIME: ("datetime", "dateTime"),
    FieldType.DATE: ("date", "date"),
    FieldType.BOOLEAN: ("boolean", "boolean"),
}


@dataclass
class CheckedQuery:
    """A query whose object and fields exist and whose WHERE values fit their fields."""

    query: Query
    data: ObjectData | None  # None: an object listed in describe that holds no rows here
    object_name: str
    fields: list[FieldSpec]
    count_only: bool
    order_by: list[tuple[FieldSpec, OrderItem]]
    job_failure: str | None = None  # Bulk: the job is created, then ends Failed with this


def _no_such_column(query: Query, ref: FieldRef, object_name: str) -> SalesforceError:
    return soql_error(
        "INVALID_FIELD",
        query.text,
        ref.column,
        f"No such column '{ref.name}' on entity '{object_name}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your WSDL "
        "or the describe call for the appropriate names.",
    )


def _field(
    query: Query, ref: FieldRef, object_name: str, fields: dict[str, FieldSpec]
) -> FieldSpec:
    spec = fields.get(ref.name.lower())
    if spec is None:
        raise _no_such_column(query, ref, object_name)
    return spec


def check(text: str, org: Org, *, bulk: bool) -> CheckedQuery:
    """Parse and validate; Bulk rules apply when ``bulk``."""
    query = parse(text)
    data = org.object(query.object_name)
    listed = org.unsupported_object(query.object_name)
    if data is None and listed is None:
        raise soql_error(
            "INVALID_TYPE",
            text,
            query.object_column,
            f"sObject type '{query.object_name}' is not supported. If you are attempting to use a custom "
            "object, be sure to append the '__c' after the entity name. Please reference your WSDL or "
            "the describe call for the appropriate names.",
        )
    job_failure: str | None = None
    if data is None:
        assert listed is not None
        refusal = (
            (listed.bulk_refusal or Refusal(400, "INVALIDENTITY", BULK_UNSUPPORTED))
            if bulk
            else listed.rest_refusal
        )
        if refusal is not None and refusal.at_creation:
            message = refusal.message.format(name=listed.name)
            raise SalesforceError(refusal.status, refusal.error_code, message)
        job_failure = refusal.message if refusal is not None else None
    object_name = data.name if data is not None else listed.name  # type: ignore[union-attr]
    specs = data.fields if data is not None else listed.fields  # type: ignore[union-attr]
    by_name = {spec.name.lower(): spec for spec in specs}
    if bulk:
        _refuse_bulk_constructs(query)
    selected: list[FieldSpec] = []
    count_only = False
    for item in query.select:
        if isinstance(item, Unsupported):
            raise soql_error(
                "MALFORMED_QUERY", text, item.column, f"{item.what} is not supported here"
            )
        if isinstance(item, FunctionCall):
            if item.name == "COUNT" and not item.args and len(query.select) == 1:
                count_only = True
                continue
            raise soql_error(
                "MALFORMED_QUERY", text, item.column, f"unsupported function {item.name}()"
            )
        spec = _field(query, item, object_name, by_name)
        if bulk and spec.is_compound:
            raise SalesforceError(
                400, NOT_IN_BULK, "Selecting compound data not supported in Bulk Query"
            )
        if bulk and not spec.type.csv_serializable and job_failure is None:
            job_failure = CANNOT_SERIALIZE.format(field=spec.name)
        if spec in selected:
            raise soql_error(
                "MALFORMED_QUERY", text, item.column, f"duplicate field selected: {item.name}"
            )
        selected.append(spec)
    if query.where is not None:
        _check_where(query, query.where, object_name, by_name)
    order = [(_field(query, item.field, object_name, by_name), item) for item in query.order_by]
    return CheckedQuery(query, data, object_name, selected, count_only, order, job_failure)


def _refuse_bulk_constructs(query: Query) -> None:
    for item in query.select:
        if isinstance(item, Unsupported) and item.what == "subquery":
            raise SalesforceError(
                400, NOT_IN_BULK, "Aggregate Relationships not supported in Bulk Query"
            )
        if isinstance(item, Unsupported):
            raise SalesforceError(400, NOT_IN_BULK, "TYPEOF is not supported in Bulk Query")
        if isinstance(item, FunctionCall) and item.name == "FIELDS":
            raise SalesforceError(400, NOT_IN_BULK, "FIELDS() is not supported in Bulk Query")
        if isinstance(item, FunctionCall):
            raise SalesforceError(
                400, NOT_IN_BULK, "Aggregate queries are not supported in Bulk Query"
            )
    for clause, _column in query.unsupported_clauses:
        if clause in ("GROUP BY", "HAVING", "OFFSET"):
            raise SalesforceError(400, NOT_IN_BULK, f"{clause} is not supported in Bulk Query")


def _check_where(query: Query, expr: Expr, object_name: str, fields: dict[str, FieldSpec]) -> None:
    if isinstance(expr, BoolOp):
        for operand in expr.operands:
            _check_where(query, operand, object_name, fields)
        return
    if isinstance(expr, Not):
        _check_where(query, expr.operand, object_name, fields)
        return
    spec = _field(query, expr.field, object_name, fields)
    if not spec.is_filterable:
        raise soql_error(
            "INVALID_FIELD",
            query.text,
            expr.field.column,
            f"field '{spec.name}' can not be filtered in a query call",
        )
    for literal in expr.values:
        _check_literal(query, spec, expr, literal)


def _check_literal(query: Query, spec: FieldSpec, expr: Comparison, literal: Literal) -> None:
    if literal.kind == "null":
        if expr.op not in ("=", "!=", "IN", "NOT IN"):
            raise soql_error(
                "MALFORMED_QUERY", query.text, literal.column, "unexpected token: 'null'"
            )
        return
    expected, label = _KIND_FOR_TYPE.get(spec.type, ("", ""))
    if expected:
        if literal.kind != expected:
            raise soql_error(
                "INVALID_FIELD",
                query.text,
                literal.column,
                f"value of filter criterion for field '{spec.name}' must be of type {label} and should "
                "not be enclosed in quotes",
            )
        return
    if spec.type.is_numeric:
        if literal.kind != "number":
            raise soql_error(
                "INVALID_FIELD",
                query.text,
                literal.column,
                f"value of filter criterion for field '{spec.name}' must be of type double and should "
                "not be enclosed in quotes",
            )
        return
    if literal.kind != "string":
        raise soql_error(
            "INVALID_FIELD",
            query.text,
            literal.column,
            f"value of filter criterion for field '{spec.name}' must be of type string and should be "
            "enclosed in quotes",
        )
