"""The compare view against a real cluster: runs that log params and per-step metrics through kiln.track,
compared as an experiment (differing params highlighted, the best run of each metric marked by the
metric's direction and overridable, execution details closed), overlaid per metric, and for three or
more runs drawn as parallel coordinates; plus the rows and axes it is built from, as plain data."""

from __future__ import annotations

import sys

from kiln.core.compare import Field, MetricComparison, MetricSummary, compare_fields
from kiln.core.models import RunRecord
from kiln.core.runs import Run, RunSpec, RunState
from kiln.desktop.pages.compare.axes import param_axis
from kiln.desktop.pages.compare.export import as_csv, as_markdown
from kiln.desktop.pages.compare.page import CompareDialog
from kiln.desktop.pages.compare.rows import metric_rows
from kiln.desktop.qt import QApplication, QEvent, QGuiApplication, QMouseEvent, QPointF, Qt
from kiln.desktop.rows import Row
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, click_tab
from tests.desktop.test_runs import close_all, runs_page_of

TRAIN = """
import os, kiln.track as kt
lr, batch, auc, scale = (os.environ[k] for k in ("LR", "BATCH", "AUC", "LOSS_SCALE"))
kt.log_params({"lr": float(lr), "batch_size": int(batch), "optimizer": os.environ.get("OPT", "adam")})
if os.environ.get("NAME"):
    kt.set_tag("name", os.environ["NAME"])
for step in range(20):
    kt.log_metric("loss", float(scale) / (step + 1))
    kt.log_metric("val_auc", float(auc) - (19 - step) * 0.01)
"""


def sweep(cluster, *settings: dict[str, str]) -> list[str]:
    """Runs of TRAIN, one per setting (its environment variables), all finished; their ids in order."""
    snap = push_folder(cluster, {"train.py": TRAIN})
    runs = [
        cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), snap, runtime="process", env=env))
        for env in settings
    ]
    for run in runs:
        done = cluster.wait_run(run.id)
        assert str(done.state) == "succeeded", cluster.output(run.id)
    return [r.id for r in runs]


def loaded(qtbot, view: CompareDialog) -> CompareDialog:
    qtbot.waitUntil(lambda: view.compared is not None, timeout=WAIT_MS)
    return view


