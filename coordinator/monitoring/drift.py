"""Data drift of a deployed model's inputs and prediction: a window of live rows against the reference profile
frozen with the model version (profile.py), column by column, then the whole window.

The statistics, and when each is drifted (the defaults follow Evidently's, a fair start):

| statistic     | kind of column        | measures                                        | drifted when     |
|---------------|-----------------------|-------------------------------------------------|------------------|
| psi           | numeric, categorical  | population stability index over the frozen bins | value >= 0.1     |
| jensenshannon | numeric, categorical  | Jensen–Shannon distance over the frozen bins    | value >= 0.1     |
| chisquare     | numeric, categorical  | two-sample chi-square test over the frozen bins | p-value < 0.05   |
| ks            | numeric               | two-sample Kolmogorov–Smirnov test              | p-value < 0.05   |
| wasserstein   | numeric               | Wasserstein-1 distance / the reference's std    | value >= 0.1     |

Unless told otherwise each column gets the statistic that suits its reference size (`default_statistic`): up
to 1,000 reference values the tests (KS for numbers, chi-square for categories), whose p-values are meaningful
at that size; above, the distances (Wasserstein, Jensen–Shannon), since with many rows a test calls every
negligible difference significant. The window is drifted when at least half its columns are.

Definitions, each chosen to equal scipy's (and, but for chi-square, Evidently's) on the same input:
- PSI: sum over bins of (q - p) * ln(q / p), p and q the reference's and window's shares; an empty bin's
  share counts as 1e-4 (Evidently's), not renormalised, so a bin only one side fills adds a bounded amount.
- Jensen–Shannon: `scipy.spatial.distance.jensenshannon` of the two shares, natural log (scipy's and
  Evidently's default, so the 0.1 threshold keeps Evidently's meaning); it lies in [0, sqrt(ln 2) ~ 0.83],
  and the base-2 distance, in [0, 1], is this one / sqrt(ln 2).
- chi-square: the two-sample test of homogeneity, `scipy.stats.chi2_contingency(table, correction=False)`
  on the 2 x K table of the reference's and the window's counts in the frozen bins (or the categories and
  "other"), K - 1 degrees of freedom. Two-sample because the reference is a sample too: the one-sample test
  (`scipy.stats.chisquare` of the window against the reference's shares, Evidently's) takes those shares as
  exact and so, unless the window is much smaller than the reference, alarms far above 5% on unchanged data
  (46% of 1,000-row windows against a 1,000-row reference); this one stays near 5%. Bins or categories empty
  on both sides are left out first (chi2_contingency refuses a zero expected count); with fewer than two
  left the statistic is 0 and the p-value 1, chi2_contingency's degenerate case. A window value in a bin the
  reference never filled (a new category, or off a constant) is a count like any other, weighed against
  both samples' sizes: enough of them drift, a single one in a small window need not.
- KS: `scipy.stats.ks_2samp` (two-sided, method auto) against the profile's sample; above 10,000 values on
  either side the statistic is computed here from one merge of the sorted samples and the p-value from
  scipy's `kstwo` exactly as ks_2samp does, equal to it to the last bit.
- Wasserstein: `scipy.stats.wasserstein_distance` against the sample, divided by the full reference's
  population std. A reference column of zero std is divided by 0.001 instead (Evidently's floor, which it
  applies to every std; here only to a zero one, so a feature on a small scale keeps its sensitivity): an
  unchanged constant reads 0, anything else drifts once it moves the mean by 0.0001.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeAlias, get_args

import numpy as np
import scipy.special
import scipy.stats

from kiln.coordinator.monitoring.profile import (
    CategoricalColumn,
    Column,
    Counts,
    DriftInputError,
    Floats,
    Kind,
    NumericColumn,
    Profile,
    Values,
    category_counts,
    numeric_values,
    profile,
    table,
)

__all__ = [
    "CategoricalColumn",
    "ColumnDrift",
    "DriftInputError",
    "DriftReport",
    "NumericColumn",
    "Profile",
    "chisquare",
    "default_statistic",
    "drift",
    "jensenshannon",
    "ks",
    "profile",
    "psi",
    "wasserstein",
]

Statistic: TypeAlias = Literal["psi", "jensenshannon", "chisquare", "ks", "wasserstein"]
STATISTICS: tuple[Statistic, ...] = get_args(Statistic)
BINNED: frozenset[Statistic] = frozenset({"psi", "jensenshannon", "chisquare"})
THRESHOLDS: Mapping[Statistic, float] = MappingProxyType(
    {"psi": 0.1, "jensenshannon": 0.1, "chisquare": 0.05, "ks": 0.05, "wasserstein": 0.1}
)
SMALL_REFERENCE = 1_000  # up to this many reference values, the tests; above, the distances
DRIFT_SHARE = 0.5
PSI_EMPTY_SHARE = 1e-4
ZERO_STD_NORM = 1e-3
KS_EXACT_MAX = 10_000  # ks_2samp's own limit for its exact p-value (MAX_AUTO_N)
_COMPARE_MAX_EDGES = 32  # up to this many edges, one counting pass per edge beats sorting the window


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    statistic: Statistic
    value: float  # the distance; for the tests, their statistic (KS's D, chi-square's sum)
    threshold: float  # what the distance, or the tests' p-value, is held against
    drifted: bool
    p_value: float | None  # the tests'; None for the distances
    count: int = 0  # the window's values in the column
    missing: int = 0  # and those missing there (None, NaN, ±inf)


@dataclass(frozen=True)
class DriftReport:
    columns: tuple[ColumnDrift, ...]
    share_drifted: float
    drifted: bool  # share_drifted >= drift_share
    drift_share: float
    rows: int

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.drifted)


def default_statistic(ref_count: int, kind: Kind) -> Statistic:
    """The test up to SMALL_REFERENCE reference values, the distance above (see the module's docstring)."""
    if kind == "numeric":
        return "ks" if ref_count <= SMALL_REFERENCE else "wasserstein"
    if kind == "categorical":
        return "chisquare" if ref_count <= SMALL_REFERENCE else "jensenshannon"
    raise DriftInputError(f"kind is 'numeric' or 'categorical', not {kind!r}")


def drift(
    profile: Profile,
    current: Mapping[str, Values],
    statistic: Statistic | Mapping[str, Statistic] | None = None,
    *,
    thresholds: Mapping[Statistic, float] | None = None,
    drift_share: float = DRIFT_SHARE,
) -> DriftReport:
    """Drift of the window `current` (every column of the profile, one value per row) against `profile`.

    `statistic`: None for each column's default; one name for every column (KS and Wasserstein apply to
    numbers only, so categorical columns then keep their default); or a name per column, the rest default.
    `thresholds` replace THRESHOLDS' for the statistics they name."""
    arrays, rows = table(current, "current window")
    by_name = {c.name: c for c in profile.columns}
    unknown = [n for n in arrays if n not in by_name]
    if unknown:
        raise DriftInputError(f"columns not in the profile: {', '.join(map(repr, unknown))}; it has {_names(by_name)}")
    absent = [n for n in by_name if n not in arrays]
    if absent:
        raise DriftInputError(
            f"the window lacks the profile's columns {', '.join(map(repr, absent))}: send every column, or "
            "measure single ones with psi(), ks() and the other statistics"
        )
    if rows == 0:
        raise DriftInputError("the current window is empty: send at least one row")
    if not 0 < drift_share <= 1:
        raise DriftInputError(f"drift_share is a share of the columns, above 0 and at most 1, not {drift_share}")
    chosen = _choose(profile, statistic)
    limits = {**THRESHOLDS, **(thresholds or {})}
    for s in limits:
        if s not in STATISTICS:
            raise DriftInputError(f"no statistic {s!r}: thresholds name one of {', '.join(STATISTICS)}")
    measured = tuple(_measure(c, arrays[c.name], chosen[c.name], limits[chosen[c.name]]) for c in profile.columns)
    share = sum(m.drifted for m in measured) / len(measured)
    return DriftReport(measured, share, share >= drift_share, drift_share, rows)


def psi(column: Column, values: Values, threshold: float = THRESHOLDS["psi"]) -> ColumnDrift:
    return _measure(column, np.asarray(values), "psi", threshold)


def jensenshannon(column: Column, values: Values, threshold: float = THRESHOLDS["jensenshannon"]) -> ColumnDrift:
    return _measure(column, np.asarray(values), "jensenshannon", threshold)


def chisquare(column: Column, values: Values, threshold: float = THRESHOLDS["chisquare"]) -> ColumnDrift:
    return _measure(column, np.asarray(values), "chisquare", threshold)


def ks(column: NumericColumn, values: Values, threshold: float = THRESHOLDS["ks"]) -> ColumnDrift:
    return _measure(column, np.asarray(values), "ks", threshold)


def wasserstein(column: NumericColumn, values: Values, threshold: float = THRESHOLDS["wasserstein"]) -> ColumnDrift:
    return _measure(column, np.asarray(values), "wasserstein", threshold)


def _choose(profile: Profile, statistic: Statistic | Mapping[str, Statistic] | None) -> dict[str, Statistic]:
    chosen = {c.name: default_statistic(c.count, c.kind) for c in profile.columns}
    if statistic is None:
        return chosen
    if isinstance(statistic, str):
        _known(statistic)
        for c in profile.columns:
            if statistic in BINNED or isinstance(c, NumericColumn):
                chosen[c.name] = statistic
        return chosen
    for name, s in statistic.items():
        column = profile.column(name)
        _known(s)
        _applies(column, s)
        chosen[name] = s
    return chosen


def _measure(column: Column, arr: np.ndarray, statistic: Statistic, threshold: float) -> ColumnDrift:
    _known(statistic)
    _applies(column, statistic)
    if arr.ndim != 1:
        raise DriftInputError(f"column {column.name!r} of the window has shape {arr.shape}: send one value per row")
    if isinstance(column, NumericColumn):
        x, missing = numeric_values(column.name, arr)
        count = x.size
        current = _numeric_bins(column, x) if statistic in BINNED else None
    else:
        counts, missing = category_counts(arr)
        count = sum(counts.values())
        current = _category_bins(column, counts)
    if count == 0:
        raise DriftInputError(
            f"column {column.name!r} has no values in the current window ({missing:,} missing): "
            "drift needs at least one value per column"
        )
    p_value: float | None = None
    if current is not None:
        reference = np.array(column.counts, dtype=np.int64)
        if statistic == "psi":
            value = _psi(reference, current)
        elif statistic == "jensenshannon":
            value = _jensenshannon(reference, current)
        else:
            value, p_value = _chisquare(reference, current)
    elif statistic == "ks":
        assert isinstance(column, NumericColumn)
        value, p_value = _ks(column.sample, x)
    else:
        assert isinstance(column, NumericColumn)
        value = _wasserstein(column.sample, np.sort(x)) / (column.std if column.std > 0 else ZERO_STD_NORM)
    drifted = p_value < threshold if p_value is not None else value >= threshold
    return ColumnDrift(column.name, statistic, float(value), threshold, bool(drifted), p_value, count, missing)


def _numeric_bins(column: NumericColumn, x: Floats) -> Counts:
    """The window's count in each of the column's bins. Few edges: one vectorised comparison per edge (about
    0.1 ms per 100,000 values and edge); many: one sort of the window, then a binary search per edge."""
    edges = column.edges
    if len(edges) <= _COMPARE_MAX_EDGES:
        below = np.array([x.size - np.count_nonzero(x >= e) for e in edges], dtype=np.int64)
    else:
        below = np.searchsorted(np.sort(x), edges, side="left").astype(np.int64)
    return np.diff(np.concatenate(([0], below, [x.size]))).astype(np.int64)


def _category_bins(column: CategoricalColumn, counts: Mapping[str, int]) -> Counts:
    known = [counts.get(k, 0) for k in column.categories]
    return np.array([*known, sum(counts.values()) - sum(known)], dtype=np.int64)


def _psi(reference: Counts, current: Counts) -> float:
    p, q = reference / reference.sum(), current / current.sum()
    p[p == 0] = PSI_EMPTY_SHARE
    q[q == 0] = PSI_EMPTY_SHARE
    return float(np.sum((q - p) * np.log(q / p)))


def _jensenshannon(reference: Counts, current: Counts) -> float:
    """scipy.spatial.distance.jensenshannon's arithmetic, without its argument handling."""
    p, q = reference / reference.sum(), current / current.sum()
    m = (p + q) / 2.0
    js = np.sum(scipy.special.rel_entr(p, m)) + np.sum(scipy.special.rel_entr(q, m))
    return float(np.sqrt(js / 2.0))


def _chisquare(reference: Counts, current: Counts) -> tuple[float, float]:
    """(statistic, p-value) of scipy.stats.chi2_contingency([reference, current], correction=False), the bins
    empty on both sides left out: its arithmetic on the 2 x K table, without its argument handling."""
    table = np.stack((reference, current))
    table = table[:, table.sum(axis=0) > 0]
    dof = table.shape[1] - 1
    if dof < 1:  # one bin left: the two rows are proportional, chi2_contingency's degenerate case
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(scipy.special.chdtrc(dof, statistic))


def _ks(sample: Floats, x: Floats) -> tuple[float, float]:
    """(statistic, p-value) of scipy.stats.ks_2samp(sample, x), `sample` sorted."""
    if max(sample.size, x.size) <= KS_EXACT_MAX:  # scipy's exact p-value: let scipy compute it all
        r = scipy.stats.ks_2samp(sample, x)
        return float(r.statistic), float(r.pvalue)
    merged, ref_at, cur_at = _merge(sample, np.sort(x))
    ends = np.ones(merged.size, dtype=bool)  # the last of each run of equal values: where ks_2samp's cdfs stand
    np.not_equal(merged[1:], merged[:-1], out=ends[:-1])
    diffs = ref_at[ends] / sample.size - cur_at[ends] / x.size
    above, below = float(diffs.max()), float(np.clip(-diffs.min(), 0, 1))
    d = below if below > above else above
    m, n = sorted([float(sample.size), float(x.size)], reverse=True)
    p = scipy.stats.kstwo.sf(d, np.round(m * n / (m + n)))
    return d, float(np.clip(p, 0, 1))


def _wasserstein(sample: Floats, current: Floats) -> float:
    """scipy.stats.wasserstein_distance(sample, current) for two sorted arrays, in one merge. Within a run of
    equal values the counts here differ from scipy's, but there the gap to the next value, their weight, is 0."""
    merged, ref_at, cur_at = _merge(sample, current)
    gaps = np.diff(merged)
    return float(np.vecdot(np.abs(ref_at[:-1] / sample.size - cur_at[:-1] / current.size), gaps))


def _merge(a: Floats, b: Floats) -> tuple[Floats, Counts, Counts]:
    """Sorted `a` and `b` merged (a's first among equal values), and how many of each lie at or before each
    place: one binary search of a's values in b, instead of sorting both together."""
    places = np.arange(a.size) + np.searchsorted(b, a, side="left")
    from_a = np.zeros(a.size + b.size, dtype=bool)
    from_a[places] = True
    merged = np.empty(a.size + b.size)
    merged[places] = a
    merged[~from_a] = b
    a_at = np.cumsum(from_a, dtype=np.int64)
    return merged, a_at, np.arange(1, merged.size + 1, dtype=np.int64) - a_at


def _known(statistic: str) -> None:
    if statistic not in STATISTICS:
        raise DriftInputError(f"no statistic {statistic!r}: choose one of {', '.join(STATISTICS)}")


def _applies(column: Column, statistic: Statistic) -> None:
    if isinstance(column, CategoricalColumn) and statistic not in BINNED:
        raise DriftInputError(
            f"{statistic} measures numbers and column {column.name!r} is categorical: use chisquare, "
            "jensenshannon or psi"
        )


def _names(by_name: Mapping[str, Column]) -> str:
    return ", ".join(map(repr, by_name))
