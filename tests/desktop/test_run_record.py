"""The run page's tracking tabs against a real cluster: a run that logs through kiln.track (params, tags,
metrics, a model) shows them, with one chart per metric drawn from the coordinator's downsampled history,
and its inputs open their lineage."""

from __future__ import annotations

import math
import sys

from kiln.core.runs import RunSpec
from kiln.desktop.pages.run.record import MAX_POINTS
from kiln.desktop.pages.run.recordrows import number
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, click_row, click_tab
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of

TRAIN = """
import kiln.track as kt, os
kt.log_params({"lr": 0.01, "optimizer": "adam"})
kt.set_tag("team", "vision")
for step in range(40):
    kt.log_metric("loss", 1.0 / (step + 1))
for step in range(1200):
    kt.log_metric("acc", step / 1200)
kt.log_metric("acc", float("nan"))
os.makedirs("out/model", exist_ok=True)
open("out/model/weights.bin", "w").write("w")
kt.log_model("out/model", name="classifier", flavor="sklearn")
"""


def tracked_run(cluster, script: str = TRAIN, **spec) -> str:
    """A finished run of `script` (a Python program logging through the SDK the agent mounts)."""
    snap = push_folder(cluster, {"train.py": script})
    run = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, runtime="process", **spec))
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded", cluster.output(run.id)
    return run.id


def test_the_run_page_shows_params_and_a_chart_per_metric(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    run_id = tracked_run(cluster)
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    record = run_page.record

    click_tab(qtbot, run_page.tabs, "Parameters & tags")
    qtbot.waitUntil(lambda: cells(record.params) == [("lr", "0.01"), ("optimizer", "adam")], timeout=WAIT_MS)
    assert cells(record.tags) == [("team", "vision")]

    click_tab(qtbot, run_page.tabs, "Metrics")
    charts = record.metrics.charts
    qtbot.waitUntil(lambda: sorted(charts) == ["acc", "loss"], timeout=WAIT_MS)
    assert len(charts["loss"].raw_values("loss")) == 40  # every point: fewer than the chart asks for
    assert charts["loss"].title() == "loss"
    [acc] = cluster.admin.metrics(run_id, ["acc"], max_points=MAX_POINTS)
    total, points = acc.total_points, acc.points
    finite = [p for p in points if math.isfinite(p[1])]
    assert total == 1201 and len(points) <= MAX_POINTS
    assert len(charts["acc"].raw_values("acc")) == len(finite)  # the NaN is in the table, not on the chart
    assert f"of {total:,} points drawn" in charts["acc"].title()
    assert charts["loss"].isVisible() and charts["loss"].raw_values("loss")[39] == 1.0 / 40
    final = {c[0]: c for c in cells(record.metric_summary)}
    assert final["loss"][1:3] == (number(1.0 / 40), "39") and final["acc"][1] == "NaN"

    click_tab(qtbot, run_page.tabs, "Artifacts & models")
    model_row = ("out/model/", "model classifier (sklearn)", "folder, 1 file", "1 B")
    qtbot.waitUntil(lambda: cells(record.artifacts.table)[:1] == [model_row], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "out/model/weights.bin" in run_page.output_files.row_keys(), timeout=WAIT_MS)
    click_tab(qtbot, run_page.tabs, "Environment")
    recorded = dict(cells(record.recorded))
    assert recorded["runtime"] == "process" and recorded["node"] == "n1" and "packages" not in recorded
    assert any(c[0] == "grpcio" and c[1] for c in cells(record.packages))
    close_all(qtbot, window)


def test_an_input_clicked_on_the_run_page_opens_its_lineage(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "cat,1\n"}))
    run_id = tracked_run(cluster, "print('reading')\n", datasets=("images:1",))
    snapshot = cluster.admin.get_run(run_id).spec.snapshot
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    inputs = run_page.record.inputs
    click_tab(qtbot, run_page.tabs, "Inputs")
    qtbot.waitUntil(lambda: len(inputs.row_keys()) == 2, timeout=WAIT_MS)
    assert cells(inputs) == [
        ("code/data snapshot", f"snapshot {snapshot[:12]}", f"snapshot:{snapshot}"),
        ("dataset version", f"p/images v{data.version}", "dataset:p/images@1"),
    ]
    click_row(qtbot, inputs, "dataset:p/images@1")
    lineage = window.lineage_page
    assert window.pages.currentWidget() is lineage
    qtbot.waitUntil(lambda: lineage.graph is not None, timeout=WAIT_MS)
    assert lineage.graph.root == "dataset:p/images@1" and f"run:{run_id}" in lineage.view.boxes
    close_all(qtbot, window)


def test_a_run_logged_through_mlflow_shows_like_any_run(qtbot, cluster, cluster_session, open_window):
    """Made through the MLflow door's own handlers (what its HTTP calls run), on the same coordinator."""
    from kiln.coordinator.mlflow import runs as mlflow_runs
    from kiln.coordinator.mlflow.protocol import Call
    from kiln.core.permissions import Principal

    ctx, who = cluster.coordinator.ctx, Principal("admin", True)
    made = mlflow_runs.create(Call(ctx, who, "p", {"experiment_id": "0", "run_name": "from-mlflow"}))
    run_id = made["run"]["info"]["run_id"]
    metrics = [
        {"key": "loss", "value": 1.0 / (s + 1), "step": s, "timestamp": 1_700_000_000_000 + s} for s in range(30)
    ]
    mlflow_runs.log_batch(
        Call(ctx, who, "p", {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}], "metrics": metrics})
    )
    mlflow_runs.update(Call(ctx, who, "p", {"run_id": run_id, "status": "FINISHED"}))
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    record = run_page.record
    click_tab(qtbot, run_page.tabs, "Parameters & tags")
    qtbot.waitUntil(lambda: ("lr", "0.1") in cells(record.params), timeout=WAIT_MS)
    click_tab(qtbot, run_page.tabs, "Metrics")
    qtbot.waitUntil(lambda: sorted(record.metrics.charts) == ["loss"], timeout=WAIT_MS)
    assert len(record.metrics.charts["loss"].raw_values("loss")) == 30
    close_all(qtbot, window)
