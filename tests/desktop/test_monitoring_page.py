"""The Monitoring page against a real coordinator: endpoints as the store holds them, their ledger fed as the
gateway ships it (with labels), monitors made through the client and their windows judged by the
coordinator's own evaluation on a clock of the test's (as tests/monitoring/test_monitors.py does). The page
lists the monitors, shows the latest health score with its reasons, drift per feature over the windows as a
heat map (a row per feature, a column per window, drifted cells marked) and quality over time; Run now
judges a window; a firing alert is acknowledged through the button (after a question), in the
coordinator; schedules show their next fire times in local time and their fires open their runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kiln.client import Client
from kiln.coordinator.monitoring import evaluate
from kiln.coordinator.schedules import firing
from kiln.coordinator.server import RunningCoordinator
from kiln.core.models import Inventory
from kiln.core.monitoring import Monitor
from kiln.core.runs import RunSpec
from kiln.desktop import times
from kiln.desktop.ops import Runner
from kiln.desktop.pages.monitoring import page as monitoring_page
from kiln.desktop.pages.monitoring.heatmap import HeatCell, heat_map
from kiln.desktop.pages.monitoring.page import ALERTS_TAB, SCHEDULES_TAB, MonitoringPage
from kiln.desktop.pages.monitoring.rows import latest, reasons
from kiln.desktop.qt import QMessageBox, Qt
from kiln.desktop.session import Session
from kiln.desktop.widgets.confirm import action_button
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, wait_idle
from tests.monitoring.conftest import COLUMNS, feed, watch_project

HOUR = 3600.0
SCREENSHOT = Path("/tmp/monitoring-page.png")


@pytest.fixture(autouse=True)
def quick_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page polls often here, so waits end soon after the coordinator changes (each still allows WAIT_MS)."""
    monkeypatch.setattr(monitoring_page, "REFRESH_MS", 250)


def judged(
    qtbot: Any,
    coordinator: RunningCoordinator,
    admin: Client,
    shifts: list[float],
    name: str = "w",
    endpoint: str = "shifted",
    project: str = "mon",
) -> Monitor:
    """Monitor `name` of `endpoint`, its first window judged by the coordinator at once on its own clock
    (nothing in it), then one window per shift an hour apart on the test's clock (far ahead of the
    coordinator's), each of 300 requests, 50 of them labelled: 40 right, 10 wrong (accuracy 0.8)."""
    admin.create_monitor(project, name, endpoint, reference="ref:1", target="y", window="1h")
    qtbot.waitUntil(lambda: bool(admin.get_monitor(project, name).results), timeout=WAIT_MS)
    ctx = coordinator.ctx
    later = time.time() + 100_000
    for k, shift in enumerate(shifts):
        at = later + k * HOUR
        said = feed(coordinator, endpoint, shift, 300, at, seed=10 + k)
        labels = [(i, str(p)) for i, p in said[:40]] + [(i, str(1 - p)) for i, p in said[40:50]]
        assert admin.add_feedback(endpoint, labels)[0] == 50
        evaluate.evaluate(ctx, ctx.store.monitor(project, name) or {}, at)
    return admin.get_monitor(project, name)


@pytest.fixture
def watched(coordinator: RunningCoordinator, admin: Client, tmp_path: Path) -> str:
    return watch_project(coordinator, admin, tmp_path)


# -- the page -----------------------------------------------------------------------------------------------


def open_page(qtbot: Any, session: Session, project: str = "mon") -> tuple[MonitoringPage, Runner]:
    runner = Runner()
    page = MonitoringPage(session.client, runner)
    qtbot.addWidget(page)
    page.resize(1300, 850)
    page.show()
    qtbot.waitExposed(page)
    page.set_project(project)
    qtbot.waitUntil(lambda: "loading" not in page.summary.text(), timeout=WAIT_MS)
    return page, runner


def close_page(qtbot: Any, page: MonitoringPage, runner: Runner) -> None:
    """Closes the page as the window does when it closes, and waits until nothing it started is left."""
    page.close()
    wait_idle(qtbot, runner)
    assert not page.poller.timer.isActive()


