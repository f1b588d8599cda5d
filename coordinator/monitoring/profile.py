"""The reference profile a model version is frozen with: what its training data looked like, column by column,
small enough to store beside the version (bounded sizes, JSON) and complete enough that every drift statistic
in drift.py compares a live window against it without the training data.

Per numeric column: the counts, mean and standard deviation, quantile bins with the reference's count in each
(what PSI, Jensen–Shannon and chi-square compare), and a sorted sample of the values (what Kolmogorov–Smirnov
and Wasserstein compare: whole distributions, not bins). Per categorical column (text, booleans, objects): the
most frequent categories with their counts, and one "other" bucket for the rest and for categories never seen.
The model's prediction is profiled like any other column, under the name the caller gives it.

Missing values (None, NaN, and ±inf, which no statistic can place) are counted apart and never binned.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from kiln.core.errors import InvalidArgument

PROFILE_VERSION = 1
DEFAULT_BINS = 10
MAX_BINS = 100
DEFAULT_SAMPLE = 100_000  # KS and Wasserstein are exact up to this many reference values
MAX_SAMPLE = 1_000_000
DEFAULT_CATEGORIES = 100
MAX_CATEGORIES = 1_000
MAX_COLUMNS = 1_000
MAX_NAME_CHARS = 200
MAX_CATEGORY_CHARS = 200  # longer categories are cut, in the profile and in every window alike

Kind: TypeAlias = Literal["numeric", "categorical"]
Values: TypeAlias = npt.ArrayLike | Sequence[Any]  # one column: an array, or a list with None where missing
Floats: TypeAlias = npt.NDArray[np.float64]
Counts: TypeAlias = npt.NDArray[np.int64]


class DriftInputError(InvalidArgument, ValueError):
    """Data or a profile the statistics cannot use; the message says what to fix. A ValueError to callers in
    Python, INVALID_ARGUMENT to a client when it comes through the coordinator."""


@dataclass(frozen=True, eq=False)
class NumericColumn:
    """A numeric column of the reference.

    Bins: `edges` are the interior edges; the outer ones are -inf and +inf, so bin i holds
    edges[i-1] <= x < edges[i] (len(edges) + 1 bins, `counts` the reference's values in each). The edges are
    reference values at the quantiles 1/bins .. (bins-1)/bins, deduplicated, so no reference bin is empty and
    chi-square's expected counts stay positive; a value filling several quantiles (the zeros of a sparse
    feature) gets a bin to itself, so a change in its share is seen. A column constant in the reference gets
    three bins (below, at, above the constant) and its two outer ones are empty: any other value then counts.

    `sample` is the sorted reference itself when it holds at most the profile's sample size (default 100,000)
    of values, else that many evenly spaced order statistics (deterministic). KS and Wasserstein compare
    against it, so they equal scipy's on the reference only when the reference is not larger than the cap.
    """

    name: str
    count: int  # values, the missing ones apart
    missing: int
    mean: float
    std: float  # population standard deviation (ddof=0), what Wasserstein is normalised by
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    sample: Floats = field(repr=False)
    kind: ClassVar[Kind] = "numeric"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericColumn):
            return NotImplemented
        mine = (self.name, self.count, self.missing, self.mean, self.std, self.edges, self.counts)
        theirs = (other.name, other.count, other.missing, other.mean, other.std, other.edges, other.counts)
        return mine == theirs and np.array_equal(self.sample, other.sample)


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical column of the reference: its most frequent categories (most frequent first) and their
    counts; `counts` has one more entry, the "other" bucket (the rarer categories; in a window, also the new)."""

    name: str
    count: int
    missing: int
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    kind: ClassVar[Kind] = "categorical"


Column: TypeAlias = NumericColumn | CategoricalColumn


@dataclass(frozen=True)
class Profile:
    """The reference of one model version: its columns, in order, and how many rows they came from."""

    columns: tuple[Column, ...]
    rows: int
    version: int = PROFILE_VERSION

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise DriftInputError(f"no column {name!r} in the profile; it has {', '.join(map(repr, self.names))}")

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "rows": self.rows, "columns": [_dump(c) for c in self.columns]})

    @classmethod
    def from_json(cls, text: str | bytes) -> Profile:
        """The profile `to_json` wrote, checked: a stored profile is input like any other."""
        try:
            doc = json.loads(text)
            _need(isinstance(doc, dict), "the document is not an object")
            _need(doc.get("version") == PROFILE_VERSION, f"version {doc.get('version')!r}, and this Kiln reads 1")
            raw = doc["columns"]
            _need(isinstance(raw, list) and 0 < len(raw) <= MAX_COLUMNS, f"1 to {MAX_COLUMNS} columns")
            columns = tuple(_load(c) for c in raw)
            rows = _int(doc["rows"])
            _need(len({c.name for c in columns}) == len(columns), "two columns of one name")
            _need(all(c.count + c.missing == rows for c in columns), "columns' counts and missing add up to rows")
        except DriftInputError as e:
            raise DriftInputError(f"not a drift profile Kiln wrote: {e}") from None
        except (KeyError, TypeError, ValueError) as e:  # json's own errors are ValueErrors
            raise DriftInputError(f"not a drift profile Kiln wrote: {type(e).__name__} {e}") from None
        return cls(columns, rows)


