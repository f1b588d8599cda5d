"""Readable everywhere, against real coordinators: one plain lost-connection banner (however many calls
fail; no gRPC words in it; gone once a call gets through), times shown local with their zone or as "3 min
ago" with the exact time on hover, cost figures with their currency and units, and the Inputs tab's table
at the top of its tab."""

from __future__ import annotations

import json
import sys
import time

from kiln.coordinator.context import CoordinatorConfig
from kiln.coordinator.server import start_in_thread
from kiln.core.runs import Resources, RunSpec
from kiln.desktop import times
from kiln.desktop import window as window_module
from kiln.desktop.admin.audit import audit_rows
from kiln.desktop.admin.cost import by_project, by_user, hours, money, usage_rows
from kiln.desktop.ops import Runner
from kiln.desktop.pages.run.record import RecordTabs
from kiln.desktop.qt import QLabel, QMessageBox, Qt, QWidget
from kiln.desktop.tray.health import node_rows
from kiln.desktop.window import Banner
from tests.compute.conftest import push_folder
from tests.conftest import ADMIN_PASSWORD
from tests.desktop.conftest import (
    WAIT_MS,
    cells,
    choose,
    click,
    click_row,
    go_to,
    wait_idle,
    window_of_a_stopped_coordinator,
)
from tests.desktop.test_admin import admin_window, shut  # noqa: F401  (the admin window fixture)

RAW_WORDS = ("StatusCode", "grpc", "UNAVAILABLE", "failed to connect", "ipv4:", "Connection refused")
GPUS = [{"uuid": f"GPU-a100-{i}", "model": "NVIDIA A100-SXM4-80GB", "memory_bytes": 80 << 30} for i in range(2)]


def banners_shown(window: QWidget) -> list[str]:
    """Every visible text in the window that speaks of reaching the coordinator."""
    labels = [w for w in window.findChildren(QLabel) if w.isVisible() and "reach" in w.text()]
    return [w.text() for w in labels]


def test_a_lost_coordinator_is_said_once_in_plain_words_and_cleared_when_a_call_gets_through(
    qtbot, tmp_path, kiln_home, open_window, monkeypatch
):
    monkeypatch.setattr(window_module, "RETRY_S", 3600)  # no countdown retry: a call of its own brings it back
    data = tmp_path / "coordinator"
    window, port = window_of_a_stopped_coordinator(data, kiln_home, open_window, project="demo")
    before = window.statusBar().currentMessage()
    projects, files = window.projects_page, window.files_page
    click(qtbot, projects.refresh_button)
    go_to(qtbot, window, "Files")
    click(qtbot, files.snapshots.refresh_button)
    qtbot.waitUntil(lambda: len(window.banner.failed) >= 2, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)

    shown = banners_shown(window)
    assert shown == [f"Cannot reach the coordinator at 127.0.0.1:{port} — retrying in 3600 s"]
    assert len([b for b in window.findChildren(Banner) if b.isVisible()]) == 1
    assert window.banner.retry.text() == "Retry now"
    texts = [shown[0], window.statusBar().currentMessage(), projects.summary.text(), files.snapshots.summary.text()]
    assert not any(word in text for word in RAW_WORDS for text in texts)
    assert window.statusBar().currentMessage() == before  # the banner says it; the status bar does not repeat it
    assert "cannot be reached" in projects.summary.text()  # a page's own line: briefly, in words
    assert "127.0.0.1" in window.banner.toolTip()  # the detail, for whoever asks

    back = start_in_thread(CoordinatorConfig(data, listen=f"127.0.0.1:{port}", admin_password=ADMIN_PASSWORD))
    try:
        client = window.session.client

        def through() -> bool:  # any call that succeeds clears the banner and reruns what failed
            if not window.runner.busy and window.banner.isVisible():
                window.runner.run("who am I", client.whoami)
            return window.banner.isHidden() and not window.runner.busy

        qtbot.waitUntil(through, timeout=WAIT_MS)
        assert banners_shown(window) == [] and projects.table.row_keys() == ["demo"]
        assert "snapshot" in files.snapshots.summary.text()
    finally:
        wait_idle(qtbot, window.runner)
        back.stop()