def listed(page: MonitoringPage) -> dict[str, dict[str, str]]:
    headers = page.monitors.rows_model.headers
    return {r.key: dict(zip(headers, r.cells, strict=True)) for r in page.monitors.rows_model.rows}


def test_the_page_lists_monitors_and_shows_health_drift_per_feature_and_quality_over_time(
    qtbot, coordinator, admin, admin_session, watched
):
    m = judged(qtbot, coordinator, admin, [0.0, 1.0, 1.5])
    admin.create_monitor("mon", "quiet", "calm", reference="ref:1", target="y")  # judged once, on nothing
    qtbot.waitUntil(lambda: bool(admin.get_monitor("mon", "quiet").results), timeout=WAIT_MS)
    page, runner = open_page(qtbot, admin_session)
    qtbot.waitUntil(lambda: set(listed(page)) == {"quiet", "w"}, timeout=WAIT_MS)
    newest = latest(m)
    assert newest is not None and newest.seq == 4 and newest.drifted and newest.health is not None
    row = listed(page)["w"]
    assert (row["Endpoint"], row["Health"], row["Drifted"]) == ("shifted", f"{newest.health:.0f}", "yes")
    assert listed(page)["quiet"]["Drifted"] == "-"  # no requests: no verdict
    assert "2 monitors in mon, 1 drifted" in page.summary.text()

    click_row(qtbot, page.monitors, "w")
    panel = page.panel
    qtbot.waitUntil(lambda: panel.monitor is not None and panel.monitor.name == "w", timeout=WAIT_MS)
    assert panel.score.text() == f"{newest.health:.0f}"  # the latest window's score, big
    assert "window #4" in panel.score_caption.text()
    for said in reasons(newest):
        assert said in panel.reasons.text()

    heat = panel.heat.map
    assert heat.features == tuple(COLUMNS)  # a row per feature (y, the target, is left out)
    assert [w.seq for w in heat.windows] == [1, 2, 3, 4]  # a column per window, oldest left
    assert not [at for at in heat.cells if at[1] == 0]  # the coordinator's own first window: nothing to judge
    assert all((row, 2) in heat.cells and (row, 3) in heat.cells for row in range(4))
    assert {(row, 3) for row in range(4)} <= set(heat.drifted())  # the shifted windows' cells are marked
    assert set(heat.drifted()) == {at for at, c in heat.cells.items() if c.drifted}
    drifted_cell = heat.cells[(0, 3)]
    assert drifted_cell.ratio > 1.0
    tip = heat.tip(0, 3)
    columns = {c["column"]: c for c in newest.result["drift"]["columns"]}
    assert tip.startswith("x0 in window #4") and columns["x0"]["statistic"] in tip
    assert f"{columns['x0']['value']:.4g}" in tip and "threshold" in tip and "p-value" in tip
    assert "no drift verdict" in heat.tip(0, 0)
    at = panel.heat.cell_rect(1, 2).center()
    assert panel.heat.cell_at(at) == (1, 2)

    windows = cells(panel.windows)  # newest first: health and quality over time
    assert [w[0] for w in windows] == ["#4", "#3", "#2", "#1"]
    assert windows[0][2:5] == ("300", f"{newest.health:.0f}", "100%")
    assert all(w[6] == "accuracy 0.800 (n=50)" for w in windows[:3]) and windows[3][6] == "-"
    page.grab().save(str(SCREENSHOT))

    click_row(qtbot, page.monitors, "quiet")
    qtbot.waitUntil(lambda: panel.monitor is not None and panel.monitor.name == "quiet", timeout=WAIT_MS)
    assert panel.score.text() == "-" and "no requests" in panel.score_caption.text()
    close_page(qtbot, page, runner)


