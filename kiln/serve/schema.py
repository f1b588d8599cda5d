"""A model's input schema, and the checks every request passes before the model sees it.

A model that is handed the wrong input tends to fail deep inside its library, with a message about
array shapes that says nothing to whoever sent the request; worse, a model fitted on positional arrays
happily scores columns in the wrong order. So the replica compares each request with what the model
expects (column names, their number, numeric types) and refuses a mismatch with a 400 that names both.
The schema comes from an MLflow signature, a kiln-schema.json beside the model, or what scikit-learn
remembers of its fit (`feature_names_in_`, `n_features_in_`), in that order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from kiln.serve.formats import ClientError, Table

NUMERIC = frozenset({"double", "float", "long", "integer"})
_NULLABLE = frozenset({"double", "float"})
_NUMBER_TYPES = (int, float)


class SchemaError(ClientError):
    """A request (or a batch input) that does not fit the model's input schema."""


@dataclass(frozen=True)
class Column:
    name: str | None
    type: str | None = None  # an MLflow type name: double, float, long, integer, boolean, string, ...


@dataclass
class Schema:
    """What the model takes: `columns` in the model's order (names and types, where known) or only
    `n_features`; both None when nothing is known, and then requests go to the model as they come."""

    columns: list[Column] | None = None
    n_features: int | None = None
    source: str | None = None  # where it was read from, for /version and messages
    _names: list[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.columns is not None:
            self.n_features = len(self.columns)
            if all(c.name is not None for c in self.columns):
                self._names = [c.name for c in self.columns if c.name is not None]

    @property
    def names(self) -> list[str] | None:
        return self._names

    @property
    def numeric(self) -> bool | None:
        """True when every column is known to be numeric, False when one is known not to be."""
        if self.columns is None:
            return None
        kinds = [c.type for c in self.columns]
        if any(k is not None and k not in NUMERIC and k != "boolean" for k in kinds):
            return False
        return True if all(k is not None for k in kinds) else None

    def expected(self) -> str:
        if self.n_features is None:
            return "any columns"
        what = f"{self.n_features} feature{'s' if self.n_features != 1 else ''}"
        return f"{what} ({span(self._names)})" if self._names else what

    def describe(self) -> dict[str, Any]:
        columns = None
        if self.columns is not None:
            columns = [{"name": c.name, "type": c.type} for c in self.columns]
        return {"columns": columns, "n_features": self.n_features, "source": self.source}

    # -- requests ------------------------------------------------------------------------------------------

    def arrange(self, table: Table) -> tuple[list[list[Any]], list[str] | None]:
        """The table's rows in the model's column order, and their names (None: positional). Extra
        columns are left out, as MLflow does; a missing one, or the wrong count of positional values,
        raises SchemaError."""
        rows, given = table.rows, table.columns
        width = len(rows[0])
        names = self._names
        if names is not None and given is not None:
            if given == names:
                return rows, names
            index = {name: i for i, name in enumerate(given)}
            missing = [n for n in names if n not in index]
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                raise SchemaError(f"missing column {missing[0]!r}{more}: expected {self.expected()}; got {span(given)}")
            order = [index[n] for n in names]
            return [[row[i] for i in order] for row in rows], names
        if self.n_features is not None and width != self.n_features:
            got = f"{width} ({span(given)})" if given else str(width)
            raise SchemaError(f"expected {self.expected()}; got {got}")
        return rows, names if names is not None else given

    def check_types(self, rows: list[list[Any]]) -> None:
        """Refuses a value that does not fit its column's declared type (rows as `arrange` gave them)."""
        if self.columns is None:
            return
        for j, column in enumerate(self.columns):
            kind = column.type
            if kind is None:
                continue
            for i, row in enumerate(rows):
                value = row[j]
                if kind in NUMERIC:
                    if type(value) in _NUMBER_TYPES or (value is None and kind in _NULLABLE):
                        continue
                elif kind == "boolean":
                    if type(value) is bool or value is None:
                        continue
                elif kind == "string":
                    if type(value) is str or value is None:
                        continue
                else:
                    break  # a type this replica does not check (binary, datetime, arrays, ...)
                raise SchemaError(f"column {column.name or j!r} expects {kind} values; row {i} has {value!r}")

    # -- batch inputs --------------------------------------------------------------------------------------

    def select(self, given: list[str], where: str) -> list[int]:
        """Which of a file's columns (by position) the model takes, in its order."""
        names = self._names
        if names is not None:
            index = {name: i for i, name in enumerate(given)}
            missing = [n for n in names if n not in index]
            if missing:
                more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
                raise SchemaError(f"{where}: missing column {missing[0]!r}{more}: expected {self.expected()}")
            return [index[n] for n in names]
        if self.n_features is not None and len(given) != self.n_features:
            raise SchemaError(f"{where}: expected {self.expected()}; it has {len(given)} columns ({span(given)})")
        return list(range(len(given)))

    def check_dtypes(self, names: list[str], kinds: list[str], where: str, numeric: bool) -> None:
        """Refuses a file column whose numpy dtype kind does not fit (all numeric when `numeric`)."""
        for j, (name, kind) in enumerate(zip(names, kinds)):
            declared = self.columns[j].type if self.columns is not None else None
            wants_number = declared in NUMERIC or (numeric and declared is None)
            if wants_number and kind not in "biuf":
                raise SchemaError(f"{where}: column {name!r} is not numeric (expected {declared or 'numbers'})")


def span(names: list[str] | None) -> str:
    """ "x0..x9" for many names, "a, b, c" for a few."""
    if not names:
        return "no names"
    if len(names) <= 4:
        return ", ".join(names)
    return f"{names[0]}..{names[-1]}"


def from_signature(inputs: str | list[Any], source: str) -> Schema | None:
    """The schema in an MLflow signature's `inputs`: column specs [{"name", "type"}] or one tensor spec
    [{"type": "tensor", "tensor-spec": {"shape": [-1, n]}}]."""
    specs = json.loads(inputs) if isinstance(inputs, str) else inputs
    if not isinstance(specs, list) or not specs or not all(isinstance(s, dict) for s in specs):
        return None
    if specs[0].get("type") == "tensor":
        shape = (specs[0].get("tensor-spec") or {}).get("shape") or []
        if len(specs) == 1 and len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0:
            return Schema(None, shape[1], source)
        return None
    return Schema([Column(s.get("name"), s.get("type")) for s in specs], None, source)


def from_schema_file(text: str, source: str) -> Schema:
    """kiln-schema.json: {"columns": [{"name": "x0", "type": "double"}, ...]} or {"n_features": 10}."""
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError("expected an object with 'columns' or 'n_features'")
    if "columns" in doc:
        columns = doc["columns"]
        if not isinstance(columns, list) or not columns:
            raise ValueError("'columns' must be a non-empty list")
        specs = []
        for c in columns:
            if isinstance(c, str):
                specs.append(Column(c))
            elif isinstance(c, dict) and isinstance(c.get("name"), str):
                specs.append(Column(c["name"], c.get("type")))
            else:
                raise ValueError(f"a column must be a name or {{'name': ..., 'type': ...}}; got {c!r}")
        return Schema(specs, None, source)
    n = doc.get("n_features")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError("expected 'columns' (a list) or 'n_features' (a positive integer)")
    return Schema(None, n, source)


# -- conversions -------------------------------------------------------------------------------------------


def numeric_array(rows: list[list[Any]], names: list[str] | None) -> Any:
    """A 2-D numpy array of the rows, refusing a value that is not a number (None becomes NaN). This is
    the fast path: numpy converts a list of number lists in a few microseconds."""
    import numpy as np

    array = plain_numbers(rows)
    if array is not None:
        return array
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if type(value) not in _NUMBER_TYPES and type(value) is not bool and value is not None:
                column = repr(names[j]) if names else str(j)
                raise SchemaError(f"expected numbers; row {i}, column {column} has {value!r}")
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def plain_numbers(rows: list[list[Any]]) -> Any:
    """The rows as a 2-D numeric numpy array when every value is a number, else None."""
    import numpy as np

    try:
        array = np.asarray(rows)
    except ValueError:  # cells of different shapes
        return None
    return array if array.ndim == 2 and array.dtype.kind in "biuf" else None


def frame(rows: list[list[Any]], names: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows, columns=names)
