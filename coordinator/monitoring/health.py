"""One health score per deployment and window: 100 less four penalties, each linear in what it measures and
capped, so that the caps add up to 100 and the score stays within 0–100:

    score = 100 - errors - latency - drift - quality

| penalty | measures                                                        | full penalty at      | cap |
|---------|-----------------------------------------------------------------|----------------------|-----|
| errors  | share of requests failed: status >= 500 (the gateway's 502, 503 | 5% of requests       | 40  |
|         | and 504 included) or no status at all (0)                       |                      |     |
| latency | p99 latency over the SLO: 20 * (p99 / slo - 1) when above       | p99 = 2 x the SLO    | 20  |
| drift   | share of drifted columns (drift.DriftReport.share_drifted)      | every column drifted | 25  |
| quality | relative drop of the main metric below the caller's baseline:   | a 20% drop           | 15  |
|         | 75 * (baseline - metric) / baseline when positive               |                      |     |

errors = min(40, 800 * error share); latency = min(20, max(0, 20 * (p99 / slo - 1))); drift = 25 * share;
quality = min(15, max(0, 75 * drop)). The main metric is Quality.main: accuracy for a classifier, 1 - NRMSE
(RMSE over the labels' standard deviation) for a regression; the baseline is that same number where the
version was validated (its training run's metric, say). Client errors (4xx) are the callers' and cost
nothing. p99 is numpy's (linear interpolation) over the latencies of every request, failed ones too (a
timeout is latency a client saw). A penalty that cannot be measured (no drift report, no labelled
predictions, no or a non-positive baseline) is 0: the score says nothing about it.

A window without requests has no score (None), and the reason "no requests in the window".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kiln.coordinator.monitoring.drift import DriftReport
    from kiln.coordinator.monitoring.frames import LedgerRow
    from kiln.coordinator.monitoring.quality import Quality

DEFAULT_SLO_MS = 250.0
ERRORS_CAP, ERRORS_FULL_AT = 40.0, 0.05  # the penalty's cap, and the error share that reaches it
LATENCY_CAP, LATENCY_FULL_AT = 20.0, 2.0  # p99 / SLO
DRIFT_CAP = 25.0  # at share_drifted 1.0
QUALITY_CAP, QUALITY_FULL_AT = 15.0, 0.2  # relative drop of the main metric
NO_REQUESTS = "no requests in the window"


@dataclass(frozen=True)
class Health:
    score: float | None  # 0–100; None when the window had no requests
    parts: dict[str, float] = field(default_factory=dict)  # each penalty, by name (empty with no requests)
    reasons: list[str] = field(default_factory=list)  # one sentence per non-zero penalty: what to look at


def health(
    rows: Sequence[LedgerRow],
    *,
    slo_ms: float = DEFAULT_SLO_MS,
    drift: DriftReport | None = None,
    quality: Quality | None = None,
    baseline: float | None = None,
) -> Health:
    """The health of one deployment over the window `rows` (its ledger records), with the window's drift
    report and quality when the caller has them, and the baseline of quality's main metric."""
    if not (math.isfinite(slo_ms) and slo_ms > 0):
        raise ValueError(f"the latency SLO is a positive number of milliseconds, not {slo_ms}")
    if not rows:
        return Health(None, {}, [NO_REQUESTS])
    parts: dict[str, float] = {}
    reasons: list[str] = []

    failed = sum(1 for r in rows if r.status >= 500 or r.status <= 0)
    share = failed / len(rows)
    parts["errors"] = min(ERRORS_CAP, ERRORS_CAP * share / ERRORS_FULL_AT)
    if failed:
        reasons.append(
            f"{failed:,} of {len(rows):,} requests ({share:.1%}) failed with a server or gateway error: "
            "look at the replicas' logs and readiness, and at the gateway's errors in the ledger"
        )

    latencies = np.array([r.latency_ms for r in rows], dtype=np.float64)
    latencies = latencies[np.isfinite(latencies)]
    p99 = float(np.percentile(latencies, 99)) if latencies.size else 0.0
    over = p99 / slo_ms - 1.0
    parts["latency"] = min(LATENCY_CAP, max(0.0, LATENCY_CAP * over / (LATENCY_FULL_AT - 1.0)))
    if parts["latency"] > 0:
        reasons.append(
            f"p99 latency is {p99:,.0f} ms, over the {slo_ms:,.0f} ms SLO: look at the replicas' load and "
            "resources, the request sizes, or add replicas"
        )

    parts["drift"] = DRIFT_CAP * min(1.0, max(0.0, drift.share_drifted)) if drift is not None else 0.0
    if parts["drift"] > 0 and drift is not None:
        columns = ", ".join(drift.drifted_columns[:5]) + (", ..." if len(drift.drifted_columns) > 5 else "")
        reasons.append(
            f"{drift.share_drifted:.0%} of the columns drifted from the training data ({columns}): look at "
            "what changed upstream, and consider retraining on recent data"
        )

    metric = quality.main if quality is not None else None
    parts["quality"] = 0.0
    if metric is not None and baseline is not None and math.isfinite(baseline) and baseline > 0:
        drop = (baseline - metric) / baseline
        parts["quality"] = min(QUALITY_CAP, max(0.0, QUALITY_CAP * drop / QUALITY_FULL_AT))
        if parts["quality"] > 0 and quality is not None:
            name = "accuracy" if quality.kind == "classification" else "1 - NRMSE"
            reasons.append(
                f"{name} is {metric:.3g}, {drop:.0%} below its baseline of {baseline:.3g} (over {quality.n:,} "
                "labelled predictions): look at the drifted columns and the recent labels, and consider retraining"
            )

    score = max(0.0, 100.0 - sum(parts.values()))
    return Health(score, parts, reasons)
