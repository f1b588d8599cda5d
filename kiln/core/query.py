"""The run search language, parsed into a tree that the store turns into SQL with bound parameters
(never by pasting text into SQL).

    params.lr > 0.01 and metrics.acc >= 0.9
    (tags.team = 'vision' or user = alice) and state != failed
    metrics.loss < 0.2 and params.optimizer like 'ad%'

Fields: `params.NAME`, `metrics.NAME` (the metric's last value), `tags.NAME`, and the run attributes
`state`, `user`, `node`, `id`, `created_at`, `started_at`, `finished_at`. Operators: = == != < <= > >= like.
Values: numbers, 'quoted' or "quoted" strings, or bare words. `and` binds tighter than `or`; parentheses
group. Sort keys are fields, comma-separated, with a leading '-' for descending order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from kiln.core import limits
from kiln.core.errors import InvalidArgument

ATTRIBUTES = frozenset({"state", "user", "node", "id", "created_at", "started_at", "finished_at"})
NAMESPACES = frozenset({"params", "metrics", "tags"})
OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "like": "LIKE"}
MAX_CONDITIONS = limits.FILTER_CONDITIONS.most
MAX_NESTING = limits.FILTER_NESTING  # parentheses deep; past it a filter would exhaust the parser's recursion
# Distinct params/metrics/tags fields in a filter and its sort together: each is one join in the store's
# query, and SQLite joins at most 64 tables.
MAX_FIELDS = limits.SEARCH_FIELDS.most

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op><=|>=|==|!=|=|<|>)|(?P<paren>[()])|(?P<word>[^\s()<>=!'"]+))"""
)


@dataclass(frozen=True)
class Field:
    namespace: str  # params, metrics, tags, or "" for a run attribute
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True)
class Condition:
    field: Field
    op: str  # SQL operator
    value: str | float


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND / OR
    items: tuple[Expr, ...]


Expr = Condition | BoolOp  # a parsed filter: one condition, or and/or over sub-expressions


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool


def parse_field(text: str) -> Field:
    namespace, dot, name = text.partition(".")
    if dot and namespace in NAMESPACES and name:
        limits.TRACK_KEY.check(name, field=f"{namespace} key")  # no run holds a longer one
        return Field(namespace, name)
    if not dot and text in ATTRIBUTES:
        return Field("", text)
    raise InvalidArgument(
        f"unknown field {limits.preview(text, 80)}: use params.NAME, metrics.NAME, tags.NAME or one of "
        f"{', '.join(sorted(ATTRIBUTES))}"
    )


def _tokens(text: str) -> list[tuple[str, str]]:
    found, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise InvalidArgument(f"cannot read the filter at {text[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        found.append((kind, m.group(kind)))
        pos = m.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.conditions = 0
        self.nesting = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidArgument("the filter ends too early")
        self.pos += 1
        return token

    def parse(self) -> Expr:
        expr = self.disjunction()
        if self.peek() is not None:
            raise InvalidArgument(f"unexpected {self.peek()[1]!r} in the filter")  # type: ignore[index]
        return expr

    def disjunction(self) -> Expr:
        items = [self.conjunction()]
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "or":
            self.take()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Expr:
        items = [self.primary()]
        while (t := self.peek()) and t[0] == "word" and t[1].lower() == "and":
            self.take()
            items.append(self.primary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def primary(self) -> Expr:
        kind, text = self.take()
        if kind == "paren" and text == "(":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                raise InvalidArgument(f"a filter may nest parentheses at most {MAX_NESTING} deep")
            expr = self.disjunction()
            if self.peek() != ("paren", ")"):
                raise InvalidArgument("a '(' in the filter is not closed")
            self.take()
            self.nesting -= 1
            return expr
        if kind != "word":
            raise InvalidArgument(f"expected a field, found {text!r}")
        field = parse_field(text)
        op_kind, op_text = self.take()
        op = OPERATORS.get(op_text.lower()) if op_kind in ("op", "word") else None
        if op is None:
            raise InvalidArgument(f"expected an operator after {text}, found {op_text!r}")
        value_kind, value_text = self.take()
        if value_kind not in ("str", "word"):
            raise InvalidArgument(f"expected a value after {text} {op_text}")
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidArgument(f"a filter may have at most {MAX_CONDITIONS} conditions")
        return Condition(field, op, _value(value_kind, value_text))


def _value(kind: str, text: str) -> str | float:
    if kind == "str":
        return text[1:-1]
    try:
        number = float(text)
    except ValueError:
        return text
    # nan, inf, infinity are words: the store keeps no non-finite numbers, so as numbers they never match
    return number if math.isfinite(number) else text


def parse_filter(text: str) -> Expr | None:
    limits.FILTER.check(text)  # before any parsing: a huge filter costs nothing but this
    return _Parser(text).parse() if text.strip() else None


def parse_sort(text: str) -> list[SortKey]:
    limits.SORT.check(text)
    keys = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        keys.append(SortKey(parse_field(part.lstrip("-+")), part.startswith("-")))
    return keys


def fields_of(expr: Expr | None) -> set[Field]:
    """Every field a filter compares."""
    if expr is None:
        return set()
    if isinstance(expr, Condition):
        return {expr.field}
    return set().union(*(fields_of(e) for e in expr.items))


def check_search(where: Expr | None, sort: list[SortKey]) -> None:
    """Refuses a search that needs more distinct params/metrics/tags fields than the store may join."""
    joined = {f for f in fields_of(where) | {k.field for k in sort} if f.namespace}
    if len(joined) > MAX_FIELDS:
        raise InvalidArgument(
            f"a search may use at most {MAX_FIELDS} distinct params, metrics and tags fields (filter and sort "
            f"together), not {len(joined)}"
        )