def test_run_now_judges_a_window_and_the_page_shows_it(qtbot, coordinator, admin, admin_session, watched):
    judged(qtbot, coordinator, admin, [1.0])
    page, runner = open_page(qtbot, admin_session)
    qtbot.waitUntil(lambda: page.monitors.selected_key() == "w", timeout=WAIT_MS)  # the only one: picked
    assert len(page.panel.heat.map.windows) == 2
    click(qtbot, page.run_button)
    qtbot.waitUntil(lambda: "judged window #3" in page.message.text(), timeout=WAIT_MS)
    assert "0 requests, no requests" in page.message.text()  # the test's requests lie ahead of now
    assert [r.seq for r in admin.get_monitor("mon", "w").results] == [3, 2, 1]
    qtbot.waitUntil(lambda: len(page.panel.heat.map.windows) == 3, timeout=WAIT_MS)
    assert page.run_button.isEnabled()
    close_page(qtbot, page, runner)


def test_acknowledging_a_firing_alert_asks_first_and_changes_it_in_the_coordinator(
    qtbot, coordinator, admin, admin_session, watched
):
    judged(qtbot, coordinator, admin, [1.0, 1.5])
    [alert] = [a for a in admin.list_alerts("mon", "firing") if a.rule == "drift"]
    page, runner = open_page(qtbot, admin_session)
    panel = page.alerts
    qtbot.waitUntil(lambda: alert.id in panel.table.row_keys(), timeout=WAIT_MS)
    assert page.tabs.tabText(ALERTS_TAB) == f"Alerts ({len(admin.list_alerts('mon', 'firing'))} firing)"
    page.tabs.setCurrentIndex(ALERTS_TAB)
    row = dict(zip(panel.table.rows_model.headers, cells(panel.table)[panel.table.row_of(alert.id)], strict=True))
    assert (row["State"], row["Title"], row["Monitor"], row["Windows"]) == (
        "firing",
        "Data drift on endpoint shifted",
        "w",
        "2",
    )
    assert not panel.acknowledge.isEnabled()  # nothing picked yet
    click_row(qtbot, panel.table, alert.id)
    assert panel.acknowledge.isEnabled() and "Data drift on endpoint shifted" in panel.details.text()

    click(qtbot, panel.acknowledge)
    box = page.confirmation
    assert box is not None and box.isVisible() and "Data drift on endpoint shifted" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))  # No: nothing changes
    wait_idle(qtbot, runner)
    assert admin.get_alert(alert.id).state == "firing"

    click(qtbot, panel.acknowledge)
    assert page.confirmation is not None
    click(qtbot, action_button(page.confirmation))
    qtbot.waitUntil(lambda: admin.get_alert(alert.id).state == "acknowledged", timeout=WAIT_MS)
    assert admin.get_alert(alert.id).acked_by == "admin"
    state = lambda: cells(panel.table)[panel.table.row_of(alert.id)][0]  # noqa: E731
    qtbot.waitUntil(lambda: state() == "acknowledged", timeout=WAIT_MS)
    assert cells(panel.table)[panel.table.row_of(alert.id)][7] == "admin"
    assert "acknowledged by admin" in page.message.text()
    assert panel.table.selected_key() == alert.id and not panel.acknowledge.isEnabled()
    page.grab().save(str(SCREENSHOT.with_name("monitoring-alerts.png")))
    close_page(qtbot, page, runner)


