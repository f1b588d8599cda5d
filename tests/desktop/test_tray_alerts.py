"""The admin tray shows IT the firing alerts of every project: how many, and the newest few titles, read on
the tray's own cadence; an alert acknowledged elsewhere leaves the count. Offscreen the tray is its window
(as in test_tray.py)."""

from __future__ import annotations

from kiln.core.monitoring import Alert
from kiln.desktop.tray.watch import firing_text
from tests.desktop.conftest import WAIT_MS
from tests.desktop.test_monitoring_page import judged, watch_project
from tests.desktop.test_tray import close_tray, open_tray


def test_the_tray_counts_firing_alerts_and_names_the_newest(
    qtbot, coordinator, admin, admin_session, settings, tmp_path
):
    watch_project(coordinator, admin, tmp_path)
    tray = open_tray(qtbot, admin_session, settings)
    window = tray.window
    assert window.alerts.text() == "Alerts: none firing"

    judged(qtbot, coordinator, admin, [1.0])  # a drifted window: the drift alert fires
    firing = admin.list_alerts("", "firing")
    assert "Data drift on endpoint shifted" in [a.title for a in firing]
    qtbot.waitUntil(lambda: f"Alerts: {len(firing)} firing" in window.alerts.text(), timeout=WAIT_MS)
    assert "mon: Data drift on endpoint shifted" in window.alerts.text()
    assert [a.id for a in tray.watch.firing] == [a.id for a in firing]

    for a in firing:  # someone is on it: the tray stops counting them
        admin.acknowledge_alert(a.id)
    qtbot.waitUntil(lambda: window.alerts.text() == "Alerts: none firing", timeout=WAIT_MS)
    close_tray(qtbot, tray)


def alert(n: int) -> Alert:
    return Alert(f"a-{n}", "demo", "m-1", "drift", "warning", "firing", f"Drift {n}", "", "{}", n, n, 1)


def test_the_alerts_line_names_the_newest_few_and_counts_the_rest():
    assert firing_text([]) == "Alerts: none firing"
    assert firing_text([alert(1)]) == "Alerts: 1 firing: demo: Drift 1"
    five = [alert(n) for n in range(5)]
    assert firing_text(five) == "Alerts: 5 firing: demo: Drift 0; demo: Drift 1; demo: Drift 2; and 2 more"
    assert firing_text([], "permission denied") == "Alerts: could not be read (permission denied)"
