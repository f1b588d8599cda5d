"""Data drift against a frozen reference profile: each statistic equals scipy's on the same input, drift is
flagged where there is some and not where there is none, and bad input is refused with a message."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.distance import jensenshannon

from kiln.coordinator.monitoring import drift
from kiln.coordinator.monitoring.profile import CategoricalColumn, DriftInputError, NumericColumn, Values

TOLERANCE = 1e-9


def numeric(values: np.ndarray, **kwargs: int) -> NumericColumn:
    column = drift.profile({"x": values}, **kwargs).columns[0]
    assert isinstance(column, NumericColumn)
    return column


def categorical(values: Values, **kwargs: int) -> CategoricalColumn:
    column = drift.profile({"c": values}, **kwargs).columns[0]
    assert isinstance(column, CategoricalColumn)
    return column


def window_bins(column: NumericColumn, values: np.ndarray) -> np.ndarray:
    """The window's counts in the column's bins, by numpy's own histogram (bins [a, b), the last one closed
    at +inf, which no finite value reaches)."""
    return np.histogram(values, np.array([-np.inf, *column.edges, np.inf]))[0]


def contingency(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """scipy's two-sample chi-square on the two rows of counts, the bins empty on both sides left out (which
    chi2_contingency, refusing a zero expected count, needs)."""
    table = np.array([reference, current])
    result = scipy.stats.chi2_contingency(table[:, table.sum(axis=0) > 0], correction=False)
    return float(result.statistic), float(result.pvalue)


def assert_chisquare_equals_scipy(
    column: NumericColumn | CategoricalColumn, values: Values, current: np.ndarray
) -> None:
    """drift.chisquare of `values` equals chi2_contingency of the reference's counts and `current`, the
    window's counts in the same bins (the categories and "other")."""
    measured = drift.chisquare(column, values)
    statistic, p_value = contingency(np.array(column.counts), current)
    assert measured.p_value is not None and math.isfinite(measured.value)
    assert abs(measured.value - statistic) <= TOLERANCE * max(1.0, statistic)
    assert abs(measured.p_value - p_value) <= TOLERANCE
    assert measured.drifted == (p_value < 0.05)


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "decimals"),
    [(300, 450, None), (800, 800, 1), (12_000, 15_000, None), (20_000, 11_000, 2), (10_001, 10_001, 1)],
)
def test_ks_equals_scipy(n_ref: int, n_cur: int, decimals: int | None) -> None:
    """Both of ks_2samp's p-value paths (exact up to 10,000 values, asymptotic above) and ties."""
    rng = np.random.default_rng(n_ref)
    ref, cur = rng.normal(size=n_ref), rng.normal(0.03, 1.0, size=n_cur)
    if decimals is not None:
        ref, cur = ref.round(decimals), cur.round(decimals)
    measured = drift.ks(numeric(ref), cur)
    expected = scipy.stats.ks_2samp(ref, cur)
    assert measured.p_value is not None
    assert abs(measured.value - expected.statistic) <= TOLERANCE
    assert abs(measured.p_value - expected.pvalue) <= TOLERANCE
    assert measured.drifted == (expected.pvalue < 0.05)


@pytest.mark.parametrize(("n_ref", "n_cur", "decimals"), [(1_000, 700, None), (30_000, 50_000, 2), (5, 3, None)])
def test_wasserstein_equals_scipy_over_the_reference_std(n_ref: int, n_cur: int, decimals: int | None) -> None:
    rng = np.random.default_rng(n_cur)
    ref, cur = rng.lognormal(size=n_ref), rng.lognormal(0.1, 1.0, size=n_cur)
    if decimals is not None:
        ref, cur = ref.round(decimals), cur.round(decimals)
    measured = drift.wasserstein(numeric(ref), cur)
    assert abs(measured.value - scipy.stats.wasserstein_distance(ref, cur) / np.std(ref)) <= TOLERANCE
    assert measured.p_value is None


def test_binned_statistics_equal_scipy_on_the_frozen_bins() -> None:
    rng = np.random.default_rng(1)
    column = numeric(rng.gamma(2.0, size=20_000))
    cur = rng.gamma(2.2, size=7_000)
    ref_counts, cur_counts = np.array(column.counts), window_bins(column, cur)
    assert len(column.counts) == 10 and min(column.counts) > 0

    js = drift.jensenshannon(column, cur)
    assert abs(js.value - jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())) <= TOLERANCE

    assert_chisquare_equals_scipy(column, cur, cur_counts)

    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    assert abs(drift.psi(column, cur).value - np.sum((q - p) * np.log(q / p))) <= TOLERANCE


