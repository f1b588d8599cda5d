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
from typing import Any

import numpy as np

from kiln.coordinator.alerts import manage as alerts
from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import batch, drift, frames, health, judging, quality, reference
from kiln.coordinator.monitoring.monitors import Config
from kiln.core import lineage

log = logging.getLogger("kiln.coordinator.monitoring")

MAX_LEDGER_ROWS = 200_000  # requests read per window (newest first): a monitor's pass stays bounded
QUALITY_KPIS = frozenset({"accuracy", "precision", "recall", "f1", "auc", "mae", "rmse"})
TRACKED = "metric:"  # a KPI on a tracked metric: the last value of the project's latest run ended in the window


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
    if config.scoring:
        judged = batch.judge(ctx, monitor, config, since, now)
    else:
        judged = _judge_ledger(ctx, monitor, config, since, now)
    measured = judged.measured
    for k in config.kpis:
        if k.metric.startswith(TRACKED) and k.metric not in measured:
            measured[k.metric] = _tracked(ctx, monitor["project"], k.metric[len(TRACKED) :], since, now)
    result = {
        **judged.result,
        "measured": measured,
        "health": {"score": judged.score.score, "parts": judged.score.parts, "reasons": judged.score.reasons},
        "drift": judging.report_json(judged.report) if judged.report else None,
        "reference": judged.ref.source if judged.ref else "",
        "kpis": [
            {"kpi": k.text(), "value": measured.get(k.metric), "breached": k.breached(measured.get(k.metric))}
            for k in config.kpis
        ],
    }
    report, score = judged.report, judged.score
    stored = {
        "monitor": monitor["id"], "project": monitor["project"], "name": monitor["name"], "window_start": since,
        "window_end": now, "health": score.score, "drift_share": report.share_drifted if report else None,
        "drifted": int(bool(report and report.drifted)), "requests": judged.requests,
        "result_json": json.dumps(result, default=_plain), "created_at": now,
    }  # fmt: skip
    with ctx.store.transaction():
        seq = ctx.store.add_monitor_result(stored)
        ctx.store.update_monitor(monitor["id"], next_at=now + monitor["every_s"])
        me = lineage.monitor_id(monitor["project"], monitor["name"], seq)
        edges = [lineage.Edge(source, me, "monitored") for source in judged.judged]
        if judged.ref is not None:
            edges.append(lineage.Edge(judged.ref.source, me, "reference"))
        ctx.store.add_edges(edges, now)
    _alerts(ctx, monitor, config, result, report, score, seq, now)
    return {**stored, "seq": seq}


def _judge_ledger(
    ctx: Coordinator, monitor: dict[str, Any], config: Config, since: float, now: float
) -> judging.Judged:
    records = ctx.store.predictions(monitor["deployment"], since, now, limit=MAX_LEDGER_ROWS)
    rows = [_row(r) for r in reversed(records) if not r["shadow"]]
    endpoint = ctx.store.deployment(monitor["deployment"])
    model = endpoint["model"] if endpoint else ""
    by_version = Counter(r.version for r in rows)
    main = by_version.most_common(1)[0][0] if by_version else 0
    notes: list[str] = []
    mine = [r for r in rows if r.version == main]
    ref = reference.for_version(ctx, monitor["project"], model, main, config.reference) if model and rows else None
    report = None
    if rows and ref is None:
        notes.append(f"no reference profile for version {main}: give the monitor --reference DATASET[:V]")
    names = list(config.features) or judging.features(ref, config) or None
    window = frames.window_columns(mine, names) if mine else None
    if ref is not None and window is not None:
        report = judging.drift_of(ref, config, window.columns, window.stats.rows, notes)
    prediction = judging.prediction_drift(ctx, monitor, config, window.predictions if window else [], notes)
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
        "prediction_drift": judging.report_json(prediction) if prediction else None,
        "quality": {str(v): {"kind": q.kind, "n": q.n, "metrics": q.metrics} for v, q in qualities.items()},
        "baseline": baseline,
        "notes": notes,
    }
    judged = [lineage.model_id(monitor["project"], model, v) for v in by_version] if model else []
    if endpoint is not None:
        judged.insert(0, lineage.deployment_id(monitor["deployment"]))
    return judging.Judged(len(rows), measured, result, report, score, judged, ref)


def _tracked(ctx: Coordinator, project: str, key: str, since: float, now: float) -> float | None:
    """The last value of tracked metric `key` of the project's latest run that ended in the window."""
    runs = ctx.store.ended_runs_with_metric(project, key, since, now, "", 10_000)
    values = [r["last_value"] for r in runs if r["last_value"] is not None]
    return float(values[-1]) if values else None


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A result row as the wire carries it."""
    return {**row, "drifted": bool(row["drifted"]), "lineage_id": lineage.monitor_id(row["project"], row["name"],
                                                                                      row["seq"])}  # fmt: skip


def _row(r: dict[str, Any]) -> frames.LedgerRow:
    return frames.LedgerRow(bytes(r["request"]), r["content_type"], bytes(r["response"]), int(r["status"]),
                            float(r["latency_ms"]), r["label"], int(r["version"]), float(r["time"]))  # fmt: skip


def _baseline(ctx: Coordinator, project: str, model: str, version: int, q: quality.Quality | None) -> float | None:
    """The training metric the version was registered with, in the unit of Quality.main."""
    if q is None or not q.n:
        return None
    found = [r for r in ctx.store.model_versions(project, model) if r["version"] == version]
    metrics = json.loads(found[0]["metrics_json"] or "{}") if found else {}
    value = metrics.get("accuracy") if q.kind == "classification" else None
    return float(value) if isinstance(value, int | float) else None


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
