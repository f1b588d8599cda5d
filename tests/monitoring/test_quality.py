"""Model quality: each metric equals scikit-learn's on the same seeded data (binary, multi-class, regression),
the kind follows the labels, and empty input scores nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from kiln.coordinator.monitoring.frames import LedgerRow
from kiln.coordinator.monitoring.quality import (
    Quality,
    QualityInputError,
    by_version,
    classification,
    quality,
    regression,
)

TOLERANCE = 1e-9


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    yhat = np.where(rng.random(500) < 0.8, y, 1 - y)
    scores = np.round(rng.random(500) * 0.5 + 0.4 * y, 2)  # rounded: many ties
    m = classification(yhat.tolist(), y.tolist(), scores.tolist())
    assert m["n"] == 500
    assert close(m["accuracy"], skm.accuracy_score(y, yhat))
    assert close(m["precision"], skm.precision_score(y, yhat))
    assert close(m["recall"], skm.recall_score(y, yhat))
    assert close(m["f1"], skm.f1_score(y, yhat))
    assert close(m["auc"], skm.roc_auc_score(y, scores))


def test_binary_text_labels_take_yes_or_the_larger_as_positive() -> None:
    rng = np.random.default_rng(3)
    y = rng.choice(["no", "yes"], 300)
    yhat = np.where(rng.random(300) < 0.7, y, rng.choice(["no", "yes"], 300))
    m = classification(yhat.tolist(), y.tolist())
    assert close(m["precision"], skm.precision_score(y, yhat, pos_label="yes"))
    assert close(m["recall"], skm.recall_score(y, yhat, pos_label="yes"))
    assert close(m["f1"], skm.f1_score(y, yhat, pos_label="yes"))
    assert "auc" not in m
    cats = np.where(y == "yes", "dog", "cat")
    guesses = np.where(yhat == "yes", "dog", "cat")
    assert close(classification(guesses.tolist(), cats.tolist())["f1"], skm.f1_score(cats, guesses, pos_label="dog"))


def test_probability_predictions_are_thresholded_and_give_auc() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    p = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    m = classification(p.tolist(), y.tolist())
    hard = (p > 0.5).astype(int)
    assert close(m["accuracy"], skm.accuracy_score(y, hard))
    assert close(m["f1"], skm.f1_score(y, hard))
    assert close(m["auc"], skm.roc_auc_score(y, p))
    as_text = classification(p.tolist(), np.where(y == 1, "yes", "no").tolist())
    assert close(as_text["auc"], m["auc"]) and close(as_text["precision"], m["precision"])
    hard_only = classification(hard.tolist(), y.tolist())  # 0/1 predictions are classes, not probabilities
    assert "auc" not in hard_only and close(hard_only["accuracy"], m["accuracy"])


@pytest.mark.parametrize("seed", [5, 6])
def test_multiclass_macro_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, 600)
    yhat = np.where(rng.random(600) < 0.6, y, rng.integers(0, 6, 600))  # class 5 is only ever predicted
    m = classification(yhat.tolist(), y.tolist())
    assert close(m["accuracy"], skm.accuracy_score(y, yhat))
    for name, sk in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        assert close(m[name], sk(y, yhat, average="macro", zero_division=0)), name
    text = classification([f"c{v}" for v in yhat], [f"c{v}" for v in y])
    assert all(close(text[k], m[k]) for k in ("accuracy", "precision", "recall", "f1"))


def test_values_are_matched_across_their_spellings() -> None:
    m = classification([1, "0", 1.0, True], ["1", 0, 1, 1])
    assert m["accuracy"] == 1.0 and m["precision"] == 1.0


def test_a_lone_class() -> None:
    assert classification([0, 0], [0, 0]) == {"n": 2, "accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert classification([1, 1], [1, 1])["f1"] == 1.0
    assert "auc" not in classification([0.2, 0.9], [1, 1])


@pytest.mark.parametrize("seed", [7, 8])
def test_regression_equals_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(3, 2, 700)
    yhat = y + rng.normal(0, 0.7, 700)
    m = regression(yhat.tolist(), y.tolist())
    assert m["n"] == 700
    assert close(m["mae"], skm.mean_absolute_error(y, yhat))
    assert close(m["rmse"], float(np.sqrt(skm.mean_squared_error(y, yhat))))
    assert close(m["r2"], skm.r2_score(y, yhat))
    assert close(m["nrmse"], float(np.sqrt(1 - skm.r2_score(y, yhat))))


def test_regression_constant_labels_and_unusable_pairs() -> None:
    assert regression([2.0, 2.0], [2.0, 2.0])["r2"] == skm.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert regression([1.0, 3.0], [2.0, 2.0])["r2"] == skm.r2_score([2.0, 2.0], [1.0, 3.0]) == 0.0
    m = regression([1.0, None, "x", 4.0, float("nan")], [1.5, 2.0, 3.0, "4.5", 5.0])
    assert m["n"] == 2 and close(m["mae"], 0.5)
    assert regression(["a"], [1.0]) == {}


def test_quality_chooses_the_kind() -> None:
    assert quality([0, 1, 1], [0, 1, 0]).kind == "classification"
    assert quality(["a", "b"], ["a", "a"]).kind == "classification"
    assert quality([0.1, 0.9], [0.5, 1.5]).kind == "regression"
    many = list(range(21))
    assert quality(many, many).kind == "regression"
    assert quality(many[:20], many[:20]).kind == "classification"
    assert quality([True, False], [True, True]).kind == "classification"
    q = quality([1.0, 2.0, 4.0], [1.5, 2.5, 3.5])
    assert q.n == 3 and close(q.metrics["r2"], skm.r2_score([1.5, 2.5, 3.5], [1.0, 2.0, 4.0]))
    assert q.main is not None and close(q.main, 1 - q.metrics["nrmse"])
    assert quality([0, 1], [0, 0]).main == 0.5


def test_empty_input_scores_nothing() -> None:
    q = quality([], [])
    assert q.n == 0 and q.metrics == {} and q.main is None
    assert classification([], []) == {} and regression([], []) == {}


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(QualityInputError, match="2 predictions and 1 labels"):
        quality([1, 2], [1])
    with pytest.raises(QualityInputError, match="scores"):
        classification([1, 0], [1, 0], [0.5])


def test_by_version() -> None:
    def rec(version: int, prediction: object, label: str) -> LedgerRow:
        body = json.dumps({"predictions": [prediction]}).encode()
        return LedgerRow(b'{"inputs": [[1]]}', "application/json", body, 200, 5.0, label, version)

    rows = [rec(1, 1, "1"), rec(1, 0, "1"), rec(2, 2.5, "3.0"), rec(2, 4.0, "3.5"), rec(3, 1, "")]
    got = by_version(rows)
    assert list(got) == [1, 2, 3]
    assert got[1].kind == "classification" and got[1].metrics["accuracy"] == 0.5
    assert got[2].kind == "regression" and close(got[2].metrics["mae"], 0.5)
    assert got[3] == Quality("classification", 0, {})
