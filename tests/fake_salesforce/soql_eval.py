"""Evaluate a checked query against a snapshot: which rows match, in which order.

SystemModstamp conditions at the top level of WHERE become a row range found by bisection (base
stamps never decrease with the row number), so the common incremental query renders nothing to
decide what matches. Remaining conditions are compiled to Python closures over typed values.
SOQL semantics kept: ``!=``/``NOT IN`` are true for null values, string equality and LIKE are
case-insensitive, nulls sort first ascending and last descending unless NULLS FIRST/LAST says
otherwise.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fake_salesforce.dataset import ObjectData, OverlayRow, Snapshot
from tests.fake_salesforce.soql_ast import BoolOp, Comparison, Expr, Not
from tests.fake_salesforce.soql_check import CheckedQuery
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType, Operation

BasePredicate = Callable[[int], bool]
ChangePredicate = Callable[[int, OverlayRow], bool]
_RANGE_OPS = (">", ">=", "<", "<=", "=")


@dataclass(frozen=True)
class Compiled:
    """A WHERE clause as two predicates: for generated rows and for changed rows."""

    base: BasePredicate
    change: ChangePredicate


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    k = 0
    while k < len(pattern):
        char = pattern[k]
        if char == "\\" and k + 1 < len(pattern):
            out.append(re.escape(pattern[k + 1]))
            k += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        k += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _test(ftype: FieldType, op: str, literals: tuple[object, ...]) -> Callable[[Typed], bool]:
    """A test of one typed value against the comparison's literal(s)."""
    text = ftype.is_text

    def fold(value: object) -> object:
        return value.casefold() if text and isinstance(value, str) else value

    values = [fold(v) for v in literals]
    first = values[0] if values else None
    if op == "LIKE":
        regex = _like_regex(str(literals[0]))
        return lambda v: v is not None and regex.fullmatch(str(v)) is not None
    if op in ("INCLUDES", "EXCLUDES"):
        wanted = [set(str(fold(str(item))).split(";")) for item in literals]

        def includes(v: Typed) -> bool:
            present = set(str(fold(str(v))).split(";")) if v is not None else set()
            return any(group <= present for group in wanted)

        return includes if op == "INCLUDES" else (lambda v: not includes(v))
    if op in ("IN", "NOT IN"):
        members = set(values)
        if op == "IN":
            return lambda v: fold(v) in members
        return lambda v: fold(v) not in members
    if first is None:
        return (lambda v: v is None) if op == "=" else (lambda v: v is not None)
    compare: dict[str, Callable[[Typed], bool]] = {
        "=": lambda v: v is not None and fold(v) == first,
        "!=": lambda v: v is None or fold(v) != first,
        "<": lambda v: v is not None and v < first,  # type: ignore[operator]
        "<=": lambda v: v is not None and v <= first,  # type: ignore[operator]
        ">": lambda v: v is not None and v > first,  # type: ignore[operator]
        ">=": lambda v: v is not None and v >= first,  # type: ignore[operator]
    }
    return compare[op]


def base_getter(data: ObjectData, name: str) -> Callable[[int], Typed]:
    """A fast ``row -> typed value`` for generated rows."""
    group = data.group_of.get(name)
    if group is not None:
        values, mult, off, size = group.typed[name], group.multiplier, group.offset, group.size
        return lambda row: values[(row * mult + off) % size]
    return lambda row: data.base_typed(name, row)


def compile_where(checked: CheckedQuery, expr: Expr) -> Compiled:
    """Compile a WHERE expression for ``checked.data``."""
    data = checked.data
    assert data is not None
    if isinstance(expr, BoolOp):
        parts = [compile_where(checked, operand) for operand in expr.operands]
        if expr.op == "AND":
            return Compiled(
                lambda r: all(p.base(r) for p in parts),
                lambda r, c: all(p.change(r, c) for p in parts),
            )
        return Compiled(
            lambda r: any(p.base(r) for p in parts), lambda r, c: any(p.change(r, c) for p in parts)
        )
    if isinstance(expr, Not):
        inner = compile_where(checked, expr.operand)
        return Compiled(lambda r: not inner.base(r), lambda r, c: not inner.change(r, c))
    assert isinstance(expr, Comparison)
    # Validated when the job was created; the field may have been hidden or deleted since.
    spec = data.known_field(expr.field.name)
    assert spec is not None
    literals = tuple(literal.value for literal in expr.values)
    if spec.type.is_numeric:
        literals = tuple(
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for v in literals
        )
    test = _test(spec.type, expr.op, literals)
    get = base_getter(data, spec.name)
    name = spec.name
    return Compiled(lambda r: test(get(r)), lambda r, c: test(data.typed(name, r, c)))


