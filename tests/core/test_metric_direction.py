"""Which way a metric gets better, read from its name (kiln.core.metrics): the one rule the run page's
"best @ step" and the compare view's best run share."""

from __future__ import annotations

import pytest

from kiln.core.metrics import better, words


@pytest.mark.parametrize(
    "name", ["loss", "val_loss", "train/loss", "valLoss", "eval-mse", "rmse", "error_rate", "cross_entropy", "wer"]
)
def test_lower_is_better_for_losses_and_errors(name):
    assert better(name) == "min"


@pytest.mark.parametrize(
    "name", ["acc", "val_acc", "accuracy", "valAUC", "roc_auc", "f1", "f1_score", "precision", "recall", "top1_acc"]
)
def test_higher_is_better_for_accuracy_like_scores(name):
    assert better(name) == "max"


@pytest.mark.parametrize("name", ["lr", "learning_rate", "epoch", "throughput", "grad_norm", "acc_loss", ""])
def test_a_name_that_says_neither_or_both_has_no_direction(name):
    assert better(name) is None


def test_words_split_separators_case_and_keep_digits_with_their_word():
    assert words("val/top1_acc")[:3] == ["val", "top1", "acc"]
    assert words("valAUC")[:2] == ["val", "auc"]
