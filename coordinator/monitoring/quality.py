"""Model quality once ground truth arrives: the predictions a version gave, against the labels joined to them
later (frames.labelled_pairs), scored as scikit-learn scores them (numpy only; the tests hold each metric to
sklearn's to 1e-9).

Which kind (`quality`): regression when every label is a number and they are not all integers or more than
MAX_CLASSES distinct ones; classification otherwise.

Classification (`classification`). Values are compared after one reading: numbers (and booleans, and text
that reads as a finite number: "1", "2.0") as floats, so a model answering 1 matches a label "1"; other
text as itself; anything else (null, lists, objects) as its JSON text. The classes are those of labels and
predictions together (sklearn's), in sorted order.
- accuracy: the share of predictions equal to their label.
- binary (at most two classes): precision, recall and F1 of the positive class (sklearn's `pos_label`): the
  larger when both are numbers (1 of {0, 1}, True of booleans, 2 of {1, 2}); of text, the class that reads
  "true" or "yes" (any case) when exactly one does, else the larger (the second of the sorted classes). A
  lone class is positive unless it is 0 or reads "false" or "no"; then the absent positive has P = R = F1 = 0.
- multi-class: macro averages, sklearn's average="macro": the unweighted mean over the classes of each
  class's precision, recall and F1 (F1 per class, then averaged; not the F1 of the mean P and R).
- a ratio with nothing to divide by (a class never predicted has no precision) is 0, sklearn's
  zero_division default.
- AUC (binary labels only, two classes among the labels): of `scores`, the probabilities of the positive
  class, when given; else of the predictions when they are probabilities (all numbers in [0, 1], not all 0 or
  1), which are then also read as classes: the positive class above 0.5 (sklearn's predict), else the
  negative. Rank-based (Mann–Whitney, tied scores sharing their mean rank), which equals sklearn's
  roc_auc_score with its ties.

Regression (`regression`): MAE, RMSE, R² (sklearn's r2_score: 1.0 for a perfect fit of constant labels, 0.0
for an imperfect one), and NRMSE, the RMSE over the labels' (population) standard deviation, i.e.
sqrt(1 - R²), of which health.py reads 1 - NRMSE as the main metric. Pairs whose prediction or label is not
a finite number are left out (n counts the pairs scored).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from kiln.coordinator.monitoring.frames import labelled_pairs
from kiln.core.errors import InvalidArgument

if TYPE_CHECKING:
    from kiln.coordinator.monitoring.frames import LedgerRow

MAX_CLASSES = 20  # more distinct integer labels than this is a regression
PROBABILITY_THRESHOLD = 0.5
POSITIVE = frozenset({"true", "yes"})  # text that names the positive class ("1" is read as the number 1)
NEGATIVE = frozenset({"false", "no"})

Kind: TypeAlias = Literal["classification", "regression"]
Value: TypeAlias = float | str  # a prediction or label as compared here


class QualityInputError(InvalidArgument, ValueError):
    """Predictions and labels that cannot be scored together; the message says what to fix."""


@dataclass(frozen=True)
class Quality:
    kind: Kind
    n: int  # the pairs scored
    metrics: dict[str, float] = field(default_factory=dict)  # empty when n == 0

    @property
    def main(self) -> float | None:
        """The one number health.py holds against a baseline: accuracy, or 1 - NRMSE; None when unscored."""
        if self.kind == "classification":
            return self.metrics.get("accuracy")
        nrmse = self.metrics.get("nrmse")
        return None if nrmse is None else 1.0 - nrmse


def quality(predictions: Sequence[object], labels: Sequence[object]) -> Quality:
    """The quality of `predictions` against their `labels` (one each), of the kind the labels suggest."""
    _same_length(predictions, labels, "labels")
    if not labels:
        return Quality("classification", 0)
    kind = kind_of(labels)
    metrics = regression(predictions, labels) if kind == "regression" else classification(predictions, labels)
    return Quality(kind, int(metrics.get("n", 0)), metrics)


def kind_of(labels: Sequence[object]) -> Kind:
    numbers = [_number(v) for v in labels]
    if not numbers or any(x is None or isinstance(v, bool) for x, v in zip(numbers, labels, strict=True)):
        return "classification"
    if any(not float(x).is_integer() for x in numbers if x is not None) or len(set(numbers)) > MAX_CLASSES:
        return "regression"
    return "classification"


def classification(
    predictions: Sequence[object], labels: Sequence[object], scores: Sequence[float] | None = None
) -> dict[str, float]:
    """accuracy, precision, recall, f1, n, and auc where it applies (see the module's docstring)."""
    _same_length(predictions, labels, "labels")
    if not labels:
        return {}
    truth = [_value(v) for v in labels]
    label_classes = _sorted(set(truth))
    probabilities = _probabilities(predictions) if scores is None else None
    binary = _binary(label_classes)
    if probabilities is not None and binary is not None:
        negative, positive = binary
        said = [positive if p > PROBABILITY_THRESHOLD else negative for p in probabilities]
    else:
        probabilities = None
        said = [_value(v) for v in predictions]
    classes = _sorted(set(truth) | set(said))
    index = {c: i for i, c in enumerate(classes)}
    t = np.array([index[c] for c in truth], dtype=np.int64)
    p = np.array([index[c] for c in said], dtype=np.int64)
    k = len(classes)
    confusion = np.bincount(t * k + p, minlength=k * k).reshape(k, k)  # rows: labels, columns: predictions
    tp = np.diag(confusion).astype(np.float64)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    f1 = _ratio(2 * tp, predicted + actual)
    metrics: dict[str, float] = {"n": len(truth), "accuracy": float(tp.sum() / len(truth))}
    if k <= 2:
        pos = _positive(classes)
        chosen = index.get(pos, -1) if pos is not None else -1
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            metrics[name] = float(values[chosen]) if chosen >= 0 else 0.0
    else:
        metrics.update(precision=float(precision.mean()), recall=float(recall.mean()), f1=float(f1.mean()))
    if scores is not None:
        _same_length(scores, labels, "scores")
        probabilities = np.asarray(scores, dtype=np.float64)
        if not np.isfinite(probabilities).all():
            raise QualityInputError("scores are the positive class's probabilities: finite numbers, one a label")
    if probabilities is not None and len(label_classes) == 2:
        pos = _positive(label_classes)
        metrics["auc"] = auc(np.array([c == pos for c in truth]), np.asarray(probabilities, dtype=np.float64))
    return metrics


def auc(positive: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> float:
    """Area under the ROC curve of `scores` for the labels `positive` (both classes present): the chance that
    a positive outscores a negative, a tie counting half, from the mean ranks of tied scores."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse]  # 1-based mean rank of each score's tie group
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise QualityInputError("AUC needs both classes among the labels")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def regression(predictions: Sequence[object], labels: Sequence[object]) -> dict[str, float]:
    """mae, rmse, r2, nrmse and n over the pairs where both are finite numbers; {} when there are none."""
    _same_length(predictions, labels, "labels")
    pairs = [(x, y) for x, y in zip(map(_number, predictions), map(_number, labels), strict=True)]
    kept = [(x, y) for x, y in pairs if x is not None and y is not None]
    if not kept:
        return {}
    yhat = np.array([x for x, _ in kept], dtype=np.float64)
    y = np.array([y for _, y in kept], dtype=np.float64)
    err = yhat - y
    sse = float(np.dot(err, err))
    sst = float(np.sum((y - y.mean()) ** 2))
    rmse = math.sqrt(sse / y.size)
    if sst > 0:
        r2, nrmse = 1.0 - sse / sst, rmse / math.sqrt(sst / y.size)
    else:  # constant labels: sklearn's force_finite values
        r2 = 1.0 if sse == 0 else 0.0
        nrmse = 0.0 if sse == 0 else 1.0
    return {"n": y.size, "mae": float(np.mean(np.abs(err))), "rmse": rmse, "r2": r2, "nrmse": nrmse}


def by_version(rows: Sequence[LedgerRow]) -> dict[int, Quality]:
    """The quality of each model version among `rows` (n = 0 for a version no label has reached yet)."""
    grouped: dict[int, list[LedgerRow]] = {}
    for row in rows:
        grouped.setdefault(row.version, []).append(row)
    return {version: quality(*labelled_pairs(group)) for version, group in sorted(grouped.items())}


def _same_length(a: Sequence[object], b: Sequence[object], what: str) -> None:
    if len(a) != len(b):
        raise QualityInputError(f"{len(a):,} predictions and {len(b):,} {what}: send one for each prediction")


def _number(v: object) -> float | None:
    """v as a finite float, when it is a number (or text of one); else None. Booleans read as 0 and 1."""
    if isinstance(v, bool | int | float | np.integer | np.floating | np.bool_):
        try:
            x = float(v)
        except OverflowError:
            return None
    elif isinstance(v, str):
        try:
            x = float(v)
        except ValueError:
            return None
    else:
        return None
    return x if math.isfinite(x) else None


def _value(v: object) -> Value:
    x = _number(v)
    if x is not None:
        return x
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def _sorted(values: set[Value]) -> list[Value]:
    """Numbers in order, then text in order (sklearn sorts each kind; it refuses a mix)."""
    return sorted(values, key=lambda v: (1, v, 0.0) if isinstance(v, str) else (0, "", v))


def _positive(classes: list[Value]) -> Value | None:
    """The positive class of at most two sorted classes; None when it is absent (a lone negative)."""
    if all(isinstance(c, float) for c in classes):
        return None if classes == [0.0] else classes[-1]
    marked = [c for c in classes if isinstance(c, str) and c.strip().lower() in POSITIVE]
    if len(marked) == 1:
        return marked[0]
    if len(classes) == 1 and isinstance(classes[0], str) and classes[0].strip().lower() in NEGATIVE:
        return None
    return classes[-1]


def _binary(label_classes: list[Value]) -> tuple[Value, Value] | None:
    """(negative, positive) when the labels make a binary problem probabilities can be read against: two
    classes, or a lone 0 or 1."""
    if len(label_classes) == 2:
        pos = _positive(label_classes)
        neg = label_classes[0] if pos == label_classes[1] else label_classes[1]
        return (neg, pos) if pos is not None else None
    if len(label_classes) == 1 and label_classes[0] in (0.0, 1.0):
        return 0.0, 1.0
    return None


def _probabilities(predictions: Sequence[object]) -> npt.NDArray[np.float64] | None:
    """The predictions as floats when they are probabilities: all numbers in [0, 1], not all exactly 0 or 1."""
    if not all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in predictions):
        return None
    x = np.asarray(predictions, dtype=np.float64)
    if not (np.isfinite(x).all() and (x >= 0).all() and (x <= 1).all()) or np.isin(x, (0.0, 1.0)).all():
        return None
    return x


def _ratio(a: npt.NDArray[np.float64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    out = np.zeros(a.shape, dtype=np.float64)
    np.divide(a, b, out=out, where=b > 0)
    return out
