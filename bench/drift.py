#!/usr/bin/env python3
"""Data drift at a deployed model's scale, in-process: the profile of a 100,000-row reference with 20 numeric
columns, and a 100,000-row window measured against it with each statistic of
`kiln.coordinator.monitoring.drift` over all 20 columns, timed several times (median). Beside each, in the
same run, scipy computing the same figures column by column: `ks_2samp` and `wasserstein_distance` (over
the reference's std) on the raw columns, and for the binned statistics numpy's `histogram` on the frozen
edges with scipy's `jensenshannon`, and `chi2_contingency` (correction=False) of the reference's and that
histogram's counts, bins empty on both sides left out (PSI, which scipy lacks, as its formula on that histogram).
Every value and p-value is checked against scipy's: the largest absolute difference must be <= 1e-9.

Figures are values per second per core: the window's values (rows x columns) over the process's CPU seconds
for the pass. The process runs one thread: BLAS and OpenMP are held to one before numpy loads, and neither
numpy's sorting, searching and counting nor scipy's statistics start threads of their own.

Target: the binned statistics (PSI, Jensen–Shannon, chi-square over the frozen bins) >= 15 M values/s per
core, so one core checks a day of a busy endpoint's traffic in well under a second.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TypeVar  # noqa: E402

import numpy as np  # noqa: E402
import scipy.stats  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, print_table  # noqa: E402
from kiln.coordinator.monitoring import drift  # noqa: E402
from kiln.coordinator.monitoring.profile import NumericColumn  # noqa: E402

TARGET = 15e6  # values/s per core, the binned statistics
TOLERANCE = 1e-9
Pair = tuple[float, float | None]  # a column's value and p-value
T = TypeVar("T")


def data(rows: int, columns: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A reference and a window of mixed shapes (normal, skewed, uniform, counts with ties); the window's
    odd columns moved by half a standard deviation, so half the columns drift."""
    makers: list[Callable[[float, int], np.ndarray]] = [
        lambda shift, n: rng.normal(shift, 1.0, n),
        lambda shift, n: rng.lognormal(shift / 2, 0.5, n),
        lambda shift, n: rng.uniform(shift, 1.0 + shift, n) * 3.5,
        lambda shift, n: rng.poisson(4.0 + shift * 2, n).astype(np.float64),
    ]
    reference, window = {}, {}
    for i in range(columns):
        make = makers[i % len(makers)]
        reference[f"f{i:02d}"] = make(0.0, rows)
        window[f"f{i:02d}"] = make(0.5 if i % 2 else 0.0, rows)
    return reference, window


def scipy_peer(statistic: str, column: NumericColumn, ref: np.ndarray, cur: np.ndarray) -> Pair:
    """What one would write with scipy alone, one column at a time."""
    if statistic == "ks":
        r = scipy.stats.ks_2samp(ref, cur)
        return float(r.statistic), float(r.pvalue)
    if statistic == "wasserstein":
        return float(scipy.stats.wasserstein_distance(ref, cur) / np.std(ref)), None
    expected = np.array(column.counts, dtype=np.float64)
    observed = np.histogram(cur, np.array([-np.inf, *column.edges, np.inf]))[0]
    if statistic == "jensenshannon":
        return float(jensenshannon(expected, observed)), None
    if statistic == "chisquare":
        table = np.array([column.counts, observed])
        c = scipy.stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
        return float(c.statistic), float(c.pvalue)
    p, q = expected / expected.sum(), observed / observed.sum()
    p, q = np.where(p == 0, drift.PSI_EMPTY_SHARE, p), np.where(q == 0, drift.PSI_EMPTY_SHARE, q)
    return float(np.sum((q - p) * np.log(q / p))), None


def cpu_times(fn: Callable[[], T], repeat: int) -> tuple[list[float], T]:
    """The CPU seconds of each of `repeat` calls, and the last call's result."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        times.append(time.process_time() - start)
    return times, result


def largest_difference(ours: list[Pair], theirs: list[Pair]) -> float:
    worst = 0.0
    for (v, p), (v2, p2) in zip(ours, theirs, strict=True):
        worst = max(worst, 0.0 if v == v2 else abs(v - v2))  # equal infinities differ by nothing
        if (p is None) != (p2 is None):
            return float("inf")
        if p is not None and p2 is not None:
            worst = max(worst, abs(p - p2))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reference, window = data(args.rows, args.columns, np.random.default_rng(20))
    values = args.rows * args.columns

    profile_times, profile = cpu_times(lambda: drift.profile(reference), args.repeat)
    columns = [c for c in profile.columns if isinstance(c, NumericColumn)]
    rows: list[list[object]] = [
        ["profile of the reference", f"{values / median(profile_times) / 1e6:.1f} M", "", "", "", "", ""]
    ]
    ok = True
    for statistic in drift.STATISTICS:

        def kiln_pass(s: drift.Statistic = statistic) -> drift.DriftReport:
            return drift.drift(profile, window, s)

        def scipy_pass(s: drift.Statistic = statistic) -> list[Pair]:
            return [scipy_peer(s, c, reference[c.name], window[c.name]) for c in columns]

        ours_times, report = cpu_times(kiln_pass, args.repeat)
        peer_times, theirs = cpu_times(scipy_pass, args.repeat)
        difference = largest_difference([(c.value, c.p_value) for c in report.columns], theirs)
        ok = ok and difference <= TOLERANCE
        ours, scipys = values / median(ours_times), values / median(peer_times)
        target = ""
        if statistic in drift.BINNED:
            target = f">= {TARGET / 1e6:.0f} M: {'ok' if ours >= TARGET else 'MISSED'} ({ours / TARGET:.0f}x)"
        rows.append(
            [
                statistic,
                f"{ours / 1e6:.1f} M",
                f"{scipys / 1e6:.1f} M",
                f"{ours / scipys:.1f}x",
                target,
                f"{difference:.1e} ({'ok' if difference <= TOLERANCE else 'OVER 1e-9'})",
                f"{len(report.drifted_columns)} of {len(report.columns)}",
            ]
        )
    print_table(
        f"drift of {args.columns} numeric columns: {args.rows:,} reference x {args.rows:,} window rows, "
        f"one thread (median of {args.repeat}; values = window rows x columns)",
        ["statistic", "kiln values/s/core", "scipy by column", "ratio", "target", "max |diff| to scipy", "drifted"],
        rows,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
