"""What judging a window takes, whichever the window (an endpoint's ledger or a batch scoring): the figures
it came to (`Judged`), drift of its columns against a reference, and drift of its predictions against the
first window's, frozen into the monitor then."""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import drift, health, reference
from kiln.coordinator.monitoring.monitors import Config
from kiln.coordinator.monitoring.profile import Profile

PREDICTION = "prediction"


@dataclass
class Judged:
    """What one window came to, before it is recorded: the figures, the drift, the health, and the lineage
    entities it judged."""

    requests: int  # requests of an endpoint, or rows of a batch scoring
    measured: dict[str, float | None]
    result: dict[str, Any]
    report: drift.DriftReport | None
    score: health.Health
    judged: list[str] = field(default_factory=list)  # lineage ids: model versions (and a scored dataset)
    ref: reference.Reference | None = None


def features(ref: reference.Reference | None, config: Config) -> list[str]:
    return [n for n in ref.profile.names if n != config.target] if ref else []


def drift_of(
    ref: reference.Reference, config: Config, columns: Mapping[str, Any], rows: int, notes: list[str]
) -> drift.DriftReport | None:
    """The window's columns against the reference (those it has), or None with a note saying why not."""
    if rows < config.min_rows:
        notes.append(f"{rows} rows in the window, fewer than {config.min_rows}: no drift verdict")
        return None
    wanted = set(config.features) or set(features(ref, config))
    kept = {n: v for n, v in columns.items() if n in ref.profile.names and n in wanted}
    if not kept:
        notes.append(
            f"the window's columns ({', '.join(list(columns)[:10])}) are none of the reference's "
            f"({', '.join(ref.profile.names[:10])}): give the monitor --features in the model's input order"
        )
        return None
    sub = Profile(tuple(c for c in ref.profile.columns if c.name in kept), ref.profile.rows)
    return drift.drift(sub, kept, config.statistic or None)  # type: ignore[arg-type]


def prediction_drift(
    ctx: Coordinator,
    monitor: dict[str, Any],
    config: Config,
    predictions: Sequence[object] | np.ndarray,
    notes: list[str],
) -> drift.DriftReport | None:
    """The predictions against the first window of at least min_rows of them, frozen into the config then."""
    if len(predictions) < config.min_rows:
        return None
    values = _prediction_values(predictions)
    if not config.prediction_profile:
        frozen = drift.profile({PREDICTION: values})
        ctx.store.update_monitor(
            monitor["id"], config_json=replace(config, prediction_profile=frozen.to_json()).to_json()
        )
        notes.append("this window's predictions are the reference for the prediction's drift from now on")
        return None
    return drift.drift(Profile.from_json(config.prediction_profile), {PREDICTION: values})


def _prediction_values(predictions: Sequence[object] | np.ndarray) -> Any:
    """Numbers as a float array (JSON's, or a scoring output's numpy ones); anything else as text."""
    if isinstance(predictions, np.ndarray) and predictions.dtype.kind in "iuf":
        return predictions.astype(np.float64)
    if all(isinstance(p, numbers.Real) and not isinstance(p, bool | np.bool_) for p in predictions):
        return np.asarray(predictions, dtype=np.float64)
    return [p if isinstance(p, str) else json.dumps(p, default=str) for p in predictions]


def report_json(report: drift.DriftReport) -> dict[str, Any]:
    return {
        "share_drifted": report.share_drifted,
        "drifted": report.drifted,
        "rows": report.rows,
        "columns": [
            {
                "column": c.column,
                "statistic": c.statistic,
                "value": c.value,
                "threshold": c.threshold,
                "drifted": c.drifted,
                "p_value": c.p_value,
            }
            for c in report.columns
        ],  # fmt: skip
    }