def test_many_bins_count_like_few() -> None:
    """Past 32 edges the window is binned by sorting it instead of one comparison per edge: same counts."""
    rng = np.random.default_rng(2)
    column = numeric(rng.normal(size=5_000), bins=60)
    cur = rng.normal(size=3_000)
    ref_counts, cur_counts = np.array(column.counts), window_bins(column, cur)
    expected = jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    assert len(column.edges) == 59
    assert abs(drift.jensenshannon(column, cur).value - expected) <= TOLERANCE


@pytest.mark.parametrize("statistic", drift.STATISTICS)
def test_a_shift_of_half_a_std_drifts_and_the_same_distribution_does_not(statistic: drift.Statistic) -> None:
    rng = np.random.default_rng(7)
    reference = drift.profile({"x": rng.normal(10.0, 2.0, size=5_000)})
    same = drift.drift(reference, {"x": rng.normal(10.0, 2.0, size=4_000)}, statistic)
    shifted = drift.drift(reference, {"x": rng.normal(11.0, 2.0, size=4_000)}, statistic)
    assert not same.drifted and same.columns[0].statistic == statistic
    assert shifted.drifted and shifted.drifted_columns == ("x",)


def test_the_default_statistic_switches_above_1000_reference_values() -> None:
    assert drift.default_statistic(1_000, "numeric") == "ks"
    assert drift.default_statistic(1_001, "numeric") == "wasserstein"
    assert drift.default_statistic(1_000, "categorical") == "chisquare"
    assert drift.default_statistic(1_001, "categorical") == "jensenshannon"
    rng = np.random.default_rng(3)
    for rows, expected in [(1_000, ("ks", "chisquare")), (1_001, ("wasserstein", "jensenshannon"))]:
        data = {"n": rng.normal(size=rows), "c": rng.choice(["a", "b"], size=rows)}
        report = drift.drift(drift.profile(data), {"n": rng.normal(size=50), "c": rng.choice(["a", "b"], size=50)})
        assert tuple(c.statistic for c in report.columns) == expected


def test_the_window_drifts_when_half_its_columns_do() -> None:
    rng = np.random.default_rng(4)
    reference = drift.profile({name: rng.normal(size=5_000) for name in "abcd"})
    shift = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0}
    half = drift.drift(reference, {n: rng.normal(s, size=2_000) for n, s in shift.items()})
    assert half.share_drifted == 0.5 and half.drifted and half.drifted_columns == ("a", "b")
    shift["b"] = 0.0
    quarter = drift.drift(reference, {n: rng.normal(s, size=2_000) for n, s in shift.items()})
    assert quarter.share_drifted == 0.25 and not quarter.drifted
    assert quarter.rows == 2_000 and quarter.drift_share == 0.5


def test_categorical_drift_and_new_categories() -> None:
    rng = np.random.default_rng(5)
    cats = np.array(["red", "green", "blue", "grey"])
    column = categorical(rng.choice(cats, p=[0.4, 0.3, 0.2, 0.1], size=5_000))
    assert column.categories == ("red", "green", "blue", "grey") and column.counts[-1] == 0  # no "other" yet

    same = rng.choice(cats, p=[0.4, 0.3, 0.2, 0.1], size=300)
    moved = rng.choice(cats, p=[0.1, 0.2, 0.3, 0.4], size=300)
    assert not drift.jensenshannon(column, same).drifted and not drift.chisquare(column, same).drifted
    assert drift.jensenshannon(column, moved).drifted and drift.chisquare(column, moved).drifted

    counts = np.array([np.count_nonzero(moved == c) for c in column.categories])
    ref = np.array(column.counts[:-1])
    expected = jensenshannon(ref / ref.sum(), counts / counts.sum())
    assert abs(drift.jensenshannon(column, moved).value - expected) <= TOLERANCE
    assert_chisquare_equals_scipy(column, moved, np.r_[counts, 0])  # "other" empty on both sides: left out

    unseen = [*same.tolist(), "purple"]  # a category the reference never had: a count in "other" like any
    in_same = [np.count_nonzero(same == c) for c in column.categories]
    assert_chisquare_equals_scipy(column, unseen, np.r_[in_same, 1])
    assert drift.chisquare(column, unseen).drifted  # one in 301 against none in 5,000 is already significant


