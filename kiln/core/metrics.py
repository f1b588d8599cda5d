"""What a metric's name says about it: which way it gets better. One rule for every place that marks a
"best" value (the run page's "best @ step", the compare view's best run per metric, `kiln compare`).

The rule reads the words of the name (`val_loss`, `train/acc`, `valAUC`, `eval-mse` → loss, acc, auc,
mse) and knows the common ones; a name it does not know, or one mixing both kinds ("acc_loss"), has no
direction rather than a guessed one."""

from __future__ import annotations

import re
from typing import Literal

Direction = Literal["min", "max"]

LOWER_BETTER = frozenset(
    {
        "loss", "error", "err", "mse", "mae", "rmse", "msle", "mape", "smape", "nll", "perplexity", "ppl",
        "wer", "cer", "ter", "crossentropy", "xent", "logloss", "regret", "fid", "kid", "brier", "hamming",
        "eer", "fpr", "fnr", "miss", "mistakes", "cost",
    }
)  # fmt: skip
HIGHER_BETTER = frozenset(
    {
        "acc", "accuracy", "auc", "auroc", "auprc", "roc", "f1", "fscore", "precision", "prec", "recall",
        "map", "ap", "iou", "miou", "dice", "jaccard", "bleu", "rouge", "meteor", "chrf", "r2", "reward",
        "top1", "top5", "sensitivity", "specificity", "tpr", "tnr", "ndcg", "mrr", "psnr", "ssim", "kappa",
        "mcc", "hitrate", "hits", "correct", "exact", "em", "spearman", "pearson",
    }
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[A-Z]+")


def words(name: str) -> list[str]:
    """The words of a metric name, lower case: "val/top1_acc" → val, top1, acc; "valAUC" → val, auc."""
    found: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        pieces = [m.group(0).lower() for m in _WORD.finditer(part)]
        merged: list[str] = []
        for piece in pieces:  # digits stay with the word before them: top1, f1, r2
            if piece.isdigit() and merged:
                merged[-1] += piece
            else:
                merged.append(piece)
        found.extend(merged)
        if len(merged) > 1:
            found.append("".join(merged))  # "cross_entropy" also as "crossentropy", "hit_rate" as "hitrate"
    if len(found) > 1:
        found.extend(a + b for a, b in zip(found, found[1:], strict=False))
    return found


def better(name: str) -> Direction | None:
    """ "min" when lower is better (loss, error, mse…), "max" when higher is (acc, auc, f1…), None when the
    name does not say (lr, epoch, throughput) or says both."""
    said = set(words(name))
    low, high = bool(said & LOWER_BETTER), bool(said & HIGHER_BETTER)
    if low == high:
        return None
    return "min" if low else "max"
