"""The run page's Metrics tab against a real coordinator, with a run of realistic metrics (loss, acc and
lr every step to 2,085, val_auc every 5 steps) written into its store: axes bound to the data, keys
overlaid on one chart, hover, smoothing, log-y, x as time, "Latest values" while the run goes on and
"Final values" after with "best @ step", and a live run read incrementally (only new points)."""

from __future__ import annotations

import math

import pytest

from kiln.core.runs import RunState
from kiln.desktop import times
from kiln.desktop.pages.run.record import MAX_POINTS
from kiln.desktop.pages.run.recordrows import number
from kiln.desktop.qt import QApplication, QEvent, QMouseEvent, Qt
from kiln.desktop.widgets import chartscale
from kiln.desktop.widgets.chart import Chart, Line
from tests.desktop.conftest import WAIT_MS, cells, click, click_tab
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of
from tests.records.planted import Planted, plant

LAST = 2085
START = 1_764_000_000.0  # the run's first point, seconds since the epoch
EVERY = 1.5  # seconds between steps


def loss(step: int) -> float:
    return 2.3 * math.exp(-step / 500) + 0.1 + 0.03 * math.sin(step / 3)


def acc(step: int) -> float:
    return 0.5 + 0.45 * (1 - math.exp(-step / 400)) + 0.01 * math.cos(step / 7)


def lr(step: int) -> float:
    return 0.1 * (1 - step / LAST)  # reaches exactly 0: never below it, and no log scale


def val_auc(step: int) -> float:
    return 0.9 + 0.08 * (1 - math.exp(-step / 700))  # in [0.9, 0.98]


CURVES = {"loss": (loss, 1), "acc": (acc, 1), "lr": (lr, 1), "val_auc": (val_auc, 5)}


def points(steps: range) -> list[tuple[str, int, float, float]]:
    return [(k, s, f(s), START + s * EVERY) for k, (f, every) in CURVES.items() for s in steps if s % every == 0]


@pytest.fixture
def live_run(cluster) -> str:
    """A run still going (queued: no agent will take it) that has logged 2,086 steps of metrics."""
    store = cluster.coordinator.ctx.store
    [run_id] = plant(store, "p", [Planted(START, RunState.QUEUED)])
    with store.transaction():
        store.add_metrics(run_id, points(range(LAST + 1)))
    return run_id


def metrics_tab(qtbot, cluster_session, open_window, run_id):
    window = open_window(cluster_session)
    page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    click_tab(qtbot, page.tabs, "Metrics")
    panel = page.record.metrics
    qtbot.waitUntil(lambda: sorted(panel.charts) == ["acc", "loss", "lr", "val_auc"], timeout=WAIT_MS)
    return window, page, panel


def test_axes_are_bound_to_the_data(qtbot, cluster, cluster_session, open_window, live_run):
    window, _, panel = metrics_tab(qtbot, cluster_session, open_window, live_run)
    charts = panel.charts
    low, high = charts["val_auc"].y_range()
    auc = [val_auc(s) for s in range(0, LAST + 1, 5)]
    assert min(auc) - 0.005 < low < min(auc) and max(auc) < high < max(auc) + 0.005  # a hair of margin
    assert high <= 1.0  # never up to 1.2
    assert charts["lr"].y_range()[0] == 0.0  # non-negative data: the axis stops at 0
    assert charts["loss"].x_range() == (0.0, float(LAST))  # ends at the last step, not at 4,000
    assert max(v for v, _ in charts["loss"].x_ticks()) <= LAST
    assert [label for _, label in charts["loss"].x_ticks()] == ["0", "500", "1,000", "1,500", "2,000"]
    assert all(low <= v <= high for v, _ in charts["val_auc"].y_ticks())
    drawn = len(charts["loss"].raw_values("loss"))
    assert drawn <= MAX_POINTS and charts["loss"].title() == f"loss  ({drawn} of 2,086 points drawn)"
    assert charts["val_auc"].title() == "val_auc" and len(charts["val_auc"].raw_values("val_auc")) == 418
    close_all(qtbot, window)


