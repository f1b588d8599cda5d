"""MLflow's search syntax translated to Kiln's query tree (kiln.core.query), so a `search_runs` through the
MLflow door runs the same SQL as `kiln runs --filter`.

    metrics.acc > 0.9 and params.model = 'cnn' and tags.`team name` LIKE 'vis%'
    attributes.status = 'FINISHED' and attributes.start_time >= 1700000000000
    attributes.run_name IN ('a', 'b')

Conditions are joined by AND (MLflow has no OR). Entities: metrics/metric, params/param/parameters,
tags/tag, attributes/attribute/attr/run (status, start_time, end_time, run_id, run_name, user_id,
created). Keys may be quoted with backticks or double quotes. Operators: = != < <= > >= LIKE ILIKE IN,
NOT IN. Params and tags compare as text (quoted values), metrics and times as numbers, as in MLflow.
ORDER BY keys: the same fields with ASC or DESC.
"""

from __future__ import annotations

import re

from kiln.core import limits
from kiln.core.errors import InvalidArgument
from kiln.core.query import MAX_CONDITIONS, BoolOp, Condition, Expr, Field, SortKey, check_search

from .protocol import STATE_OF

_ENTITY = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "parameter": "params",
    "parameters": "params",
    "tag": "tags",
    "tags": "tags",
    "attribute": "",
    "attributes": "",
    "attr": "",
    "run": "",
}
# MLflow's run attributes: the Kiln field each is, and whether its values are times in milliseconds
_ATTRIBUTES: dict[str, tuple[Field, bool]] = {
    "status": (Field("", "state"), False),
    "start_time": (Field("", "started_at"), True),
    "end_time": (Field("", "finished_at"), True),
    "created": (Field("", "created_at"), True),
    "run_id": (Field("", "id"), False),
    "run_uuid": (Field("", "id"), False),
    "user_id": (Field("", "user"), False),
    "run_name": (Field("tags", "mlflow.runName"), False),
}
_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<tick>`[^`]*`)|(?P<op><=|>=|==|!=|<>|=|<|>)"""
    r"""|(?P<punct>[(),.])|(?P<num>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|(?P<word>[A-Za-z_][\w-]*))"""
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            raise InvalidArgument(f"invalid filter {text!r}: cannot read it from {text[at : at + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        at = m.end()
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str]:
        return self.items[self.at] if self.at < len(self.items) else ("", "")

    def take(self) -> tuple[str, str]:
        item = self.peek()
        if not item[0]:
            raise InvalidArgument(f"invalid filter {self.text!r}: it ends too soon")
        self.at += 1
        return item

    def word(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.lower() in words:
            self.at += 1
            return True
        return False

    def fail(self, what: str) -> InvalidArgument:
        return InvalidArgument(f"invalid filter {self.text!r}: {what}")

    def field(self) -> tuple[Field, bool]:
        """The next `entity.key` (or a bare attribute), and whether its values are milliseconds."""
        kind, value = self.take()
        if kind != "word":
            raise self.fail(f"expected a field such as metrics.acc, found {value!r}")
        if self.peek() != ("punct", "."):
            return self._attribute(value)
        self.take()
        entity = _ENTITY.get(value.lower())
        if entity is None:
            raise self.fail(f"unknown entity {value!r}; use metrics., params., tags. or attributes.")
        kind, key = self.take()
        if kind in ("tick", "str"):
            key = key[1:-1]
        elif kind == "word":  # a dotted key (tags.mlflow.runName) reads on to the next space or operator
            while self.peek() == ("punct", ".") and self.items[self.at + 1][0] == "word":
                self.take()
                key += "." + self.take()[1]
        else:
            raise self.fail(f"expected a key after {value}., found {key!r}")
        if not entity:
            return self._attribute(key)
        limits.TRACK_KEY.check(key, field="filter key")
        return Field(entity, key), False

    def _attribute(self, name: str) -> tuple[Field, bool]:
        found = _ATTRIBUTES.get(name.lower())
        if found is None:
            raise self.fail(f"unknown attribute {name!r}; known: {', '.join(sorted(_ATTRIBUTES))}")
        return found

    def value(self) -> str | float:
        kind, value = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "num":
            return float(value)
        raise self.fail(f"expected a quoted string or a number, found {value!r}")


def parse_filter(text: str) -> Expr | None:
    """MLflow's filter as Kiln's tree (None for an empty filter)."""
    if not text.strip():
        return None
    limits.FILTER.check(text, field="filter")
    reader = _Reader(text)
    conditions: list[Expr] = []
    while True:
        conditions.append(_condition(reader))
        if len(conditions) > MAX_CONDITIONS:
            raise reader.fail(f"more than {MAX_CONDITIONS} conditions")
        if not reader.peek()[0]:
            break
        if not reader.word("and"):
            raise reader.fail(f"expected AND, found {reader.peek()[1]!r} (MLflow filters join conditions by AND)")
    where = conditions[0] if len(conditions) == 1 else BoolOp("AND", tuple(conditions))
    check_search(where, [])
    return where


def _condition(r: _Reader) -> Expr:
    field, millis = r.field()
    kind, op = r.peek()
    if r.word("not"):
        if not r.word("in"):
            raise r.fail("expected IN after NOT")
        return BoolOp("AND", tuple(Condition(field, "!=", _convert(r, field, millis, v)) for v in _list(r)))
    if r.word("in"):
        return BoolOp("OR", tuple(Condition(field, "=", _convert(r, field, millis, v)) for v in _list(r)))
    if r.word("like", "ilike"):
        value = r.value()
        if not isinstance(value, str):
            raise r.fail(f"LIKE compares text: quote the value for {field}")
        return Condition(field, "LIKE", value)
    if kind != "op":
        raise r.fail(f"expected an operator after {field}, found {op!r}")
    r.take()
    sql = {"==": "=", "<>": "!="}.get(op, op)
    value = _convert(r, field, millis, r.value())
    if field.namespace in ("params", "tags") and isinstance(value, float):
        raise r.fail(f"{field} compares as text, as in MLflow: quote the value ('{value:g}')")
    return Condition(field, sql, value)


def _list(r: _Reader) -> list[str | float]:
    if r.take() != ("punct", "("):
        raise r.fail("expected ( after IN")
    values = [r.value()]
    while r.peek() == ("punct", ","):
        r.take()
        values.append(r.value())
    if r.take() != ("punct", ")"):
        raise r.fail("expected ) to close the IN list")
    if len(values) > MAX_CONDITIONS:
        raise r.fail(f"an IN list of more than {MAX_CONDITIONS} values")
    return values


def _convert(r: _Reader, field: Field, millis: bool, value: str | float) -> str | float:
    if millis:
        if not isinstance(value, float):
            raise r.fail(f"{field} is a time in milliseconds: compare it with a number")
        return value / 1000.0
    if field == Field("", "state"):
        state = STATE_OF.get(str(value).upper())
        if state is None:
            raise r.fail(f"unknown status {value!r}; use RUNNING, SCHEDULED, FINISHED, FAILED or KILLED")
        return str(state)
    return value


def parse_order(items: list[str]) -> list[SortKey]:
    """MLflow's order_by ("metrics.acc DESC", "attributes.start_time") as Kiln's sort keys."""
    keys = []
    for text in items:
        reader = _Reader(text)
        field, _ = reader.field()
        descending = False
        if reader.word("desc"):
            descending = True
        elif not reader.word("asc") and reader.peek()[0]:
            raise reader.fail(f"expected ASC or DESC after {field}")
        if reader.peek()[0]:
            raise reader.fail("one field per order_by entry")
        keys.append(SortKey(field, descending))
    return keys