def test_chisquare_counts_the_other_bucket_on_both_sides() -> None:
    rng = np.random.default_rng(11)
    names = np.array([f"k{i}" for i in range(8)])
    shares = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    column = categorical(rng.choice(names, p=shares, size=900), categories=5)
    assert len(column.categories) == 5 and column.counts[-1] > 0  # three categories in "other"
    window = rng.choice(np.r_[names, ["new"]], p=np.r_[shares * 0.95, 0.05], size=600)
    known = [np.count_nonzero(window == c) for c in column.categories]
    assert_chisquare_equals_scipy(column, window, np.r_[known, window.size - sum(known)])


@pytest.mark.parametrize(("bins", "n_ref", "n_cur"), [(2, 200, 50), (10, 1_000, 1_000), (60, 5_000, 3_000)])
def test_chisquare_equals_chi2_contingency(bins: int, n_ref: int, n_cur: int) -> None:
    """Few bins and many (past 32 edges the window is binned by sorting), equal and unequal sizes."""
    rng = np.random.default_rng(bins)
    column = numeric(rng.normal(size=n_ref), bins=bins)
    cur = rng.normal(0.1, 1.0, size=n_cur)
    assert_chisquare_equals_scipy(column, cur, window_bins(column, cur))


def test_chisquare_alarms_near_its_level_on_unchanged_data_and_flags_a_shift() -> None:
    """The two-sample test: on 200 windows of 1,000 rows from the reference's distribution, each against a
    fresh 1,000-row reference, about 5% flagged (the one-sample test, against the reference's shares as if
    exact, flags near half); moved by a quarter of a std, nearly all."""
    rng = np.random.default_rng(13)
    trials, rows = 200, 1_000
    same = shifted = categories = 0
    letters, shares = ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1]
    for _ in range(trials):
        column = numeric(rng.normal(size=rows))
        same += drift.chisquare(column, rng.normal(size=rows)).drifted
        shifted += drift.chisquare(column, rng.normal(0.25, 1.0, size=rows)).drifted
        cats = categorical(rng.choice(letters, p=shares, size=rows))
        categories += drift.chisquare(cats, rng.choice(letters, p=shares, size=rows)).drifted
    assert same <= 0.10 * trials and categories <= 0.10 * trials
    assert shifted >= 0.9 * trials


def test_categorical_columns_keep_the_top_categories_and_an_other_bucket() -> None:
    values = [f"c{i}" for i in range(150) for _ in range(150 - i)] + [True, False, None]
    column = categorical(np.array(values, dtype=object), categories=100)
    assert len(column.categories) == 100 and column.categories[:2] == ("c0", "c1")
    assert column.counts[-1] == sum(150 - i for i in range(100, 150)) + 2 and column.missing == 1
    bools = categorical(np.array([True, False, True]))
    assert bools.kind == "categorical" and bools.categories == ("True", "False")


def test_missing_values_are_counted_not_binned() -> None:
    rng = np.random.default_rng(6)
    ref = rng.normal(size=4_000)
    ref[::10] = np.nan
    column = numeric(ref)
    assert (column.count, column.missing, sum(column.counts)) == (3_600, 400, 3_600)

    cur = rng.normal(size=2_000)
    cur[:600] = np.nan
    cur[600] = np.inf
    for statistic in (drift.psi, drift.jensenshannon, drift.ks, drift.wasserstein):
        measured = statistic(column, cur)
        assert (measured.count, measured.missing) == (1_399, 601) and not measured.drifted
    with_none = drift.wasserstein(column, [None, *cur[601:].tolist()])
    assert with_none.missing == 1 and with_none.value == drift.wasserstein(column, cur).value

    reference = drift.profile({"x": ref, "c": ["a", None, "b", float("nan")] * 1_000})
    assert reference.column("c").missing == 2_000 and reference.column("c").count == 2_000


def test_a_constant_reference_column_divides_by_no_zero() -> None:
    column = numeric(np.full(500, 3.0))
    assert column.std == 0.0 and column.counts == (0, 500, 0)
    unchanged = np.full(200, 3.0)
    for statistic in (drift.psi, drift.jensenshannon, drift.chisquare, drift.ks, drift.wasserstein):
        assert not statistic(column, unchanged).drifted
    moved = np.r_[np.full(199, 3.0), 4.0]
    distance = scipy.stats.wasserstein_distance(unchanged, moved)
    assert drift.wasserstein(column, moved).value == pytest.approx(distance / 1e-3)  # over the 0.001 floor
    assert drift.wasserstein(column, moved).drifted
    # chi-square weighs the one value off the constant against both samples: one in 200 beside 500 reference
    # values could land in either (p 0.11); ten in 200 cannot
    assert_chisquare_equals_scipy(column, moved, np.array([0, 199, 1]))
    assert not drift.chisquare(column, moved).drifted
    assert drift.chisquare(column, np.r_[np.full(190, 3.0), np.full(10, 4.0)]).drifted