def test_schedules_show_their_next_fire_times_in_local_time_and_their_fires_open_runs(
    qtbot, coordinator, admin, admin_session, berlin
):
    admin.create_project("sched")
    store = coordinator.ctx.store
    store.add_node("n1", "fp", {}, time.time())  # a node that could run the fires (none connects)
    inventory = Inventory(cpus=4, memory_bytes=8 << 30)
    store.update_node("n1", time.time(), runtimes={"process": "here"}, inventory=inventory)
    job = RunSpec("sched", ("python", "-c", "print('hi')"))
    hourly = admin.create_schedule("sched", "hourly", job, every="1h")
    admin.create_schedule("sched", "weekdays", job, cron="0 6 * * 1-5", tz="Europe/Berlin")
    assert firing.fire_due(coordinator.ctx, hourly.next_fires[0]) == 1  # on the test's clock
    [fire] = admin.get_schedule("sched", "hourly").fires
    listed_now = {s.name: admin.get_schedule("sched", s.name) for s in admin.list_schedules("sched")}

    page, runner = open_page(qtbot, admin_session, "sched")
    panel = page.schedules
    qtbot.waitUntil(lambda: panel.table.row_keys() == ["hourly", "weekdays"], timeout=WAIT_MS)
    page.tabs.setCurrentIndex(SCHEDULES_TAB)
    headers = panel.table.rows_model.headers
    assert headers[3] in ("Next fire (CET)", "Next fire (CEST)")
    rows = {c[0]: dict(zip(headers, c, strict=True)) for c in cells(panel.table)}
    for name, s in listed_now.items():
        assert rows[name][headers[3]] == times.local_s(s.next_fires[0])  # local time, Berlin's
    assert rows["weekdays"][headers[3]].endswith("06:00:00")
    assert (rows["weekdays"]["Last fire"], rows["weekdays"]["Fires"]) == ("-", "0")
    assert rows["hourly"]["Last fire"].startswith("fired ") and rows["hourly"]["Fires"] == "1"

    qtbot.waitUntil(lambda: panel.shown is not None and panel.shown.name == "hourly", timeout=WAIT_MS)
    assert panel.table.selected_key() == "hourly"  # the first: picked
    for t in listed_now["hourly"].next_fires:
        assert times.local_s(t) in panel.details.text()
    qtbot.waitUntil(lambda: len(cells(panel.fires)) == 1, timeout=WAIT_MS)
    [shown] = cells(panel.fires)
    assert (shown[0], shown[2], shown[3]) == (times.local_s(fire.nominal), "fired", fire.run_id)
    assert not panel.open_run.isEnabled()  # no fire picked yet
    click_row(qtbot, panel.fires, panel.fires.row_keys()[0])
    with qtbot.waitSignal(page.run_wanted, timeout=WAIT_MS) as signal:
        click(qtbot, panel.open_run)
    assert signal.args == [fire.run_id]
    page.grab().save(str(SCREENSHOT.with_name("monitoring-schedules.png")))
    at = panel.fires.visualRect(panel.fires.model().index(0, 3)).center()  # the run's cell, double-clicked
    qtbot.mouseClick(panel.fires.viewport(), Qt.MouseButton.LeftButton, pos=at)
    with qtbot.waitSignal(page.run_wanted, timeout=WAIT_MS) as signal:
        qtbot.mouseDClick(panel.fires.viewport(), Qt.MouseButton.LeftButton, pos=at)
    assert signal.args == [fire.run_id]

    click_row(qtbot, panel.table, "weekdays")
    qtbot.waitUntil(lambda: panel.shown is not None and panel.shown.name == "weekdays", timeout=WAIT_MS)
    assert panel.fires_title.text() == "no fires yet" and "Europe/Berlin" in panel.details.text()
    close_page(qtbot, page, runner)


def test_no_project_asks_for_one_and_reads_nothing(qtbot, admin_session):
    runner = Runner()
    page = MonitoringPage(admin_session.client, runner)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    assert page.summary.text() == "choose a project first"
    assert not runner.busy and not page.run_button.isEnabled()
    close_page(qtbot, page, runner)


def test_how_far_a_cell_went_against_its_threshold():
    distance = HeatCell("x", "wasserstein", 0.05, 0.1, False)
    assert distance.ratio == pytest.approx(0.5)
    assert HeatCell("x", "psi", 0.5, 0.1, True).ratio == 2.0  # clipped
    test = HeatCell("x", "ks", 0.2, 0.05, True, p_value=0.05**1.5)  # a test: the p-value against the threshold
    assert test.ratio == pytest.approx(1.5)
    assert HeatCell("x", "ks", 0.01, 0.05, False, p_value=1.0).ratio == 0.0
    assert "p-value 0.0112" in test.tip() and "held against the p-value" in test.tip()
    assert heat_map(()).features == () and heat_map(()).windows == ()