def profile(
    columns: Mapping[str, Values],
    *,
    bins: int = DEFAULT_BINS,
    sample_size: int = DEFAULT_SAMPLE,
    categories: int = DEFAULT_CATEGORIES,
) -> Profile:
    """The profile of the reference (training) data, one 1-D column per name. Numbers (ints, floats; None or
    NaN where missing) make a numeric column; text, booleans and other objects a categorical one."""
    if not 2 <= bins <= MAX_BINS or not 1 <= sample_size <= MAX_SAMPLE or not 1 <= categories <= MAX_CATEGORIES:
        raise DriftInputError(
            f"bins must be 2 to {MAX_BINS}, sample_size 1 to {MAX_SAMPLE:,}, categories 1 to {MAX_CATEGORIES}"
        )
    arrays, rows = table(columns, "reference")
    built: list[Column] = []
    for name, arr in arrays.items():
        if kind_of(arr) == "numeric":
            built.append(_numeric(name, arr, bins, sample_size))
        else:
            built.append(_categorical(name, arr, categories))
    return Profile(tuple(built), rows)


def table(columns: Mapping[str, Values], what: str) -> tuple[dict[str, np.ndarray], int]:
    """The columns as 1-D arrays, and their common length; `what` names the data in error messages."""
    if not columns:
        raise DriftInputError(f"the {what} has no columns: pass a mapping of column name to values")
    if len(columns) > MAX_COLUMNS:
        raise DriftInputError(f"the {what} has {len(columns):,} columns; at most {MAX_COLUMNS:,} are profiled")
    arrays: dict[str, np.ndarray] = {}
    for name, values in columns.items():
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
            raise DriftInputError(f"column names are text of 1 to {MAX_NAME_CHARS} characters, not {name!r:.60}")
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise DriftInputError(f"column {name!r} of the {what} has shape {arr.shape}: send one value per row")
        arrays[name] = arr
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{n!r}: {len(a):,}" for n, a in arrays.items())
        raise DriftInputError(f"the {what}'s columns differ in length ({sizes}): send one value per row in each")
    return arrays, lengths.pop()


def kind_of(arr: np.ndarray) -> Kind:
    if arr.dtype.kind in "fiu":
        return "numeric"
    if arr.dtype.kind == "O":
        return "numeric" if all(v is None or _is_number(v) for v in arr.tolist()) else "categorical"
    if arr.dtype.kind in "bUS":
        return "categorical"
    raise DriftInputError(f"{_what(arr)} cannot be profiled: convert them to numbers or to text first")


def numeric_values(name: str, arr: np.ndarray) -> tuple[Floats, int]:
    """The column's finite values as float64 (in their order), and how many were missing (None, NaN, ±inf)."""
    if arr.dtype.kind in "fiu":
        x = arr.astype(np.float64, copy=False)
    elif arr.dtype.kind == "O":
        items = arr.tolist()
        bad = next((v for v in items if v is not None and not _is_number(v)), None)
        if bad is not None:
            raise DriftInputError(
                f"column {name!r} is numeric, but holds {type(bad).__name__} values such as {bad!r:.40}: "
                "send numbers, with None or NaN for a missing value"
            )
        try:
            x = np.array([math.nan if v is None else v for v in items], dtype=np.float64)
        except OverflowError:
            raise DriftInputError(f"column {name!r} holds an integer too large for a float") from None
    else:
        raise DriftInputError(
            f"column {name!r} is numeric, but holds {_what(arr)}: send numbers, with None or NaN for a missing value"
        )
    finite = np.isfinite(x)
    if finite.all():
        return x, 0
    kept = x[finite]
    return kept, x.size - kept.size


def category_counts(arr: np.ndarray) -> tuple[dict[str, int], int]:
    """How often each category occurs, as text (cut to MAX_CATEGORY_CHARS), and how many values were missing."""
    counts: dict[str, int] = {}
    missing = 0
    for v, c in Counter(arr.tolist()).items():
        if v is None or (isinstance(v, float) and math.isnan(v)):
            missing += c
            continue
        key = (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v))[:MAX_CATEGORY_CHARS]
        counts[key] = counts.get(key, 0) + c
    return counts, missing


