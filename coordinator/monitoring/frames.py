"""From the prediction ledger to columns: a window of ledger rows as the inputs the model was sent, one column
per feature (what drift.drift compares against the version's profile), the predictions it gave, row for row,
and the (prediction, ground truth) pairs quality.py scores.

Request bodies are parsed by `kiln.serve.formats.parse_request`, the replica's own parser, so a body reads
here exactly as the replica read it; a request may carry several rows, and its response's "predictions" list
must have one entry a row. What cannot be read (a malformed or truncated body, a response of another length)
is skipped and counted by reason, never raised: a monitor must keep going past one odd request.

Columns are named by the request where its format names them (dataframe_split's "columns", the keys of
records, "inputs" as columns); positional rows take the model's schema names when given (and as many as the
row has values), else "0", "1", .... Requests naming different columns are stacked as pandas.concat would: a
column a request lacks is missing (NaN or None) in its rows. A column whose values are all numbers (or
missing) becomes float64 with NaN where missing; any other column a list of text (booleans as "True" and
"False", lists and objects as their JSON), None where missing, the text profile.py makes of the same values.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from kiln.serve.formats import ClientError, parse_request

MAX_ROWS = 1_000_000

ColumnValues: TypeAlias = npt.NDArray[np.float64] | list[str | None]

# the reasons a successful request is skipped (WindowStats.reasons' keys)
BAD_REQUEST = "request body unreadable"
BAD_RESPONSE = "response body unreadable"
COUNT_MISMATCH = "predictions and input rows differ in number"
SCHEMA_MISMATCH = "positional rows differ in width from the schema"


@dataclass(frozen=True)
class LedgerRow:
    """One ledger record, as far as monitoring reads it; `label` is the ground truth ("" before feedback)."""

    request: bytes
    content_type: str
    response: bytes
    status: int
    latency_ms: float
    label: str = ""
    version: int = 0
    time: float = 0.0


@dataclass(frozen=True)
class WindowStats:
    requests: int  # ledger rows read (all of them, but those after the max_rows-th input row)
    rows: int  # input rows kept, each with its prediction
    skipped_requests: int  # successful requests left out: reasons says why
    errors: int  # requests answered with status >= 400 (no input to read)
    reasons: Counter[str] = field(default_factory=Counter)
    truncated: bool = False  # max_rows was reached: later requests were not read


@dataclass(frozen=True)
class Window:
    columns: dict[str, ColumnValues]  # one value per kept row, in ledger order
    predictions: list[object]  # the prediction of each kept row
    stats: WindowStats


def window_columns(
    rows: Sequence[LedgerRow], names: Sequence[str] | None = None, *, max_rows: int = MAX_ROWS
) -> Window:
    """The inputs and predictions of the successful (status < 400) requests among `rows`, as columns; `names`
    are the model's schema names for positional rows. At most `max_rows` input rows: the request that reaches
    the limit is cut there and the rest of the window is not read (stats.truncated)."""
    if max_rows < 0:
        raise ValueError(f"max_rows is a number of rows, not {max_rows}")
    if names is not None and len(set(names)) != len(names):
        raise ValueError("the schema names a column twice")
    cells: dict[str, list[Any]] = {}  # column name -> its values so far (padded to `kept`)
    predictions: list[object] = []
    reasons: Counter[str] = Counter()
    requests = errors = kept = 0
    truncated = False
    for row in rows:
        if kept >= max_rows:
            truncated = True
            break
        requests += 1
        if row.status >= 400:
            errors += 1
            continue
        read = _read(row, names)
        if isinstance(read, str):
            reasons[read] += 1
            continue
        columns, table_rows, answers = read
        take = min(len(table_rows), max_rows - kept)
        truncated = take < len(table_rows)
        for name, values in zip(columns, zip(*table_rows[:take], strict=True), strict=True):
            column = cells.get(name)
            if column is None:
                column = cells[name] = [None] * kept
            column.extend(values)
        kept += take
        for column in cells.values():  # the columns this request lacks
            if len(column) < kept:
                column.extend([None] * (kept - len(column)))
        predictions.extend(answers[:take])
    stats = WindowStats(requests, kept, sum(reasons.values()), errors, reasons, truncated)
    return Window({name: _column(values) for name, values in cells.items()}, predictions, stats)


def _read(row: LedgerRow, names: Sequence[str] | None) -> tuple[list[str], list[list[Any]], list[object]] | str:
    """(column names, rows, predictions) of one successful request, or the reason it is skipped."""
    try:
        table = parse_request(row.request, row.content_type)
    except (ClientError, RecursionError):
        return BAD_REQUEST
    answers = _predictions(row.response)
    if answers is None:
        return BAD_RESPONSE
    if len(answers) != len(table.rows):
        return COUNT_MISMATCH
    width = len(table.rows[0])
    if table.columns is not None:
        columns = table.columns
    elif names is not None:
        if len(names) != width:
            return SCHEMA_MISMATCH
        columns = [str(n) for n in names]
    else:
        columns = [str(i) for i in range(width)]
    return columns, table.rows, answers


def _predictions(body: bytes) -> list[object] | None:
    """The "predictions" list of a response body, or None where there is none."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # json's errors, and UnicodeDecodeError, are ValueErrors
        return None
    if type(doc) is not dict:
        return None
    answers = doc.get("predictions")
    return answers if type(answers) is list else None


def _column(values: list[Any]) -> ColumnValues:
    if all(v is None or _is_number(v) for v in values):
        return np.array([math.nan if v is None else _float(v) for v in values], dtype=np.float64)
    return [None if v is None else _text(v) for v in values]


def _is_number(v: object) -> bool:
    return type(v) is int or type(v) is float  # JSON's numbers; not bool, which is an int subclass


def _float(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer beyond float's range: as far out as a float goes (drift counts it missing)
        return math.inf if v > 0 else -math.inf


def _text(v: object) -> str:
    if type(v) is str:
        return v
    if type(v) is list or type(v) is dict:
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def labelled_pairs(rows: Sequence[LedgerRow]) -> tuple[list[object], list[object]]:
    """(predictions, labels) of the successful rows that carry a label and exactly one prediction (a label
    belongs to a whole request, so a request of several rows with one label is left out). Labels are read
    back as `parse_label` says."""
    predictions: list[object] = []
    labels: list[object] = []
    for row in rows:
        if not row.label or row.status >= 400:
            continue
        answers = _predictions(row.response)
        if answers is None or len(answers) != 1:
            continue
        predictions.append(answers[0])
        labels.append(parse_label(row.label))
    return predictions, labels


def parse_label(label: str) -> object:
    """A stored label as it was sent: the ledger keeps a label that was a JSON non-string as its JSON text, so
    text that is a JSON number or boolean is read as one ("3" -> 3, "0.5" -> 0.5, "true" -> True); anything
    else (null, NaN, lists, objects, plain text) stays the text."""
    try:
        value = json.loads(label, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return label
    if type(value) is bool or type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    return label


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a label")
