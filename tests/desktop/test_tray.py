"""The admin tray against a real cluster. Offscreen there is no system tray, so the tray is its window:
health in colour (green, amber when a node goes, red when the coordinator goes), drain and undrain,
join tokens that really enrol a node, and the way to the admin window."""

from __future__ import annotations

from kiln.core.models import Node
from kiln.desktop.app import Launcher
from kiln.desktop.qt import QApplication, QSystemTrayIcon
from kiln.desktop.tray.app import ClusterMenu, TrayApp
from kiln.desktop.tray.health import AMBER, GREEN, RED, cluster_health
from tests.compute.conftest import FAST
from tests.conftest import ADMIN_PASSWORD, login, start_coordinator
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, session_for, wait_idle


def open_tray(qtbot, session, settings) -> TrayApp:
    assert not QSystemTrayIcon.isSystemTrayAvailable()  # offscreen: the window is the tray
    tray = TrayApp(session, settings)
    qtbot.addWidget(tray.window, before_close_func=lambda _: close_tray(qtbot, tray))
    qtbot.waitExposed(tray.window)
    qtbot.waitUntil(lambda: tray.watch.looked, timeout=WAIT_MS)
    return tray


def close_tray(qtbot, tray: TrayApp) -> None:
    """Closes the tray's window as a person does, and waits until the tray has finished (nothing left
    running); pytest-qt calls it again at teardown, when it does nothing more."""
    tray.window.close()
    qtbot.waitUntil(lambda: tray.window.ended, timeout=WAIT_MS)
    wait_idle(qtbot, tray.runner)
    assert not tray.watch.timer.isActive()


def node_states(tray: TrayApp) -> dict[str, str]:
    return {c[0]: c[1] for c in cells(tray.window.nodes.table)}


def test_health_turns_amber_when_an_agent_stops_and_red_when_the_coordinator_does(
    qtbot, cluster, cluster_session, settings
):
    cluster.agent("n1")
    n2 = cluster.agent("n2")
    tray = open_tray(qtbot, cluster_session, settings)
    window = tray.window
    qtbot.waitUntil(lambda: window.level == GREEN, timeout=WAIT_MS)
    assert "all 2 nodes ready" in window.health.text() and "0 queued, 0 running" in window.counts.text()
    assert node_states(tray) == {"n1": "ready", "n2": "ready"}

    n2.stop()  # with the fast settings the node is unreachable within about 1.5 s
    qtbot.waitUntil(lambda: window.level == AMBER, timeout=WAIT_MS)
    assert "n2 unreachable" in window.health.text() and node_states(tray)["n1"] == "ready"

    old = cluster.coordinator
    old.stop()
    try:
        qtbot.waitUntil(lambda: window.level == RED, timeout=WAIT_MS)
        assert "coordinator unreachable" in window.health.text()
    finally:  # back on the same ports and data, so the cluster fixture can stop it as usual
        cluster.coordinator = start_coordinator(
            old.ctx.config.data_dir,
            listen=f"127.0.0.1:{old.port}",
            agent_listen=f"127.0.0.1:{old.agent_port}",
            **FAST,
        )
        cluster.admin = login(cluster.coordinator, "admin", ADMIN_PASSWORD)
    qtbot.waitUntil(lambda: window.level != RED, timeout=WAIT_MS)  # the tray notices it is back
    close_tray(qtbot, tray)


def test_draining_and_undraining_a_node_from_the_tray(qtbot, cluster, cluster_session, settings):
    cluster.agent("n1")
    tray = open_tray(qtbot, cluster_session, settings)
    panel = tray.window.nodes
    qtbot.waitUntil(lambda: node_states(tray) == {"n1": "ready"}, timeout=WAIT_MS)
    assert not panel.drain.isEnabled()  # nothing selected yet
    click_row(qtbot, panel.table, "n1")
    assert panel.drain.isEnabled() and not panel.undrain.isEnabled()
    click(qtbot, panel.drain)
    qtbot.waitUntil(lambda: node_states(tray) == {"n1": "draining"}, timeout=WAIT_MS)
    assert cluster.node_state("n1") == "draining" and tray.window.level == AMBER
    assert "n1 drained" in tray.window.message.text()
    assert panel.table.selected_key() == "n1" and panel.undrain.isEnabled()  # the refresh kept it
    click(qtbot, panel.undrain)
    qtbot.waitUntil(lambda: tray.window.level == GREEN, timeout=WAIT_MS)
    assert cluster.node_state("n1") == "ready"
    close_tray(qtbot, tray)


