"""Judging one monitor's window: the endpoint's ledger over the last `window`, read into columns
(frames), drift of each feature against the reference of the version that answered most of it and of the
prediction against the first window's, quality per version where labels joined, errors and latency, the
KPIs and one health score; recorded as result N of the monitor (a lineage entity fed by the model versions
it judged and the reference's dataset), with alerts fired or resolved by rule:

    drift     the window drifted (drift.DriftReport.drifted: half the columns or more), on at least
              min_rows rows
    health    the health score is under health_below
    kpi:TEXT  a KPI's condition holds ("error_rate > 0.05")

A rule with nothing to judge in a window (no requests, too few rows for drift) neither fires nor resolves:
an alert resolves on evidence, never on silence.

Which columns are the features: the requests' own names when they carry them (dataframe_split,
dataframe_records, records and dicts); requests that name none (`inputs` as lists, CSV without a header)
are read by position as the monitor's --features, else as the reference's columns less --target.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np

from kiln.coordinator.alerts import manage as alerts
from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import drift, frames, health, quality, reference
from kiln.coordinator.monitoring.monitors import Config
from kiln.coordinator.monitoring.profile import Profile
from kiln.core import lineage

log = logging.getLogger("kiln.coordinator.monitoring")

MAX_LEDGER_ROWS = 200_000  # requests read per window (newest first): a monitor's pass stays bounded
PREDICTION = "prediction"
QUALITY_KPIS = frozenset({"accuracy", "precision", "recall", "f1", "auc", "mae", "rmse"})


def evaluate_due(ctx: Coordinator, now: float) -> int:
    judged = 0
    for row in ctx.store.due_monitors(now):
        try:
            evaluate(ctx, row, now)
            judged += 1
        except Exception:  # one monitor's trouble must not stop the others
            log.exception("monitor %s/%s could not judge its window", row["project"], row["name"])
            ctx.store.update_monitor(row["id"], next_at=now + row["every_s"])
    return judged


def evaluate(ctx: Coordinator, monitor: dict[str, Any], now: float) -> dict[str, Any]:
    """Judges the window ending now; stores and returns the result row."""
    config = Config.from_json(monitor["config_json"])
    since = now - monitor["window_s"]
    records = ctx.store.predictions(monitor["deployment"], since, now, limit=MAX_LEDGER_ROWS)
    rows = [_row(r) for r in reversed(records) if not r["shadow"]]
    endpoint = ctx.store.deployment(monitor["deployment"])
    model = endpoint["model"] if endpoint else ""
    by_version = Counter(r.version for r in rows)
    main = by_version.most_common(1)[0][0] if by_version else 0
    reasons: list[str] = []

    report, ref = _feature_drift(ctx, monitor, config, model, main, [r for r in rows if r.version == main], reasons)
    prediction = _prediction_drift(ctx, monitor, config, [r for r in rows if r.version == main], reasons)
    qualities = quality.by_version(rows)
    main_quality = qualities.get(main)
    baseline = _baseline(ctx, monitor["project"], model, main, main_quality)
    score = health.health(rows, slo_ms=config.latency_slo_ms, drift=report, quality=main_quality, baseline=baseline)
    latencies = np.array([r.latency_ms for r in rows], dtype=np.float64)
    errors = sum(1 for r in rows if r.status >= 500 or r.status <= 0)
    measured: dict[str, float | None] = {
        "requests": float(len(rows)),
        "error_rate": errors / len(rows) if rows else None,
        "p50_latency_ms": float(np.percentile(latencies, 50)) if rows else None,
        "p99_latency_ms": float(np.percentile(latencies, 99)) if rows else None,
        "drift_share": report.share_drifted if report else None,
        "health": score.score,
    }
    if main_quality is not None:
        measured.update({k: v for k, v in main_quality.metrics.items() if k in QUALITY_KPIS})
    result = {
        "deployment": monitor["deployment"],
        "model": model,
        "versions": {str(v): n for v, n in sorted(by_version.items())},
        "main_version": main,
        "measured": measured,
        "health": {"score": score.score, "parts": score.parts, "reasons": score.reasons},
        "drift": _report_json(report) if report else None,
        "prediction_drift": _report_json(prediction) if prediction else None,
        "quality": {str(v): {"kind": q.kind, "n": q.n, "metrics": q.metrics} for v, q in qualities.items()},
        "baseline": baseline,
        "reference": ref.source if ref else "",
        "kpis": [
            {"kpi": k.text(), "value": measured.get(k.metric), "breached": k.breached(measured.get(k.metric))}
            for k in config.kpis
        ],  # fmt: skip
        "notes": reasons,
    }
    stored = {
        "monitor": monitor["id"], "project": monitor["project"], "name": monitor["name"], "window_start": since,
        "window_end": now, "health": score.score, "drift_share": report.share_drifted if report else None,
        "drifted": int(bool(report and report.drifted)), "requests": len(rows),
        "result_json": json.dumps(result, default=_plain), "created_at": now,
    }  # fmt: skip
    with ctx.store.transaction():
        seq = ctx.store.add_monitor_result(stored)
        ctx.store.update_monitor(monitor["id"], next_at=now + monitor["every_s"])
        me = lineage.monitor_id(monitor["project"], monitor["name"], seq)
        edges = [lineage.Edge(lineage.model_id(monitor["project"], model, v), me, "monitored") for v in by_version]
        if ref is not None:
            edges.append(lineage.Edge(ref.source, me, "reference"))
        ctx.store.add_edges(edges, now)
    _alerts(ctx, monitor, config, result, report, score, seq, now)
    return {**stored, "seq": seq}


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as the wire carries it."""
    return {**row, "drifted": bool(row["drifted"]), "lineage_id": lineage.monitor_id(row["project"], row["name"],
                                                                                      row["seq"])}  # fmt: skip


