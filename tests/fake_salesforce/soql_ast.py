"""The SOQL syntax tree produced by ``soql.parse``, and Salesforce's SOQL error message format."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fake_salesforce.errors import SalesforceError


@dataclass(frozen=True)
class Token:
    """A lexeme and its 1-based column."""

    kind: str
    text: str
    column: int

    @property
    def upper(self) -> str:
        """Keyword comparison form."""
        return self.text.upper()


@dataclass(frozen=True)
class Literal:
    """A WHERE value. ``kind``: string, number, datetime, date, boolean, null."""

    kind: str
    value: object
    column: int


@dataclass(frozen=True)
class FieldRef:
    """A field name as written, with its column."""

    name: str
    column: int


@dataclass(frozen=True)
class FunctionCall:
    """COUNT(), SUM(x), FIELDS(ALL), ... in the select list."""

    name: str
    args: tuple[str, ...]
    column: int


@dataclass(frozen=True)
class Unsupported:
    """A select-list item only recognised (subquery, TYPEOF)."""

    what: str
    column: int


@dataclass(frozen=True)
class Comparison:
    """``field op value`` (``values`` for IN / NOT IN / INCLUDES / EXCLUDES)."""

    field: FieldRef
    op: str
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class BoolOp:
    """AND / OR over operands."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """NOT operand."""

    operand: Expr


Expr = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderItem:
    """One ORDER BY key."""

    field: FieldRef
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    """A parsed SOQL statement."""

    text: str
    select: list[FieldRef | FunctionCall | Unsupported]
    object_name: str
    object_column: int
    where: Expr | None = None
    order_by: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    unsupported_clauses: list[tuple[str, int]] = field(default_factory=list)


def soql_error(
    code: str, query: str, column: int, detail: str, status: int = 400
) -> SalesforceError:
    """An error whose message points at the column, as Salesforce formats SOQL errors."""
    pointer = " " * max(0, column - 1) + "^"
    return SalesforceError(
        status, code, f"\n{query}\n{pointer}\nERROR at Row:1:Column:{column}\n{detail}"
    )
