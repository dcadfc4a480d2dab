"""A SOQL subset: lexer and parser producing a small AST, with Salesforce-style error messages.

Covers ``SELECT <fields> FROM <object> [WHERE ...] [ORDER BY ...] [LIMIT n]``; WHERE supports
AND/OR/NOT, parentheses, = != <> < <= > >=, IN / NOT IN, LIKE, INCLUDES/EXCLUDES, and literals
(quoted strings with backslash escapes, numbers, true/false, null, date and datetime literals,
https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_comparisonoperators.htm).
Constructs Bulk API 2.0 rejects (aggregates, GROUP BY, OFFSET, TYPEOF, subqueries, FIELDS()) are
parsed far enough to be recognised, so validation can refuse them with the right error.
"""

from __future__ import annotations

import re

from tests.fake_salesforce.clock import parse_date_literal, parse_datetime_literal
from tests.fake_salesforce.errors import SalesforceError
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
    Token,
    Unsupported,
    soql_error,
)

KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "INCLUDES",
    "EXCLUDES",
    "NULL",
    "TRUE",
    "FALSE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "GROUP",
    "HAVING",
    "TYPEOF",
    "WITH",
    "FOR",
    "USING",
}
COMPARISON_OPS = ("=", "!=", "<>", "<=", ">=", "<", ">")
AGGREGATES = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"}
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
    "_": "\\_",
    "%": "\\%",
}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      |(?P<string>'(?:[^'\\]|\\.)*')
      |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))
      |(?P<date>\d{4}-\d{2}-\d{2}(?![\d:T]))
      |(?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))
      |(?P<op>!=|<>|<=|>=|=|<|>)
      |(?P<punct>[(),:])
      |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split SOQL into tokens; unknown characters are MALFORMED_QUERY."""
    tokens: list[Token] = []
    position = 0
    flat = text.replace("\r", " ").replace("\n", " ")
    while position < len(flat):
        match = _TOKEN.match(flat, position)
        if match is None:
            raise soql_error(
                "MALFORMED_QUERY", text, position + 1, f"unexpected token: '{flat[position]}'"
            )
        kind = match.lastgroup or "ws"
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(flat) + 1))
    return tokens


def unescape(raw: str, query: str, column: int) -> str:
    """The value of a quoted SOQL string (backslash escapes as SOQL defines them)."""
    body = raw[1:-1]
    out = []
    k = 0
    while k < len(body):
        char = body[k]
        if char == "\\":
            if k + 1 >= len(body) or body[k + 1] not in _ESCAPES:
                raise soql_error(
                    "MALFORMED_QUERY", query, column + k + 1, "Invalid string literal: bad escape"
                )
            out.append(_ESCAPES[body[k + 1]])
            k += 2
            continue
        out.append(char)
        k += 1
    return "".join(out)


class Parser:
    """Recursive-descent parser over ``tokenize`` output."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> Token:
        """Look ahead without consuming."""
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        """Consume one token."""
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, token: Token | None = None) -> SalesforceError:
        """MALFORMED_QUERY at ``token``."""
        token = token or self.peek()
        return soql_error(
            "MALFORMED_QUERY", self.text, token.column, f"unexpected token: '{token.text}'"
        )

    def keyword(self, word: str) -> bool:
        """Consume ``word`` if it is next."""
        if self.peek().kind == "ident" and self.peek().upper == word:
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word: str) -> Token:
        """Consume ``word`` or fail."""
        token = self.peek()
        if not self.keyword(word):
            raise self.fail(token)
        return token

    def expect_punct(self, char: str) -> None:
        """Consume punctuation ``char`` or fail."""
        token = self.next()
        if token.text != char:
            raise self.fail(token)

    def parse(self) -> Query:
        """Parse a whole statement."""
        self.expect_keyword("SELECT")
        select = self.select_list()
        self.expect_keyword("FROM")
        obj = self.next()
        if obj.kind != "ident" or obj.upper in KEYWORDS:
            raise self.fail(obj)
        query = Query(self.text, select, obj.text, obj.column)
        if self.keyword("USING"):
            query.unsupported_clauses.append(("USING SCOPE", obj.column))
            self.expect_keyword("SCOPE")
            self.next()
        if self.keyword("WHERE"):
            query.where = self.expression()
        while self.peek().kind != "eof":
            token = self.peek()
            if self.keyword("GROUP"):
                self.expect_keyword("BY")
                query.unsupported_clauses.append(("GROUP BY", token.column))
                self.skip_list()
            elif self.keyword("HAVING"):
                query.unsupported_clauses.append(("HAVING", token.column))
                self.expression()
            elif self.keyword("ORDER"):
                self.expect_keyword("BY")
                query.order_by = self.order_list()
            elif self.keyword("LIMIT"):
                query.limit = self.integer()
            elif self.keyword("OFFSET"):
                query.unsupported_clauses.append(("OFFSET", token.column))
                self.integer()
            elif self.keyword("FOR") or self.keyword("WITH"):
                query.unsupported_clauses.append((token.upper, token.column))
                self.next()
            else:
                raise self.fail(token)
        return query

    def integer(self) -> int:
        """A non-negative integer literal."""
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail(token)
        return int(token.text)

    def skip_list(self) -> None:
        """Consume a comma-separated list of field names (GROUP BY)."""
        while True:
            token = self.next()
            if token.kind != "ident":
                raise self.fail(token)
            if self.peek().text != ",":
                return
            self.next()

    def select_list(self) -> list[FieldRef | FunctionCall | Unsupported]:
        """The comma-separated select items."""
        items: list[FieldRef | FunctionCall | Unsupported] = []
        while True:
            token = self.peek()
            if token.text == "(":
                items.append(Unsupported("subquery", token.column))
                self.skip_parenthesised()
            elif token.kind == "ident" and token.upper == "TYPEOF":
                items.append(Unsupported("TYPEOF", token.column))
                while not self.keyword("END"):
                    if self.next().kind == "eof":
                        raise self.fail()
            elif token.kind == "ident" and token.upper not in KEYWORDS:
                self.next()
                if self.peek().text == "(":
                    self.next()
                    args = []
                    while self.peek().text != ")":
                        arg = self.next()
                        if arg.kind == "eof":
                            raise self.fail(arg)
                        if arg.text != ",":
                            args.append(arg.text)
                    self.next()
                    items.append(FunctionCall(token.upper, tuple(args), token.column))
                    if self.peek().kind == "ident" and self.peek().upper not in KEYWORDS:
                        self.next()  # alias
                else:
                    items.append(FieldRef(token.text, token.column))
            else:
                raise self.fail(token)
            if self.peek().text != ",":
                return items
            self.next()

    def skip_parenthesised(self) -> None:
        """Consume a balanced ``( ... )``."""
        depth = 0
        while True:
            token = self.next()
            if token.kind == "eof":
                raise self.fail(token)
            depth += {"(": 1, ")": -1}.get(token.text, 0)
            if depth == 0:
                return

    def order_list(self) -> list[OrderItem]:
        """ORDER BY keys; SOQL's default is NULLS FIRST for ASC, NULLS LAST for DESC."""
        items = []
        while True:
            token = self.next()
            if token.kind != "ident" or token.upper in KEYWORDS:
                raise self.fail(token)
            descending = False
            if self.keyword("DESC"):
                descending = True
            else:
                self.keyword("ASC")
            nulls_first = not descending
            if self.keyword("NULLS"):
                if self.keyword("FIRST"):
                    nulls_first = True
                else:
                    self.expect_keyword("LAST")
                    nulls_first = False
            items.append(OrderItem(FieldRef(token.text, token.column), descending, nulls_first))
            if self.peek().text != ",":
                return items
            self.next()

    def expression(self) -> Expr:
        """OR has the lowest precedence."""
        operands = [self.conjunction()]
        while self.keyword("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))

    def conjunction(self) -> Expr:
        """AND binds tighter than OR."""
        operands = [self.factor()]
        while self.keyword("AND"):
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def factor(self) -> Expr:
        """NOT, a parenthesised expression, or a comparison."""
        if self.keyword("NOT"):
            return Not(self.factor())
        if self.peek().text == "(":
            self.next()
            inner = self.expression()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        """``field op literal`` or a set operator with a parenthesised list."""
        name = self.next()
        if name.kind != "ident" or name.upper in KEYWORDS:
            raise self.fail(name)
        ref = FieldRef(name.text, name.column)
        token = self.peek()
        if token.kind == "op":
            self.next()
            op = "!=" if token.text == "<>" else token.text
            return Comparison(ref, op, (self.literal(),))
        if self.keyword("LIKE"):
            return Comparison(ref, "LIKE", (self.literal(),))
        negated = self.keyword("NOT")
        for word in ("IN", "INCLUDES", "EXCLUDES"):
            if self.keyword(word):
                if negated and word != "IN":
                    raise self.fail(token)
                return Comparison(ref, ("NOT " if negated else "") + word, self.literal_list())
        raise self.fail(self.peek())

    def literal_list(self) -> tuple[Literal, ...]:
        """``( literal, literal, ... )``."""
        self.expect_punct("(")
        values = [self.literal()]
        while self.peek().text == ",":
            self.next()
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        """One WHERE value."""
        token = self.next()
        if token.kind == "string":
            return Literal("string", unescape(token.text, self.text, token.column), token.column)
        if token.kind == "number":
            return Literal("number", float(token.text), token.column)
        if token.kind == "datetime":
            value = parse_datetime_literal(token.text)
            if value is None:
                raise self.fail(token)
            return Literal("datetime", value, token.column)
        if token.kind == "date":
            day = parse_date_literal(token.text)
            if day is None:
                raise self.fail(token)
            return Literal("date", day, token.column)
        if token.kind == "ident" and token.upper in ("TRUE", "FALSE"):
            return Literal("boolean", token.upper == "TRUE", token.column)
        if token.kind == "ident" and token.upper == "NULL":
            return Literal("null", None, token.column)
        raise self.fail(token)


def parse(text: str) -> Query:
    """Parse SOQL text or raise MALFORMED_QUERY."""
    if not text or not text.strip():
        raise SalesforceError(400, "MALFORMED_QUERY", "query is empty")
    return Parser(text).parse()