def test_chosen_keys_overlay_on_one_chart_and_hover_names_the_point(
    qtbot, cluster, cluster_session, open_window, live_run
):
    window, _, panel = metrics_tab(qtbot, cluster_session, open_window, live_run)
    panel.choose(["val_auc", "acc"])
    assert sorted(panel.charts) == ["acc", "val_auc"] and not panel.overlay.isVisible()
    click(qtbot, panel.overlaid)
    overlay = panel.overlay
    assert overlay.isVisible() and panel.charts == {} and overlay.series_count() == 2
    assert overlay.labels() == ["acc", "val_auc"] and overlay.title() == "acc, val_auc"

    at = overlay.point_position("val_auc", 200)  # the 201st point: step 1,000
    move = QMouseEvent(
        QEvent.Type.MouseMove, at, overlay.mapToGlobal(at), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(overlay, move)  # as the mouse moving there (offscreen has no real pointer)
    assert overlay.hovered() == (1, 200)  # the marker is on val_auc's point
    text = overlay.hover_text_at(at)
    assert text.startswith("val_auc\nstep 1,000\n") and f"value {val_auc(1000):.6g}" in text
    assert "time 2025-" in text  # the point's own wall-clock time
    close_all(qtbot, window)


def test_smoothing_log_y_and_time_axes(qtbot, cluster, cluster_session, open_window, live_run):
    window, _, panel = metrics_tab(qtbot, cluster_session, open_window, live_run)
    chart = panel.charts["val_auc"]
    raw = chart.raw_values("val_auc")
    assert chart.drawn_values("val_auc") == raw
    panel.controls.smoothing.setValue(90)
    assert panel.controls.smoothing_label.text() == "0.90"
    smoothed = chart.drawn_values("val_auc")
    assert chart.raw_values("val_auc") == raw and smoothed != raw  # the raw line stays, faint, behind
    assert smoothed == chartscale.smooth(raw, 0.9) and smoothed[0] == raw[0]  # debiased: starts on the data

    click(qtbot, panel.controls.log_y)
    assert panel.charts["loss"].log_scale_used() and panel.charts["loss"].note() == ""
    assert panel.charts["lr"].log_scale_used() is False  # lr reaches 0: kept linear, and said so
    assert panel.charts["lr"].note().startswith("log scale needs values above 0 (lowest is 0)")

    panel.controls.x_mode.setCurrentIndex(2)  # time since start
    assert chart.x_range() == (0.0, LAST * EVERY)
    assert chart.x_ticks()[1][1] == "15m"
    panel.controls.x_mode.setCurrentIndex(1)  # wall time
    assert chart.x_range() == (START, START + LAST * EVERY)
    assert chart.x_title() == f"wall time ({times.zone(START)})"  # the ticks' zone, said once
    close_all(qtbot, window)


def test_latest_values_while_running_final_values_after_with_best_step(
    qtbot, cluster, cluster_session, open_window, live_run
):
    window, page, _ = metrics_tab(qtbot, cluster_session, open_window, live_run)
    record = page.record
    assert record.values_title.text() == "<b>Latest values (the run is going)</b>"
    rows = {c[0]: c for c in cells(record.metric_summary)}
    loss_best = min(range(LAST + 1), key=lambda s: (loss(s), s))
    acc_best = max(range(LAST + 1), key=lambda s: (acc(s), -s))
    assert record.metric_summary.rows_model.headers[5] == "Best @ step"
    assert rows["loss"][5] == f"{number(loss(loss_best))} @ {loss_best}"
    assert rows["acc"][5] == f"{number(acc(acc_best))} @ {acc_best}"
    assert rows["lr"][5] == "? (name says neither)"
    assert rows["loss"][1:3] == (number(loss(LAST)), str(LAST)) and rows["loss"][6] == str(LAST + 1)

    cluster.admin.cancel_run(live_run)
    qtbot.waitUntil(lambda: record.values_title.text() == "<b>Final values</b>", timeout=WAIT_MS)
    close_all(qtbot, window)


def test_a_live_run_is_read_incrementally(qtbot, cluster, cluster_session, open_window, live_run, monkeypatch):
    reads: list[tuple[dict[str, int], dict[str, list[int]], dict[str, int]]] = []
    client = cluster_session.client
    original = client.metrics

    def watched(run_id, keys=None, max_points=1000, after_step=None):
        found = original(run_id, keys, max_points, after_step)
        steps = {s.key: [p[0] for p in s.points] for s in found}
        reads.append((dict(after_step or {}), steps, {s.key: s.total_points for s in found}))
        return found

    monkeypatch.setattr(client, "metrics", watched)
    window, _, panel = metrics_tab(qtbot, cluster_session, open_window, live_run)
    assert reads[0][0] == {}  # opened: one whole, downsampled read
    qtbot.waitUntil(lambda: len(reads) >= 2, timeout=WAIT_MS)  # the page polls a going run
    asked, got, _ = reads[1]
    assert asked == {"acc": LAST, "loss": LAST, "lr": LAST, "val_auc": LAST} and all(s == [] for s in got.values())

    store = cluster.coordinator.ctx.store
    with store.transaction():  # points and their summary together, as the coordinator stores a batch
        store.add_metrics(live_run, points(range(LAST + 1, 2200)))
    chart = panel.charts["val_auc"]
    qtbot.waitUntil(lambda: panel.history.keys["loss"].steps[-1] == 2199, timeout=WAIT_MS)
    bringing = next(r for r in reads[1:] if r[1].get("loss"))
    assert bringing[0]["loss"] == LAST and bringing[1]["loss"] == list(range(LAST + 1, 2200))
    assert bringing[2]["loss"] == 2200  # the total, so a gap would be noticed and read whole
    assert len(chart.raw_values("val_auc")) == len(range(0, 2200, 5))  # every point, old and new
    assert panel.charts["loss"].x_range() == (0.0, 2199.0)
    assert panel.history.keys["loss"].known == 2200 and panel.history.after_steps()["loss"] == 2199
    close_all(qtbot, window)


def test_a_gap_in_an_incremental_read_makes_the_key_read_whole():
    from kiln.core.models import MetricSeries
    from kiln.desktop.pages.run.metricdata import MetricHistory

    history = MetricHistory(bound=1000)
    history.apply([MetricSeries("m", 3, ((0, 1.0, 0.0), (1, 2.0, 0.0), (2, 3.0, 0.0)))])
    history.apply([MetricSeries("m", 5, ((3, 4.0, 0.0), (4, 5.0, 0.0)), after_step=2)])
    assert history.after_steps() == {"m": 4} and history.keys["m"].highest == (4, 5.0)
    history.apply([MetricSeries("m", 7, ((5, 0.5, 0.0),), after_step=4)])  # 7 in all, 6 seen: one came earlier
    assert history.after_steps() == {}  # the next read asks for it whole


def test_a_line_grown_past_its_bound_is_downsampled_evenly_along_the_steps():
    from kiln.core.models import MetricSeries
    from kiln.desktop.pages.run.metricdata import MetricHistory

    history = MetricHistory(bound=100)
    history.apply([MetricSeries("m", 1000, tuple((s * 10, float(s), 0.0) for s in range(100)))])
    history.apply([MetricSeries("m", 1100, tuple((990 + s, 1.0, 0.0) for s in range(1, 101)), after_step=990)])
    steps = history.keys["m"].steps
    assert len(steps) <= 50 and steps[0] == 0 and steps[-1] == 1090
    gaps = [b - a for a, b in zip(steps, steps[1:], strict=False)]
    assert max(gaps) <= 3 * min(gaps)  # the old part no sparser than the new


@pytest.mark.parametrize(
    ("values", "low", "high"),
    [
        ([0.9, 0.98], 0.896, 0.984),
        ([0.5, 1.0], 0.475, 1.0),  # data in [0, 1]: not above 1
        ([0.0, 0.1], 0.0, 0.105),  # non-negative: not below 0
        ([-1.0, 1.0], -1.1, 1.1),
        ([3.0], 2.85, 3.15),  # one point still gets a range
        ([0.0], 0.0, 0.5),
        ([], 0.0, 1.0),
    ],
)
def test_a_y_range_has_a_small_margin_within_what_the_data_can_be(values, low, high):
    found = chartscale.y_range(values)
    assert found == pytest.approx((low, high))


def test_a_single_point_and_a_constant_line_still_draw(qtbot):
    chart = Chart()
    qtbot.addWidget(chart)
    chart.set_lines("one", [Line("x", [7], [0.5])])
    assert chart.x_range() == (6.0, 8.0) and chart.y_range() == pytest.approx((0.475, 0.525))
    chart.set_lines("flat", [Line("x", [0, 10], [2.0, 2.0]), Line("y", [0, 10], [math.nan, math.inf])])
    assert chart.series_count() == 1 and chart.y_range() == pytest.approx((1.9, 2.1))  # y: nothing to draw
    chart.set_lines("flat", [Line("x", [0, 10], [2.0, 2.0])])
    chart.set_x_mode("wall")
    assert chart.series_count() == 0 and chart.note() == "x: no wall-clock times to place it by"
    with pytest.raises(ValueError, match="x mode must be one of step, wall, relative"):
        chart.set_x_mode("epoch")
