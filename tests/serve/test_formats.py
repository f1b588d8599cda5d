"""MLflow's scoring formats, parsed as MLflow clients send them, and every malformed request refused
with a client error that says what was wrong."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from kiln.serve.formats import ClientError, Table, encode_error, encode_predictions, parse_request

ROWS = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
COLUMNS = ["a", "b", "c"]


def parse(doc: Any, content_type: str = "application/json") -> Table:
    return parse_request(json.dumps(doc).encode(), content_type)


@pytest.mark.parametrize(
    ("doc", "columns"),
    [
        ({"inputs": ROWS}, None),
        ({"instances": ROWS}, None),
        ({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}, COLUMNS),
        ({"dataframe_split": {"columns": COLUMNS, "data": ROWS, "index": [7, 8]}}, COLUMNS),
        ({"dataframe_split": {"data": ROWS}}, None),
        ({"dataframe_records": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]}, COLUMNS),
        ({"instances": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]}, COLUMNS),
        ({"inputs": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]}, COLUMNS),
        ({"inputs": {"a": [1.0, 4.0], "b": [2.0, 5.0], "c": [3.0, 6.0]}}, COLUMNS),
    ],
)
def test_every_format_gives_the_same_rows(doc: dict[str, Any], columns: list[str] | None) -> None:
    table = parse(doc)
    assert table.rows == ROWS
    assert table.columns == columns
    assert table.params is None


def test_params_ride_along_with_any_format() -> None:
    assert parse({"inputs": ROWS, "params": {"top_k": 3}}).params == {"top_k": 3}
    assert parse({"dataframe_split": {"columns": COLUMNS, "data": ROWS}, "params": {"t": 0.5}}).params == {"t": 0.5}


def test_a_single_row_of_named_values_and_a_flat_list() -> None:
    assert parse({"inputs": {"a": 1, "b": "x"}}) == Table([[1, "x"]], ["a", "b"])
    assert parse({"instances": [1, 2, 3]}).rows == [[1], [2], [3]]


def test_records_with_a_missing_key_leave_a_missing_value() -> None:
    table = parse({"dataframe_records": [{"a": 1, "b": 2}, {"b": 3}]})
    assert table.columns == ["a", "b"] and table.rows == [[1, 2], [None, 3]]


def test_content_type_parameters_are_accepted() -> None:
    assert parse({"inputs": ROWS}, "application/json; charset=utf-8").rows == ROWS
    assert parse({"inputs": ROWS}, "Application/JSON;charset=UTF-8").rows == ROWS


def test_csv_with_a_header_row_reads_as_pandas_would() -> None:
    body = '\ufeffa,b,c\n1,2.5,x\n, -3,"y, z"\n'.encode()
    table = parse_request(body, "text/csv")
    assert table.columns == ["a", "b", "c"]
    assert table.rows == [[1, 2.5, "x"], [None, -3, "y, z"]]
    assert parse_request(b"a,b\r\n1,2\r\n", "text/csv; charset=utf-8").rows == [[1, 2]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
        (b"[[1, 2]]", "expected a JSON object with one of the keys"),
        (b'{"data": [[1]]}', "unknown key 'data'"),
        (b'{"inputs": [[1]], "extra": 1}', "unknown key 'extra'"),
        (b'{"inputs": [[1]], "instances": [[1]]}', "expected exactly one of the keys"),
        (b'{"params": {}}', "got none of them"),
        (b'{"inputs": [[1]], "params": [1]}', "'params' must be a JSON object"),
        (b'{"inputs": [[1, 2], [3]]}', "ragged rows: row 1 has 1 values, expected 2"),
        (b'{"inputs": [[1], 2]}', "row 1 is a number, not a list"),
        (b'{"inputs": [1, [2]]}', "mixes values and rows"),
        (b'{"inputs": []}', "empty input"),
        (b'{"inputs": [[]]}', "empty input"),
        (b'{"inputs": {}}', "empty input"),
        (b'{"inputs": "abc"}', "must be a list of rows"),
        (b'{"instances": {"a": [1]}}', "must be a list of rows"),
        (b'{"inputs": {"a": [1, 2], "b": [3]}}', "ragged columns"),
        (b'{"inputs": {"a": [1, 2], "b": 3}}', "single value while others are lists"),
        (b'{"dataframe_records": []}', "empty input"),
        (b'{"dataframe_records": [{}]}', "empty input"),
        (b'{"dataframe_records": [{"a": 1}, 2]}', "record 1 is a number"),
        (b'{"dataframe_records": {"a": 1}}', "must be a list of objects"),
        (b'{"dataframe_split": [[1]]}', "must be an object with 'columns' and 'data'"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "needs 'data'"),
        (b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}', "row 0 has 1 values, expected 2"),
        (b'{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}', "column 'a' appears twice"),
        (b'{"dataframe_split": {"columns": [1], "data": [[1]]}}', "'columns' must be a list of strings"),
        (b'{"dataframe_split": {"data": [[1]], "index": [1, 2]}}', "'index' must be a list of 1 labels"),
        (b'{"dataframe_split": {"data": [[1]], "orient": "x"}}', "unknown key 'orient'"),
    ],
)
def test_malformed_json_requests_are_client_errors(body: bytes, message: str) -> None:
    with pytest.raises(ClientError, match=message) as caught:
        parse_request(body, "application/json")
    assert caught.value.status == 400 and caught.value.code == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no header row"),
        (b"a,b\n", "a header row and no data rows"),
        (b"a,b\n1,2\n3\n", "CSV line 3 has 1 fields; the header has 2"),
        (b"a,a\n1,2\n", "column 'a' appears twice"),
        (b"a\n\xff\n", "not UTF-8"),
    ],
)
def test_malformed_csv_requests_are_client_errors(body: bytes, message: str) -> None:
    with pytest.raises(ClientError, match=message) as caught:
        parse_request(body, "text/csv")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (None, "unsupported Content-Type none"),
        ("text/plain", "unsupported Content-Type 'text/plain'"),
        ("application/x-www-form-urlencoded", "unsupported Content-Type"),
        ("application/json; charset=latin-1", "only UTF-8"),
    ],
)
def test_other_content_types_are_unsupported_media(content_type: str | None, message: str) -> None:
    with pytest.raises(ClientError, match=message) as caught:
        parse_request(b'{"inputs": [[1]]}', content_type)
    assert caught.value.status == 415 and caught.value.code == "UNSUPPORTED_MEDIA_TYPE"


def test_answers_are_mlflow_shaped_and_take_numpy_values() -> None:
    body = encode_predictions([np.int64(1), np.float32(0.5), np.array([1, 2]), "cat"])
    assert json.loads(body) == {"predictions": [1, 0.5, [1, 2], "cat"]}
    assert json.loads(encode_error("BAD_REQUEST", "nope")) == {"error_code": "BAD_REQUEST", "message": "nope"}
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        encode_predictions([object()])