def modstamp_rows(checked: CheckedQuery) -> tuple[int, int, bool]:
    """Row range of generated rows allowed by top-level SystemModstamp conditions.

    Returns ``(start, stop, exact)``; ``exact`` means the range alone decides the WHERE clause.
    """
    data = checked.data
    assert data is not None
    where = checked.query.where
    start, stop = 0, data.base_rows
    if where is None:
        return start, stop, True
    conjuncts = where.operands if isinstance(where, BoolOp) and where.op == "AND" else (where,)
    exact = True
    stamps = data.stamps
    for conjunct in conjuncts:
        if not (
            isinstance(conjunct, Comparison)
            and conjunct.field.name.lower() == "systemmodstamp"
            and conjunct.op in _RANGE_OPS
            and conjunct.values[0].kind == "datetime"
        ):
            exact = False
            continue
        moment = conjunct.values[0].value
        assert isinstance(moment, int)
        if conjunct.op in (">=", "="):
            start = max(start, stamps.rows_at_or_after(moment))
        if conjunct.op == ">":
            start = max(start, stamps.rows_after(moment))
        if conjunct.op in ("<=", "="):
            stop = min(stop, stamps.rows_after(moment))
        if conjunct.op == "<":
            stop = min(stop, stamps.rows_at_or_after(moment))
    return start, max(start, stop), exact


def matching_rows(checked: CheckedQuery, snap: Snapshot, operation: Operation) -> array[int]:
    """Row numbers matching the query in ``snap`` (unordered; ORDER BY/LIMIT not applied)."""
    data = checked.data
    out: array[int] = array("i")
    if data is None:
        return out
    include_deleted = operation is Operation.QUERY_ALL
    compiled = compile_where(checked, checked.query.where) if checked.query.where else None
    start, stop, exact = modstamp_rows(checked)
    overlay = snap.overlay
    stop = min(stop, snap.total_rows, data.base_rows)
    seed = data.seed
    from tests.fake_salesforce.dataset import DELETED_MODULUS, DELETED_MULTIPLIER

    predicate = None if exact or compiled is None else compiled.base
    if predicate is None and include_deleted:
        out.extend(r for r in range(start, stop) if r not in overlay)
    elif predicate is None:
        out.extend(
            r
            for r in range(start, stop)
            if (r * DELETED_MULTIPLIER + seed) % DELETED_MODULUS and r not in overlay
        )
    else:
        out.extend(
            r
            for r in range(start, stop)
            if r not in overlay
            and (include_deleted or (r * DELETED_MULTIPLIER + seed) % DELETED_MODULUS)
            and predicate(r)
        )
    # query() leaves archived Task and Event rows out; only queryAll returns them.
    # https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_queryall.htm
    archived = (
        base_getter(data, "IsArchived")
        if not include_deleted and data.known_field("IsArchived") is not None
        else None
    )
    if archived is not None:
        out = array("i", (r for r in out if not archived(r)))
    for row in sorted(overlay):
        change = overlay[row]
        if row >= snap.total_rows or change.purged or (change.deleted and not include_deleted):
            continue
        if archived is not None and data.typed("IsArchived", row, change):
            continue
        if compiled is None or compiled.change(row, change):
            out.append(row)
    return out


def order_rows(checked: CheckedQuery, snap: Snapshot, rows: array[int]) -> list[int]:
    """Apply ORDER BY (stable, multi-key, SOQL null placement)."""
    data = checked.data
    assert data is not None
    ordered = list(rows)
    for spec, item in reversed(checked.order_by):
        get = base_getter(data, spec.name)
        overlay = snap.overlay

        def value(
            row: int,
            name: str = spec.name,
            get: Callable[[int], Typed] = get,
            overlay: Mapping[int, OverlayRow] = overlay,
        ) -> Typed:
            change = overlay.get(row)
            return get(row) if change is None else data.typed(name, row, change)

        present = [r for r in ordered if value(r) is not None]
        absent = [r for r in ordered if value(r) is None]
        present.sort(key=lambda r, v=value: _sort_key(v(r)), reverse=item.descending)  # type: ignore[misc]
        ordered = absent + present if item.nulls_first else present + absent
    return ordered


def _sort_key(value: Typed) -> Any:
    return value.casefold() if isinstance(value, str) else value