def test_the_banner_retries_by_itself_when_its_countdown_ends(qtbot, tmp_path, kiln_home, open_window, monkeypatch):
    monkeypatch.setattr(window_module, "RETRY_S", 1)
    monkeypatch.setattr(window_module, "RETRY_MAX_S", 1)
    data = tmp_path / "coordinator"
    window, port = window_of_a_stopped_coordinator(data, kiln_home, open_window)
    click(qtbot, window.projects_page.refresh_button)
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    assert "retrying in 1 s" in window.banner.label.text()
    back = start_in_thread(CoordinatorConfig(data, listen=f"127.0.0.1:{port}", admin_password=ADMIN_PASSWORD))
    try:
        qtbot.waitUntil(lambda: window.banner.isHidden() and not window.runner.busy, timeout=WAIT_MS)
        assert "no projects yet" in window.projects_page.summary.text()  # the list, read again by itself
    finally:
        window.close()
        wait_idle(qtbot, window.runner)
        back.stop()
    assert not window.banner.tick.isActive()


def tooltip(table, row: int, column: int) -> str:
    return str(table.model().index(row, column).data(Qt.ItemDataRole.ToolTipRole))


def test_tables_show_local_times_with_the_zone_or_how_long_ago_with_the_exact_time_on_hover(
    qtbot, berlin, cluster, cluster_session, open_window
):
    snap = cluster.admin.snapshot_info(push_folder(cluster, {"a.txt": "a"}), "p")
    window = open_window(cluster_session)
    projects = window.projects_page.table
    assert cells(projects)[0][5] == "just now"  # Created, in a list: how long ago
    created = cluster.admin.get_project("p").created_at
    assert tooltip(projects, 0, 5) == times.exact(created) and " CE" in tooltip(projects, 0, 5)  # CET or CEST
    files = go_to(qtbot, window, "Files")
    qtbot.waitUntil(lambda: files.snapshots.table.row_keys() == [snap.id], timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    row = cells(files.snapshots.table)[0]
    assert row[1] == "just now" and tooltip(files.snapshots.table, 0, 1) == times.exact(snap.created_at)
    assert tooltip(files.snapshots.table, 0, 0) == snap.id  # the full id behind the short one

    records = cluster.admin.list_audit(limit=5)
    shown = audit_rows(records)[0]  # a log: local time to the second, its zone in the header
    newest = max(records, key=lambda r: r.seq)
    assert shown.cells[1] == times.local_s(newest.time) and shown.tip(1) == times.exact(newest.time)
    nodes = node_rows(cluster.admin.list_nodes() or [], now=time.time())
    assert all(r.cells[6] in ("just now", "") for r in nodes)


def test_admin_tables_name_the_zone_of_their_times(qtbot, berlin, cluster, admin_window):  # noqa: F811
    admin_window.show_tab("Audit log")
    audit = admin_window.audit
    qtbot.waitUntil(lambda: audit.table.row_keys() != [], timeout=WAIT_MS)
    header = audit.table.model().headerData(1, Qt.Orientation.Horizontal)
    assert header in ("Time (CET)", "Time (CEST)")
    tokens = admin_window.tokens
    admin_window.show_tab("Tokens")
    qtbot.waitUntil(lambda: tokens.table.row_keys() != [], timeout=WAIT_MS)
    assert tokens.table.model().headerData(4, Qt.Orientation.Horizontal) in ("Expires (CET)", "Expires (CEST)")
    row = cells(tokens.table)[0]
    assert row[3] == "just now" and "CE" in tooltip(tokens.table, 0, 3)


def test_every_cost_figure_carries_its_currency_or_unit(qtbot, cluster, admin_window, kiln_home):  # noqa: F811
    cluster.agent("n1", gpus=GPUS)
    snap = push_folder(cluster, {"x": "x"})
    asked = Resources(cpus=2, gpus=2)
    submitted = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "sleep 0.3"), snap, resources=asked))
    done = cluster.wait_run(submitted.id)
    assert str(done.state) == "succeeded" and len(done.gpu_uuids) == 2
    admin_window.show_tab("Cost")
    cost = admin_window.cost
    qtbot.waitUntil(lambda: cost.users.row_keys() == ["admin"] and "n1" in cost.rate_boxes, timeout=WAIT_MS)
    wait_idle(qtbot, cost.runner)
    choose(qtbot, cost.currency_box, "GBP")
    assert cost.users.model().headerData(5, Qt.Orientation.Horizontal) == "Cost (GBP)"
    box = cost.rate_boxes["n1"]
    assert (box.prefix(), box.suffix()) == ("£", " per node-hour")
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "3600")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: cells(cost.users)[0][5] != money(0, "GBP"), timeout=WAIT_MS)

    headers = [cost.users.model().headerData(i, Qt.Orientation.Horizontal) for i in range(6)]
    assert headers == ["User", "Runs", "Node-hours", "CPU-hours", "GPU-hours", "Cost (GBP)"]
    node = (done.finished_at - done.started_at) / 3600
    user, runs_, node_h, cpu_h, gpu_h, spent = cells(cost.users)[0]
    assert (user, runs_, node_h, cpu_h, gpu_h) == ("admin", "1", hours(node), hours(2 * node), hours(2 * node))
    assert spent == money(node * 3600, "GBP") and spent.startswith("£")
    assert cells(cost.users) == [r.cells for r in usage_rows(by_user([done], {"n1": 3600.0}), "GBP")]
    assert cells(cost.projects) == [r.cells for r in usage_rows(by_project([done], {"n1": 3600.0}), "GBP")]
    summary = cost.summary.text()
    assert "node-hours" in summary and "CPU-hours" in summary and "GPU-hours" in summary and "£" in summary
    saved = json.loads((kiln_home / "desktop.json").read_text())
    assert saved["currencies"][cluster.coordinator.address] == "GBP"
    assert money(12.4, "EUR") == "€12.40" and money(0.0042, "USD") == "$0.0042"


