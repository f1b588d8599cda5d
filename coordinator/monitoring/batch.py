"""Judging a batch scoring's output: the monitor of `--scoring OUTPUT` takes the latest scoring run into
dataset OUTPUT that ended in its window (kiln score M:V --input DATASET:V --output OUTPUT), and judges the
input dataset version it scored against the model version's reference, and the predictions it wrote against
the first scoring's. A batch has no requests, errors or latency: its health is 100 less the drift penalty
(25 when every feature drifted), and its rows stand for requests in the result and the KPIs."""

from __future__ import annotations

from typing import Any

from kiln.coordinator.context import Coordinator
from kiln.coordinator.monitoring import health, judging, reference
from kiln.coordinator.monitoring.monitors import Config
from kiln.core import lineage
from kiln.core.errors import FailedPrecondition

MAX_BATCH_ROWS = 1_000_000  # rows of the scored dataset read per window


def judge(ctx: Coordinator, monitor: dict[str, Any], config: Config, since: float, now: float) -> judging.Judged:
    project = monitor["project"]
    notes: list[str] = []
    job = ctx.store.latest_scoring(project, config.scoring, since, now)
    if job is None:
        notes.append(f"no batch scoring into dataset {config.scoring} ended in the window")
        empty: dict[str, Any] = {"scoring": config.scoring, "notes": notes}
        return judging.Judged(0, {"requests": 0.0, "health": None}, empty, None, health.Health(None, {}, notes))
    model, version = job["model"], int(job["version"])
    ref = reference.for_version(ctx, project, model, version, config.reference)
    name, _, number = job["input"].partition(":")
    found = [r for r in ctx.store.dataset_versions(project, name) if r["version"] == int(number or 0)]
    report = prediction = None
    rows = 0
    try:
        columns, rows = reference.read_columns(ctx, project, found[0]["snapshot"], f"dataset {job['input']}",
                                               MAX_BATCH_ROWS) if found else ({}, 0)  # fmt: skip
    except FailedPrecondition as e:
        columns = {}
        notes.append(str(e))
    if ref is None:
        notes.append(f"no reference profile for {model} v{version}: give the monitor --reference DATASET[:V]")
    elif columns:
        report = judging.drift_of(ref, config, columns, rows, notes)
    output = ctx.store.dataset_versions(project, config.scoring)
    if output:
        try:
            written, _ = reference.read_columns(ctx, project, output[-1]["snapshot"], "the scoring's output",
                                                MAX_BATCH_ROWS)  # fmt: skip
            values = written.get(judging.PREDICTION)
            if values is not None:
                prediction = judging.prediction_drift(ctx, monitor, config, values, notes)
        except FailedPrecondition as e:
            notes.append(str(e))
    share = report.share_drifted if report else 0.0
    penalty = health.DRIFT_CAP * share
    reasons = [f"{share:.0%} of the features drifted"] if penalty else []
    score = health.Health(round(100.0 - penalty, 6) if rows else None, {"drift": penalty}, reasons)
    measured: dict[str, float | None] = {
        "requests": float(rows),
        "drift_share": report.share_drifted if report else None,
        "health": score.score,
    }
    result: dict[str, Any] = {
        "scoring": config.scoring,
        "run": job["run_id"],
        "model": model,
        "main_version": version,
        "input": job["input"],
        "prediction_drift": judging.report_json(prediction) if prediction else None,
        "notes": notes,
    }
    judged = [lineage.model_id(project, model, version)]
    if found:
        judged.append(lineage.dataset_id(project, name, int(number)))
    return judging.Judged(rows, measured, result, report, score, judged, ref)