def _numeric(name: str, arr: np.ndarray, bins: int, sample_size: int) -> NumericColumn:
    x, missing = numeric_values(name, arr)
    n = x.size
    if n == 0:
        raise DriftInputError(f"column {name!r} has no values in the reference ({missing:,} missing): leave it out")
    s = np.sort(x)
    edges = _edges(s, bins)
    positions = np.searchsorted(s, edges, side="left")
    counts = np.diff(np.concatenate(([0], positions, [n])))
    if n > sample_size:  # the middle order statistic of each of sample_size equal slices
        s = s[(2 * np.arange(sample_size, dtype=np.int64) + 1) * n // (2 * sample_size)]
    s.setflags(write=False)
    std = float(np.std(x))
    return NumericColumn(name, n, missing, float(np.mean(x)), std, tuple(edges.tolist()), tuple(counts.tolist()), s)


def _edges(s: Floats, bins: int) -> Floats:
    """Interior bin edges of sorted values `s`: see NumericColumn."""
    n, lowest = s.size, s[0]
    values, repeats = np.unique(s[np.arange(1, bins) * n // bins], return_counts=True)
    heavy = values[(repeats > 1) | (values == lowest)]  # point masses: each gets [value, next value)
    after = np.searchsorted(s, heavy, side="right")
    edges = np.unique(np.concatenate((values[values > lowest], s[after[after < n]])))
    if edges.size == 0:  # constant: below, at, above
        up = np.nextafter(lowest, np.inf)
        edges = np.array([lowest, up] if math.isfinite(up) else [lowest])
    return edges


def _categorical(name: str, arr: np.ndarray, categories: int) -> CategoricalColumn:
    counts, missing = category_counts(arr)
    total = sum(counts.values())
    if total == 0:
        raise DriftInputError(f"column {name!r} has no values in the reference ({missing:,} missing): leave it out")
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:categories]
    kept = tuple(c for _, c in top)
    return CategoricalColumn(name, total, missing, tuple(k for k, _ in top), (*kept, total - sum(kept)))


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)


def _what(arr: np.ndarray) -> str:
    names = {"U": "text", "S": "bytes", "b": "booleans", "M": "dates", "m": "durations", "c": "complex numbers"}
    return names.get(arr.dtype.kind, f"{arr.dtype} values")


def _dump(c: Column) -> dict[str, Any]:
    common = {"name": c.name, "kind": c.kind, "count": c.count, "missing": c.missing, "counts": list(c.counts)}
    if isinstance(c, CategoricalColumn):
        return {**common, "categories": list(c.categories)}
    sample = base64.b64encode(c.sample.astype("<f8").tobytes()).decode("ascii")
    return {**common, "mean": c.mean, "std": c.std, "edges": list(c.edges), "sample": sample}


def _load(d: Any) -> Column:
    _need(isinstance(d, dict), "a column is not an object")
    name, kind, count, missing = d["name"], d["kind"], _int(d["count"]), _int(d["missing"])
    _need(isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS, f"column name {name!r:.60}")
    counts = tuple(_int(c) for c in d["counts"])
    _need(count > 0 and sum(counts) == count, f"column {name!r}: counts that add up to its count")
    if kind == "categorical":
        cats = d["categories"]
        _need(isinstance(cats, list) and len(cats) <= MAX_CATEGORIES, f"column {name!r}: a list of categories")
        _need(all(isinstance(k, str) and len(k) <= MAX_CATEGORY_CHARS for k in cats), f"{name!r}: text categories")
        _need(len(set(cats)) == len(cats) and len(counts) == len(cats) + 1, f"column {name!r}: a count per category")
        return CategoricalColumn(name, count, missing, tuple(cats), counts)
    _need(kind == "numeric", f"column {name!r}: kind {kind!r}")
    edges = np.array(d["edges"], dtype=np.float64)
    _need(edges.ndim == 1 and 0 < edges.size <= 2 * MAX_BINS and len(counts) == edges.size + 1, f"{name!r}: bins")
    _need(bool(np.isfinite(edges).all() and (np.diff(edges) > 0).all()), f"column {name!r}: increasing edges")
    raw = base64.b64decode(d["sample"], validate=True)
    _need(0 < len(raw) <= 8 * min(MAX_SAMPLE, count) and len(raw) % 8 == 0, f"column {name!r}: a sample")
    sample = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    _need(bool(np.isfinite(sample).all() and (np.diff(sample) >= 0).all()), f"column {name!r}: a sorted sample")
    sample.setflags(write=False)
    mean, std = float(d["mean"]), float(d["std"])
    _need(std >= 0, f"column {name!r}: a standard deviation")
    return NumericColumn(name, count, missing, mean, std, tuple(edges.tolist()), counts, sample)


def _int(v: Any) -> int:
    _need(type(v) is int and v >= 0, f"a count, not {v!r:.40}")
    return int(v)


def _need(condition: bool, what: str) -> None:
    if not condition:
        raise DriftInputError(f"expected {what}")
