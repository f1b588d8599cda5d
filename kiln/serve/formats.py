"""MLflow's scoring request formats, parsed unchanged so that existing MLflow clients work against a
replica, into one shape: a `Table` of rows (and column names where the request had them).

Parsing never needs numpy or pandas: rows stay Python lists, and the model's side turns them into what
the model takes (models.py). That keeps the common request, a few numeric rows under "inputs" or
"instances", at a json.loads and a length check per row. Anything wrong with a request raises
ClientError, which the server answers with its status and MLflow's error JSON.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_KNOWN_KEYS = frozenset(FORMAT_KEYS) | {"params"}
_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class ClientError(Exception):
    """A request the replica will not score; `status` and `code` are what the client gets."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass
class Table:
    """A request's input: `rows` are equally long lists of values (at least one row, one value each);
    `columns` names them, or is None for positional rows (the model's schema decides what they are)."""

    rows: list[list[Any]]
    columns: list[str] | None = None
    params: dict[str, Any] | None = None


def parse_request(body: bytes, content_type: str | None) -> Table:
    """The Table in `body`, read as `content_type` says (JSON or CSV, UTF-8)."""
    mime, charset = _content_type(content_type)
    if charset is not None and charset not in _CHARSETS:
        raise ClientError(f"only UTF-8 bodies are supported; got charset={charset}", 415, "UNSUPPORTED_MEDIA_TYPE")
    if mime == JSON_TYPE:
        return parse_json(body)
    if mime == CSV_TYPE:
        return parse_csv(body)
    got = f"'{content_type}'" if content_type else "none"
    raise ClientError(f"unsupported Content-Type {got}: send {JSON_TYPE} or {CSV_TYPE}", 415, "UNSUPPORTED_MEDIA_TYPE")


def _content_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    mime, _, rest = header.partition(";")
    charset = None
    if rest:
        for part in rest.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset":
                charset = value.strip().strip('"').lower()
    return mime.strip().lower(), charset


def parse_json(body: bytes) -> Table:
    """One of MLflow's JSON formats: exactly one of FORMAT_KEYS at the top level, and maybe "params"."""
    try:
        doc = json.loads(body)
    except UnicodeDecodeError as e:
        raise ClientError(f"the body is not UTF-8: {e}") from None
    except ValueError as e:
        raise ClientError(f"malformed JSON: {e}") from None
    except RecursionError:
        raise ClientError("malformed JSON: nested too deeply") from None
    if type(doc) is not dict:
        raise ClientError(f"expected a JSON object with one of the keys {_keys()}; got {_kind(doc)}")
    if len(doc) == 1 and "inputs" in doc:  # the usual request: skip the key checks below
        return _positional_or_named(doc["inputs"], "inputs", None)
    unknown = [k for k in doc if k not in _KNOWN_KEYS]
    if unknown:
        raise ClientError(f"unknown key {unknown[0]!r}: expected one of {_keys()} (and optionally 'params')")
    given = [k for k in FORMAT_KEYS if k in doc]
    if len(given) != 1:
        what = "none of them" if not given else " and ".join(repr(k) for k in given)
        raise ClientError(f"expected exactly one of the keys {_keys()}; got {what}")
    params = doc.get("params")
    if params is not None and type(params) is not dict:
        raise ClientError(f"'params' must be a JSON object; got {_kind(params)}")
    key = given[0]
    value = doc[key]
    if key == "dataframe_split":
        return _split(value, params)
    if key == "dataframe_records":
        if type(value) is not list:
            raise ClientError(f"'dataframe_records' must be a list of objects; got {_kind(value)}")
        return _records(value, key, params)
    return _positional_or_named(value, key, params)


def _keys() -> str:
    return ", ".join(repr(k) for k in FORMAT_KEYS)


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _positional_or_named(value: Any, key: str, params: dict[str, Any] | None) -> Table:
    """ "inputs" and "instances": rows ([[...], ...]), records ([{...}, ...]), values of one column
    ([1, 2, 3]) or, for "inputs", columns ({"x0": [...], ...})."""
    if type(value) is list:
        if not value:
            raise ClientError(f"empty input: '{key}' has no rows")
        first = value[0]
        if type(first) is list:
            return Table(_check_rows(value, key), None, params)
        if type(first) is dict:
            return _records(value, key, params)
        for i, item in enumerate(value):
            if type(item) is list or type(item) is dict:
                raise ClientError(f"'{key}' mixes values and rows: item 0 is a value, item {i} is {_kind(item)}")
        return Table([[item] for item in value], None, params)
    if type(value) is dict and key == "inputs":
        return _columns(value, params)
    raise ClientError(f"'{key}' must be a list of rows; got {_kind(value)}")