def test_a_join_token_from_the_tray_enrols_a_new_node(qtbot, cluster, cluster_session, settings):
    cluster.agent("n1")
    tray = open_tray(qtbot, cluster_session, settings)
    click(qtbot, tray.window.join)
    dialog = tray.window.token_dialog
    qtbot.waitExposed(dialog)
    assert not dialog.copy.isEnabled() and dialog.token.text() == ""
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: dialog.token.text() != "", timeout=WAIT_MS)
    token = dialog.token.text()
    assert "kiln agent --coordinator" in dialog.hint.text() and "1 node(s)" in dialog.message.text()
    click(qtbot, dialog.copy)
    assert QApplication.clipboard().text() == token
    cluster.join_token = lambda uses=1: token  # the new agent enrols with the token the tray made
    cluster.agent("n2")
    qtbot.waitUntil(lambda: node_states(tray) == {"n1": "ready", "n2": "ready"}, timeout=WAIT_MS)
    close_tray(qtbot, tray)


def test_the_tray_counts_queued_and_running_runs_and_opens_the_admin_window(qtbot, cluster, cluster_session, settings):
    from kiln.core.runs import RunSpec
    from tests.compute.conftest import push_folder

    cluster.agent("n1", cpus=1)
    snap = push_folder(cluster, {"x": "x"})
    spec = RunSpec("p", ("sh", "-c", "sleep 30"), snap, runtime="process")
    first, second = cluster.admin.submit_run(spec), cluster.admin.submit_run(spec)
    tray = open_tray(qtbot, cluster_session, settings)
    qtbot.waitUntil(lambda: "1 queued, 1 running" in tray.window.counts.text(), timeout=WAIT_MS)
    click(qtbot, tray.window.admin)
    admin = tray.admin
    qtbot.addWidget(admin)
    qtbot.waitExposed(admin)
    assert [admin.tabs.tabText(i) for i in range(admin.tabs.count())] == [
        "Users",
        "Tokens",
        "Nodes",
        "Audit log",
        "Cost",
    ]
    admin.show_tab("Nodes")
    qtbot.waitUntil(lambda: admin.nodes.table.row_keys() == ["n1"], timeout=WAIT_MS)
    for run in (first, second):
        cluster.admin.cancel_run(run.id)
    for run in (first, second):
        assert str(cluster.wait_run(run.id).state) == "cancelled", cluster.admin.get_run(run.id)
    qtbot.waitUntil(lambda: "0 queued, 0 running" in tray.window.counts.text(), timeout=WAIT_MS)
    close_tray(qtbot, tray)
    assert not admin.isVisible()


def test_the_tray_menu_lists_nodes_with_drain_and_the_actions(qtbot, cluster, cluster_session, settings):
    cluster.agent("n1")
    tray = open_tray(qtbot, cluster_session, settings)
    calls: list[str] = []
    menu = ClusterMenu(tray.watch, {"Open admin window": lambda: calls.append("admin")})
    qtbot.waitUntil(lambda: tray.window.level == GREEN, timeout=WAIT_MS)
    texts = [a.text() for a in menu.actions()]
    assert texts[0] == "all 1 node ready" and texts[1] == "Runs: 0 queued, 0 running"
    node_entry = next(a for a in menu.actions() if a.menu() is not None)
    assert node_entry.text().startswith("n1: ready · CPU ")
    (drain,) = node_entry.menu().actions()
    assert drain.text() == "Drain"
    drain.trigger()
    qtbot.waitUntil(lambda: cluster.node_state("n1") == "draining", timeout=WAIT_MS)
    next(a for a in menu.actions() if a.text() == "Open admin window").trigger()
    assert calls == ["admin"]
    menu.deleteLater()
    close_tray(qtbot, tray)


def test_kiln_tray_resumes_the_saved_sign_in_and_opens_the_tray(qtbot, cluster, settings, kiln_home):
    session_for(cluster.coordinator, kiln_home, "admin", ADMIN_PASSWORD).close()
    launcher = Launcher(settings, tray=True)
    with qtbot.waitSignal(launcher.tray_opened, timeout=WAIT_MS) as opened:
        launcher.start()
    tray = opened.args[0]
    qtbot.addWidget(tray.window, before_close_func=lambda _: close_tray(qtbot, tray))
    qtbot.waitUntil(lambda: tray.watch.looked, timeout=WAIT_MS)
    assert launcher.window is None and tray.window.isVisible()
    with qtbot.waitSignal(tray.finished, timeout=WAIT_MS):  # main() ends the app on it
        close_tray(qtbot, tray)


def test_health_levels_from_node_states():
    assert cluster_health(None).level == RED
    assert cluster_health([]).level == AMBER
    assert cluster_health([Node("a", "ready")]).level == GREEN
    for state in ("draining", "unreachable", "offline"):
        h = cluster_health([Node("a", "ready"), Node("b", state)])
        assert h.level == AMBER and h.summary == f"1 of 2 nodes ready; b {state}"