def test_a_point_mass_gets_a_bin_of_its_own() -> None:
    sparse = np.r_[np.zeros(950), np.linspace(1.0, 2.0, 50)]
    column = numeric(sparse)
    assert column.edges[0] == 1.0 and column.counts[0] == 950
    assert drift.psi(column, np.r_[np.zeros(500), np.linspace(1.0, 2.0, 500)]).drifted


def test_a_large_reference_is_sampled_evenly_and_deterministically() -> None:
    ref = np.random.default_rng(8).normal(size=50_000)
    column = numeric(ref, sample_size=1_000)
    assert column.sample.size == 1_000 and bool(np.all(np.diff(column.sample) >= 0))
    assert np.array_equal(column.sample, numeric(ref, sample_size=1_000).sample)
    assert column.count == 50_000 and column.std == np.std(ref)
    assert abs(np.median(column.sample) - np.median(ref)) < 0.01


def test_the_profile_survives_json() -> None:
    rng = np.random.default_rng(9)
    data = {
        "age": rng.integers(18, 90, size=3_000),
        "income": np.where(rng.random(3_000) < 0.05, np.nan, rng.lognormal(10, 1, size=3_000)),
        "plan": rng.choice(["free", "pro", "team"], size=3_000),
        "prediction": rng.random(3_000),
    }
    reference = drift.profile(data)
    text = reference.to_json()
    loaded = drift.Profile.from_json(text)
    assert loaded == reference and loaded.version == 1 and loaded.names == ("age", "income", "plan", "prediction")
    window = {name: values[:500] for name, values in data.items()}
    assert drift.drift(loaded, window) == drift.drift(reference, window)
    assert len(text) < 200_000


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[]", "not an object"),
        ('{"version": 2, "rows": 1, "columns": []}', "this Kiln reads 1"),
        ("{", "JSONDecodeError"),
        ('{"version": 1, "rows": 2, "columns": [{"name": "x"}]}', "KeyError"),
    ],
)
def test_a_damaged_profile_is_refused(text: str, says: str) -> None:
    with pytest.raises(DriftInputError, match=says):
        drift.Profile.from_json(text)


def test_a_tampered_profile_is_refused() -> None:
    good = drift.profile({"x": np.arange(100.0)}).to_json()
    with pytest.raises(ValueError, match="counts that add up"):
        drift.Profile.from_json(good.replace('"count": 100', '"count": 99').replace('"rows": 100', '"rows": 99'))


def test_bad_input_is_refused_with_what_to_fix() -> None:
    rng = np.random.default_rng(10)
    reference = drift.profile({"x": rng.normal(size=100), "c": rng.choice(["a", "b"], size=100)})
    cases = [
        ({"x": [1.0], "c": ["a"], "y": [2.0]}, None, "not in the profile: 'y'"),
        ({"x": [1.0]}, None, "lacks the profile's columns 'c'"),
        ({"x": [], "c": []}, None, "window is empty"),
        ({"x": ["1.5", "2"], "c": ["a", "b"]}, None, "'x' is numeric, but holds text"),
        ({"x": [1.0, None, "two"], "c": ["a", "b", "a"]}, None, "holds str values such as 'two'"),
        ({"x": [1.0, 2.0], "c": ["a"]}, None, "differ in length"),
        ({"x": [None, float("nan")], "c": ["a", "b"]}, None, "no values in the current window"),
        ({"x": [[1.0, 2.0]], "c": ["a"]}, None, "one value per row"),
        ({"x": [1.0], "c": ["a"]}, "median", "no statistic 'median'"),
        ({"x": [1.0], "c": ["a"]}, {"c": "ks"}, "'c' is categorical"),
    ]
    for window, statistic, says in cases:
        with pytest.raises(ValueError, match=says):
            drift.drift(reference, window, statistic)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no values in the reference"):
        drift.profile({"x": [None, None]})
    with pytest.raises(ValueError, match="dates"):
        drift.profile({"t": np.array(["2024-01-01"], dtype="datetime64[D]")})
    with pytest.raises(ValueError, match="no columns"):
        drift.profile({})


def test_one_statistic_for_all_columns_leaves_categories_their_default() -> None:
    rng = np.random.default_rng(12)
    data = {"x": rng.normal(size=2_000), "c": rng.choice(["a", "b"], size=2_000)}
    report = drift.drift(drift.profile(data), data, "ks")
    assert [(c.column, c.statistic) for c in report.columns] == [("x", "ks"), ("c", "jensenshannon")]
    assert not report.drifted