def test_the_inputs_tab_puts_its_table_at_the_top_and_gives_it_the_height(qtbot, cluster, cluster_session):
    cluster.agent("n1")
    cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "x\n"}))
    code = push_folder(cluster, {"train.py": "pass\n"})
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "train.py"), code, runtime="process", datasets=("images:1",))
    )
    cluster.wait_run(run.id)
    host = QWidget()
    qtbot.addWidget(host)
    tabs = RecordTabs(cluster_session.client, Runner(host), run.id, host)
    tab = tabs.inputs_tab(host)
    tab.resize(700, 500)
    tab.show()
    qtbot.waitExposed(tab)
    with qtbot.waitSignal(tabs.loaded, timeout=WAIT_MS):
        tabs.refresh()
    assert {f"snapshot:{code}", "dataset:p/images@1"} <= set(tabs.inputs.row_keys())
    table = tabs.inputs.geometry()
    assert table.top() < 60  # right under the one-line note, not halfway down
    assert table.height() > 0.8 * tab.height()


def test_member_removal_is_asked_naming_the_user_and_role(qtbot, admin, make_user, admin_session, open_window):
    admin.create_project("shared")
    make_user("bob", "shared", "viewer")
    window = open_window(admin_session)
    page = window.projects_page
    click_row(qtbot, page.table, "shared")
    page.tabs.setCurrentWidget(page.members)
    members = page.members
    qtbot.waitUntil(lambda: "bob" in members.table.row_keys(), timeout=WAIT_MS)
    click_row(qtbot, members.table, "bob")
    click(qtbot, members.remove)
    box = members.asking
    qtbot.waitExposed(box)
    assert box.text().startswith("Remove bob (viewer) from project shared?")
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    qtbot.keyClick(box, Qt.Key.Key_Return)  # Return means no
    wait_idle(qtbot, window.runner)
    assert "bob" in admin.get_project("shared").members and "bob" in members.table.row_keys()