def hover(widget, pos: QPointF) -> None:
    """The mouse moved to `pos` over `widget` (sent to it: with several windows open offscreen, a moved
    cursor may land on another)."""
    at = widget.mapToGlobal(pos.toPoint())
    event = QMouseEvent(QEvent.Type.MouseMove, pos, QPointF(at), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(widget, event)


def by_key(table) -> dict[str, tuple[str, ...]]:
    return {r.key: r.cells for r in table.rows_model.rows}


def test_compare_from_the_runs_page_shows_what_differs_and_the_best_runs(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    slow, fast = sweep(
        cluster,
        {"LR": "0.1", "BATCH": "32", "AUC": "0.97", "LOSS_SCALE": "1.0", "NAME": "baseline"},
        {"LR": "0.2", "BATCH": "32", "AUC": "0.98", "LOSS_SCALE": "2.0"},
    )
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: {slow, fast} <= set(page.table.row_keys()), timeout=WAIT_MS)
    click_row(qtbot, page.table, slow)
    click_row(qtbot, page.table, fast, add=True)
    click(qtbot, page.compare)
    view = page.compare_view
    assert isinstance(view, CompareDialog)
    qtbot.waitExposed(view)
    loaded(qtbot, view)
    assert view.tab_titles() == ["Comparison", "Overlay"]  # no parallel coordinates for two runs
    # The Runs table lists the newest first; the header names each run, the named one by its name too.
    header = view.header.table
    assert header.rows_model.headers == ("Run", fast, f"{slow}\nbaseline")
    assert by_key(header)["state"][1:] == ("succeeded", "succeeded")
    assert by_key(header)["user"][1:] == ("admin", "admin")
    assert all(by_key(header)["started"][1:])

    params = view.params
    assert params.only_differences.isChecked()
    assert cells(params.table) == [("lr", "0.2", "0.1")]
    assert all(r.marked for r in params.table.rows_model.rows)
    assert params.summary.text() == "1 of 3 parameters differ"
    click(qtbot, params.only_differences)
    shown = by_key(params.table)
    assert list(shown) == ["params.batch_size", "params.lr", "params.optimizer"]
    assert shown["params.batch_size"] == ("batch_size", "32", "32")
    assert [r.key for r in params.table.rows_model.rows if r.marked] == ["params.lr"]

    metrics = view.metrics
    rows = by_key(metrics.table)
    assert rows["val_auc"][:2] == ("val_auc", "higher is better")
    assert rows["val_auc"][2].startswith("★ 0.98") and rows["val_auc"][3].startswith("0.97")
    assert rows["loss"][1] == "lower is better"
    assert rows["loss"][3].startswith("★ 0.05") and rows["loss"][2].startswith("0.1")
    assert "(0.79 – 0.98)" in rows["val_auc"][2]  # last (lowest – highest)
    assert metrics.best() == {"loss": [slow], "val_auc": [fast]}
    best_cells = {r.key: r.best for r in metrics.table.rows_model.rows}
    assert best_cells == {"loss": frozenset({3}), "val_auc": frozenset({2})}  # drawn bold: the run's column

    combo = metrics.combos["val_auc"]
    assert combo.currentText() == "higher is better"
    choose(qtbot, combo, "lower is better")  # the person says lower is better: the other run wins
    assert metrics.best()["val_auc"] == [slow]
    rows = by_key(metrics.table)
    assert rows["val_auc"][1] == "lower is better" and rows["val_auc"][3].startswith("★ 0.97")
    choose(qtbot, metrics.combos["loss"], "no best")
    assert metrics.best()["loss"] == [] and not by_key(metrics.table)["loss"][3].startswith("★")

    details = view.details
    assert not details.is_open() and not details.table.isVisible()
    assert details.toggle.text().startswith("Execution details (")
    click(qtbot, details.toggle)
    assert details.is_open() and details.table.isVisible()
    marked = {r.key for r in details.table.rows_model.rows if r.marked}
    assert "env" in marked and "command" not in marked and "node" not in marked and "snapshot" not in marked
    assert by_key(details.table)["node"][1:] == ("n1", "n1")

    overlay = click_tab(qtbot, view.tabs, "Overlay")
    assert overlay is view.overlay and sorted(overlay.charts) == ["loss", "val_auc"]
    for key, chart in overlay.charts.items():
        assert chart.series_count() == 2, key
        assert chart.labels() == [fast, f"{slow} (baseline)"]
        assert chart.x_range() == (0.0, 19.0)
    assert overlay.charts["val_auc"].raw_values(fast)[-1] == 0.98

    click_tab(qtbot, view.tabs, "Comparison")
    click(qtbot, view.copy_markdown)
    assert "| lr | 0.2 | 0.1 |" in QGuiApplication.clipboard().text()
    close_all(qtbot, window)


def test_three_runs_get_parallel_coordinates(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    ids = sweep(
        cluster,
        {"LR": "0.1", "BATCH": "32", "AUC": "0.95", "LOSS_SCALE": "1.0"},
        {"LR": "0.3", "BATCH": "64", "AUC": "0.97", "LOSS_SCALE": "0.5", "OPT": "sgd"},
        {"LR": "0.2", "BATCH": "64", "AUC": "0.96", "LOSS_SCALE": "2.0"},
    )
    window = open_window(cluster_session)
    view = CompareDialog(cluster_session.client, window.runner, ids, window)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    loaded(qtbot, view)
    assert view.tab_titles() == ["Comparison", "Overlay", "Parallel coordinates"]
    assert [c.series_count() for c in view.overlay.charts.values()] == [3, 3]
    tab = click_tab(qtbot, view.tabs, "Parallel coordinates")
    drawing = tab.view
    assert [a.name for a in drawing.axes] == ["batch_size", "lr", "optimizer", "loss", "val_auc"]
    lines = drawing.polylines()
    assert list(lines) == ids and all(len(points) == 5 and None not in points for points in lines.values())
    lr = drawing.axes[1]
    assert (lr.low, lr.high) == (0.1, 0.3) and lr.numeric
    assert drawing.axes[2].categories == ("adam", "sgd")  # a text param: evenly spaced categories
    assert lines[ids[1]][1].y() < lines[ids[2]][1].y() < lines[ids[0]][1].y()  # higher lr drawn higher

    first, second = lines[ids[2]][0], lines[ids[2]][1]
    middle = QPointF((first.x() + second.x()) / 2, (first.y() + second.y()) / 2)
    assert drawing.run_at(middle) == 2
    hover(drawing, middle)
    assert drawing.hovered() == ids[2]
    assert drawing.describe(2).splitlines()[:3] == [ids[2], "batch_size: 64", "lr: 0.2"]

    assert tab.colour_by.currentText() == "loss" and "Coloured by loss" in tab.legend.text()
    colours = list(drawing.colours)
    choose(qtbot, tab.colour_by, "val_auc")
    assert "Coloured by val_auc" in tab.legend.text() and drawing.colours != colours
    tab.metric_list.item(0).setCheckState(Qt.CheckState.Unchecked)  # untick loss
    assert [a.name for a in drawing.axes] == ["batch_size", "lr", "optimizer", "val_auc"]
    close_all(qtbot, window)


def test_a_run_that_cannot_be_read_is_named(qtbot, coordinator, admin_session, open_window):
    window = open_window(admin_session)
    view = CompareDialog(admin_session.client, window.runner, ["r-missing1", "r-missing2"], window)
    qtbot.addWidget(view)
    view.show()
    assert view.status.text() == "loading 2 runs…"  # the answer comes through the event loop, not yet run
    qtbot.waitUntil(lambda: view.retry.isVisible(), timeout=WAIT_MS)
    assert view.status.text().startswith("Could not compare the runs: run r-missing1")
    assert "try again" in view.status.text() and not view.tabs.isVisible()
    close_all(qtbot, window)


# -- the rows and axes, as plain data ------------------------------------------------------------------


def test_metric_rows_mark_the_best_run_by_direction_and_not_on_a_tie():
    summary = MetricSummary  # last, step, low, high, points
    comparisons = [
        MetricComparison("val_loss", (summary(0.2, 9, 0.2, 1.0, 10), summary(0.3, 9, 0.3, 1.0, 10), None)),
        MetricComparison("f1", (summary(0.5, 9, 0.1, 0.5, 10), summary(0.5, 9, 0.1, 0.5, 10), None)),
        MetricComparison("epoch", (summary(9, 9, 0, 9, 10), summary(3, 3, 0, 3, 4), summary(5, 5, 0, 5, 6))),
    ]
    rows = {r.key: r for r in metric_rows(comparisons, {"val_loss": "min", "f1": "max", "epoch": None})}
    assert rows["val_loss"].cells == ("val_loss", "lower is better", "★ 0.2  (0.2 – 1)", "0.3  (0.3 – 1)", "—")
    assert rows["val_loss"].best == {2}
    assert rows["f1"].best == set() and rows["epoch"].best == set()  # all the same; no direction
    assert "this run logged no val_loss" in rows["val_loss"].tips[4]


def test_a_param_axis_is_numeric_only_when_every_value_is_a_number():
    numeric = param_axis(Field("params", "lr", ("0.1", None, "0.3")))
    assert numeric.numeric and (numeric.low, numeric.high) == (0.1, 0.3)
    assert [numeric.position(i) for i in range(3)] == [0.0, None, 1.0]
    mixed = param_axis(Field("params", "layers", ("10", "2", "auto")))
    assert mixed.categories == ("2", "10", "auto") and mixed.position(0) == 0.5


def test_the_sections_copy_as_csv_and_markdown():
    sections = [("Parameters", ("Parameter", "r-1\nbaseline", "r-2"), [Row(("lr", "0.1", "a|b"), "lr")])]
    assert as_csv(sections) == "section,Parameter,r-1 baseline,r-2\nParameters,lr,0.1,a|b\n"
    assert as_markdown(sections).splitlines() == [
        "### Parameters", "", "| Parameter | r-1 baseline | r-2 |", "|---|---|---|", "| lr | 0.1 | a\\|b |"
    ]  # fmt: skip


def test_an_empty_record_compares_as_missing():
    run = Run("r-1", RunSpec("p", ("true",)), "u", RunState.SUCCEEDED, 0)
    bare = RunRecord(run, {}, {}, [], [], [], [], {})
    logged = RunRecord(run, {"lr": "0.1"}, {}, [("acc", 0.5, 3, 0.1, 0.5, 4)], [], [], [], {"python": "3.11"})
    fields = {f.label: f for f in compare_fields([bare, logged])}
    assert fields["params.lr"].values == (None, "0.1") and fields["params.lr"].differs
    assert fields["metrics.acc"].values == (None, "0.5") and not fields["command"].differs
    assert fields["environment.python"].values == (None, "3.11")
