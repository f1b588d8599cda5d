"""Ledger rows to columns: every MLflow request format reads as the replica reads it, predictions stay aligned
with their input rows, what cannot be read is skipped and counted, and labels join single-row requests."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from kiln.coordinator.monitoring import frames
from kiln.coordinator.monitoring.frames import LedgerRow, labelled_pairs, parse_label, window_columns

JSON = "application/json"


def row(body: object, predictions: object, status: int = 200, label: str = "", ctype: str = JSON) -> LedgerRow:
    request = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = predictions if isinstance(predictions, bytes) else json.dumps({"predictions": predictions}).encode()
    return LedgerRow(request, ctype, response, status, 10.0, label)


def floats(values: object) -> list[float]:
    assert isinstance(values, np.ndarray) and values.dtype == np.float64
    return [float(v) for v in values]


def same(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


def test_dataframe_split_and_records_name_their_columns_and_stack() -> None:
    rows = [
        row({"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2.5, "y"]]}}, [10, 11]),
        row({"dataframe_records": [{"a": 3, "c": True}, {"b": "z"}]}, [12, 13]),
    ]
    w = window_columns(rows)
    assert list(w.columns) == ["a", "b", "c"]
    assert same(floats(w.columns["a"]), [1.0, 2.5, 3.0, math.nan])
    assert w.columns["b"] == ["x", "y", None, "z"]
    assert w.columns["c"] == [None, None, "True", None]  # booleans are categories, as profile.py reads them
    assert w.predictions == [10, 11, 12, 13]
    assert (w.stats.requests, w.stats.rows, w.stats.skipped_requests, w.stats.errors) == (2, 4, 0, 0)


def test_instances_and_inputs_as_rows_take_the_schema_names_or_positions() -> None:
    rows = [
        row({"instances": [[1, 2], [3, 4]]}, ["p", "q"]),
        row({"inputs": [[5, 6]]}, ["r"]),
        row({"inputs": [7, 8]}, [1, 2]),  # one column's values: width 1, not the schema's 2
    ]
    w = window_columns(rows, names=["x0", "x1"])
    assert list(w.columns) == ["x0", "x1"]
    assert floats(w.columns["x0"]) == [1.0, 3.0, 5.0]
    assert floats(w.columns["x1"]) == [2.0, 4.0, 6.0]
    assert w.predictions == ["p", "q", "r"]
    assert w.stats.reasons == {frames.SCHEMA_MISMATCH: 1}
    positional = window_columns(rows)
    assert list(positional.columns) == ["0", "1"]
    assert same(floats(positional.columns["0"]), [1.0, 3.0, 5.0, 7.0, 8.0])
    assert same(floats(positional.columns["1"]), [2.0, 4.0, 6.0, math.nan, math.nan])


def test_inputs_as_columns_and_records_name_their_columns() -> None:
    rows = [
        row({"inputs": {"x": [1, 2], "y": ["a", "b"]}}, [0, 1]),
        row({"inputs": {"x": 3, "y": "c"}}, [1]),  # one row
        row({"instances": [{"x": 4, "y": None}]}, [0]),
    ]
    w = window_columns(rows, names=["ignored", "too"])
    assert floats(w.columns["x"]) == [1.0, 2.0, 3.0, 4.0]
    assert w.columns["y"] == ["a", "b", "c", None]
    assert w.predictions == [0, 1, 1, 0]


def test_csv() -> None:
    body = b"a,b,c\n1,x,\n2.5,y,3\n"
    w = window_columns([row(body, [True, False], ctype="text/csv; charset=utf-8")])
    assert floats(w.columns["a"]) == [1.0, 2.5]
    assert w.columns["b"] == ["x", "y"]
    assert same(floats(w.columns["c"]), [math.nan, 3.0])
    assert w.predictions == [True, False]


def test_invalid_rows_are_skipped_and_counted_and_predictions_stay_aligned() -> None:
    rows = [
        row({"inputs": [[1, "a"]]}, [100]),
        row({"inputs": [[2, "b"]]}, [], status=503),  # an error: no input to read
        row({"inputs": [[3, "c"]]}, [], status=400),
        row(b'{"inputs": [[4, "d"]', [101]),  # truncated JSON
        row({"inputs": [[5, "e"], [6]]}, [102, 103]),  # ragged rows: the replica refuses them too
        row({"inputs": [[7, "f"]]}, b"<html>bad gateway</html>"),
        row({"inputs": [[8, "g"], [9, "h"]]}, [104]),  # one prediction for two rows
        row({"inputs": [[10, "i"]]}, {"a": [105]}),  # predictions that are not a list
        row(b"x=1", [106], ctype="application/x-www-form-urlencoded"),
        row(b"\xff\xfe", [107]),  # not UTF-8
        row({"inputs": [[11, "j"], [12, 7]]}, [108, [1, 2]]),
    ]
    w = window_columns(rows)
    assert floats(w.columns["0"]) == [1.0, 11.0, 12.0]
    assert w.columns["1"] == ["a", "j", "7"]  # a column with any text is text throughout
    assert w.predictions == [100, 108, [1, 2]]
    s = w.stats
    assert (s.requests, s.rows, s.errors, s.skipped_requests) == (11, 3, 2, 7)
    assert s.reasons == {
        frames.BAD_REQUEST: 4,
        frames.BAD_RESPONSE: 2,
        frames.COUNT_MISMATCH: 1,
    }
    assert not s.truncated


def test_an_empty_window() -> None:
    w = window_columns([])
    assert w.columns == {} and w.predictions == [] and w.stats.requests == 0


def test_max_rows_cuts_the_window() -> None:
    rows = [row({"inputs": [[i], [i + 0.5]]}, [i, i + 0.5]) for i in range(5)]
    w = window_columns(rows, max_rows=5)
    assert floats(w.columns["0"]) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert w.predictions == [0, 0.5, 1, 1.5, 2]
    assert w.stats.rows == 5 and w.stats.requests == 3 and w.stats.truncated
    whole = window_columns(rows, max_rows=10)
    assert whole.stats.rows == 10 and not whole.stats.truncated


def test_a_schema_naming_a_column_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        window_columns([], names=["a", "a"])


def test_labelled_pairs() -> None:
    rows = [
        row({"inputs": [[1]]}, [1], label="1"),
        row({"inputs": [[2]]}, ["cat"], label="dog"),
        row({"inputs": [[3]]}, [0.7], label="0.5"),
        row({"inputs": [[4]]}, [True], label="true"),
        row({"inputs": [[5]]}, [1]),  # no label yet
        row({"inputs": [[6], [7]]}, [1, 0], label="1"),  # one label for two rows
        row({"inputs": [[8]]}, [], status=500, label="1"),
        row({"inputs": [[9]]}, b"not json", label="1"),
        row({"inputs": [[10]]}, [2], label="[1, 2]"),
    ]
    predictions, labels = labelled_pairs(rows)
    assert predictions == [1, "cat", 0.7, True, 2]
    assert labels == [1, "dog", 0.5, True, "[1, 2]"]
    assert type(labels[0]) is int and type(labels[3]) is bool


@pytest.mark.parametrize(
    ("stored", "read"),
    [("3", 3), ("-2.5", -2.5), ("false", False), ("yes", "yes"), ("null", "null"), ("NaN", "NaN"), ("", "")],
)
def test_parse_label(stored: str, read: object) -> None:
    assert parse_label(stored) == read
    assert type(parse_label(stored)) is type(read)