def _row(r: dict[str, Any]) -> frames.LedgerRow:
    return frames.LedgerRow(bytes(r["request"]), r["content_type"], bytes(r["response"]), int(r["status"]),
                            float(r["latency_ms"]), r["label"], int(r["version"]), float(r["time"]))  # fmt: skip


def _feature_drift(
    ctx: Coordinator,
    monitor: dict[str, Any],
    config: Config,
    model: str,
    version: int,
    rows: list[frames.LedgerRow],
    reasons: list[str],
) -> tuple[drift.DriftReport | None, reference.Reference | None]:
    if not rows:
        return None, None
    ref = reference.for_version(ctx, monitor["project"], model, version, config.reference) if model else None
    if ref is None:
        reasons.append(f"no reference profile for version {version}: give the monitor --reference DATASET[:V]")
        return None, None
    features = list(config.features) or [n for n in ref.profile.names if n != config.target]
    window = frames.window_columns(rows, features)
    if window.stats.rows < config.min_rows:
        reasons.append(f"{window.stats.rows} rows in the window, fewer than {config.min_rows}: no drift verdict")
        return None, ref
    columns = {n: v for n, v in window.columns.items() if n in ref.profile.names}
    if not columns:
        reasons.append(
            f"the requests' columns ({', '.join(list(window.columns)[:10])}) are none of the reference's "
            f"({', '.join(ref.profile.names[:10])}): give the monitor --features in the model's input order"
        )
        return None, ref
    sub = Profile(tuple(c for c in ref.profile.columns if c.name in columns), ref.profile.rows)
    statistic = config.statistic or None
    return drift.drift(sub, columns, statistic), ref  # type: ignore[arg-type]


def _prediction_drift(
    ctx: Coordinator, monitor: dict[str, Any], config: Config, rows: list[frames.LedgerRow], reasons: list[str]
) -> drift.DriftReport | None:
    """The predictions against the first window of at least min_rows rows, frozen into the config then."""
    window = frames.window_columns(rows, list(config.features) or None) if rows else None
    if window is None or len(window.predictions) < config.min_rows:
        return None
    values = _prediction_values(window.predictions)
    if not config.prediction_profile:
        frozen = drift.profile({PREDICTION: values})
        ctx.store.update_monitor(
            monitor["id"], config_json=replace(config, prediction_profile=frozen.to_json()).to_json()
        )
        reasons.append("this window's predictions are the reference for the prediction's drift from now on")
        return None
    return drift.drift(Profile.from_json(config.prediction_profile), {PREDICTION: values})


def _prediction_values(predictions: list[object]) -> Any:
    if all(isinstance(p, int | float) and not isinstance(p, bool) for p in predictions):
        return np.asarray(predictions, dtype=np.float64)
    return [json.dumps(p) if not isinstance(p, str) else p for p in predictions]


def _baseline(ctx: Coordinator, project: str, model: str, version: int, q: quality.Quality | None) -> float | None:
    """The training metric the version was registered with, in the unit of Quality.main."""
    if q is None or not q.n:
        return None
    found = [r for r in ctx.store.model_versions(project, model) if r["version"] == version]
    metrics = json.loads(found[0]["metrics_json"] or "{}") if found else {}
    value = metrics.get("accuracy") if q.kind == "classification" else None
    return float(value) if isinstance(value, int | float) else None


def _report_json(report: drift.DriftReport) -> dict[str, Any]:
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


def _alerts(
    ctx: Coordinator,
    monitor: dict[str, Any],
    config: Config,
    result: dict[str, Any],
    report: drift.DriftReport | None,
    score: health.Health,
    seq: int,
    now: float,
) -> None:
    name, endpoint = monitor["name"], monitor["deployment"]
    details = {"monitor": name, "deployment": endpoint, "result": seq, "health": score.score,
               "lineage": lineage.monitor_id(monitor["project"], name, seq)}  # fmt: skip
    judged: list[tuple[str, bool | None, str, str]] = []  # rule, breached (None: nothing to judge), title, summary
    if report is not None:
        cols = ", ".join(report.drifted_columns[:10])
        judged.append(("drift", report.drifted, f"Data drift on endpoint {endpoint}",
                       f"{report.share_drifted:.0%} of the features drifted ({cols}) in result {seq} of monitor "
                       f"{name}; compare with kiln monitor show {name}"))  # fmt: skip
    else:
        judged.append(("drift", None, "", ""))
    judged.append(("health", None if score.score is None else score.score < config.health_below,
                   f"Health of endpoint {endpoint} is low",
                   f"health {score.score or 0:.0f} < {config.health_below:g}: " + " ".join(score.reasons)))  # fmt: skip
    for k in result["kpis"]:
        value = k["value"]
        judged.append((f"kpi:{k['kpi']}", None if value is None else k["breached"], f"KPI {k['kpi']} on {endpoint}",
                       f"{k['kpi']} holds: measured {value}"))  # fmt: skip
    for rule, breached, title, summary in judged:
        if breached is None:
            continue
        if breached:
            alerts.fire(ctx, monitor, rule, config.severity, title, summary, details, now)
        else:
            alerts.resolve(ctx, monitor, rule, f"result {seq} of monitor {name} no longer breaches {rule}", now)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