def _check_rows(rows: list[Any], where: str, width: int | None = None) -> list[list[Any]]:
    if not rows:
        raise ClientError(f"empty input: '{where}' has no rows")
    n = len(rows[0]) if type(rows[0]) is list and width is None else width
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise ClientError(f"'{where}': row {i} is {_kind(row)}, not a list of values")
        if len(row) != n:
            raise ClientError(f"'{where}': ragged rows: row {i} has {len(row)} values, expected {n}")
    if not n:
        raise ClientError(f"empty input: the rows of '{where}' have no values")
    return rows


def _split(value: Any, params: dict[str, Any] | None) -> Table:
    """pandas' orient="split": {"columns": [...], "data": [[...]], "index": [...]}; the index is ignored."""
    if type(value) is not dict:
        raise ClientError(f"'dataframe_split' must be an object with 'columns' and 'data'; got {_kind(value)}")
    unknown = [k for k in value if k not in ("columns", "data", "index")]
    if unknown:
        raise ClientError(f"'dataframe_split' has an unknown key {unknown[0]!r}: expected columns, data, index")
    data = value.get("data")
    if type(data) is not list:
        raise ClientError(f"'dataframe_split' needs 'data', a list of rows; got {_kind(data)}")
    columns = value.get("columns")
    if columns is not None:
        columns = _column_names(columns, "dataframe_split")
    rows = _check_rows(data, "dataframe_split", len(columns) if columns is not None else None)
    index = value.get("index")
    if index is not None and (type(index) is not list or len(index) != len(rows)):
        raise ClientError(f"'dataframe_split': 'index' must be a list of {len(rows)} labels, one a row")
    return Table(rows, columns, params)


def _column_names(columns: Any, where: str) -> list[str]:
    if type(columns) is not list or not all(type(c) is str for c in columns):
        raise ClientError(f"'{where}': 'columns' must be a list of strings")
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise ClientError(f"'{where}': column {name!r} appears twice")
        seen.add(name)
    return list(columns)


def _records(records: list[Any], where: str, params: dict[str, Any] | None) -> Table:
    """pandas' orient="records": a list of objects; a key missing from a record is a missing value."""
    if not records:
        raise ClientError(f"empty input: '{where}' has no records")
    index: dict[str, int] = {}
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise ClientError(f"'{where}': record {i} is {_kind(record)}, not an object")
        for key in record:
            if key not in index:
                index[key] = len(index)
    if not index:
        raise ClientError(f"empty input: the records of '{where}' have no fields")
    columns = list(index)
    rows = [[record.get(c) for c in columns] for record in records]
    return Table(rows, columns, params)


def _columns(value: dict[str, Any], params: dict[str, Any] | None) -> Table:
    """{"x0": [1, 2], "x1": [3, 4]}: columns of equal length, or {"x0": 1, "x1": 3}: one row."""
    if not value:
        raise ClientError("empty input: 'inputs' has no columns")
    columns = list(value)
    cells = list(value.values())
    if not any(type(c) is list for c in cells):
        return Table([cells], columns, params)
    lengths = {c: len(v) if type(v) is list else None for c, v in value.items()}
    first = next(iter(lengths.values()))
    for name, n in lengths.items():
        if n is None:
            raise ClientError(f"'inputs': column {name!r} is a single value while others are lists")
        if n != first:
            raise ClientError(f"'inputs': ragged columns: {columns[0]!r} has {first} values, {name!r} has {n}")
    if not first:
        raise ClientError("empty input: the columns of 'inputs' have no values")
    return Table([list(row) for row in zip(*cells)], columns, params)


def parse_csv(body: bytes) -> Table:
    """A CSV body with a header row, as pandas.read_csv reads it: numbers become int or float, an empty
    field a missing value, anything else stays a string."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ClientError(f"the CSV body is not UTF-8: {e}") from None
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise ClientError(f"malformed CSV: {e}") from None
    lines = [line for line in lines if line]
    if not lines:
        raise ClientError("empty input: the CSV body has no header row")
    columns = _column_names([c.strip() for c in lines[0]], "text/csv")
    if len(lines) == 1:
        raise ClientError("empty input: the CSV body has a header row and no data rows")
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if len(line) != len(columns):
            raise ClientError(f"CSV line {i} has {len(line)} fields; the header has {len(columns)}")
        rows.append([_cell(v) for v in line])
    return Table(rows, columns, None)


def _cell(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


# -- answers ---------------------------------------------------------------------------------------------


def encode_predictions(predictions: Any) -> bytes:
    """MLflow's answer, {"predictions": [...]}; numpy values become plain JSON numbers (via .item())."""
    return json.dumps({"predictions": predictions}, default=_plain, separators=(",", ":")).encode()


def encode_error(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, pandas Series
        return value.tolist()
    if hasattr(value, "isoformat"):  # datetimes, pandas Timestamps
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    raise TypeError(f"a prediction of type {type(value).__name__} is not JSON-serialisable")
