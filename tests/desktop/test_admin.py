"""The admin window against a real cluster: users (create, list), everyone's tokens (revoke), the audit log
with its chain check (intact, then broken at the edited record), and cost per user and per project from
finished runs at the hourly rates set in the window."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiln.core.errors import Unauthenticated
from kiln.core.runs import Run, RunSpec, RunState
from kiln.desktop.admin.cost import by_project, by_user, money, node_hours, usage_rows
from kiln.desktop.qt import Qt
from kiln.desktop.settings import Settings
from kiln.desktop.tray.app import TrayApp
from kiln.desktop.widgets.confirm import action_button
from tests.compute.conftest import push_folder
from tests.conftest import login
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, wait_idle


@pytest.fixture
def admin_window(qtbot, cluster_session, settings):
    """The admin window, opened from the tray's window as its button does."""
    tray = TrayApp(cluster_session, settings, tray=False)
    qtbot.addWidget(tray.window, before_close_func=lambda _: shut(qtbot, tray))
    admin = tray.open_admin()
    qtbot.addWidget(admin)
    qtbot.waitExposed(admin)
    return admin


def shut(qtbot, tray: TrayApp) -> None:
    """Closes the tray as its window's close does (waiting for what is in flight), before pytest-qt
    deletes the widgets."""
    tray.window.close()
    qtbot.waitUntil(lambda: tray.window.ended, timeout=WAIT_MS)
    wait_idle(qtbot, tray.runner)
    assert not tray.watch.timer.isActive() and tray.admin is not None and not tray.admin.isVisible()


def test_creating_a_user_lists_them(qtbot, cluster, admin_window):
    users = admin_window.users
    qtbot.waitUntil(lambda: users.table.row_keys() == ["admin"], timeout=WAIT_MS)
    qtbot.keyClicks(users.name, "dana")
    qtbot.keyClicks(users.password, "dana-password-1")
    click(qtbot, users.is_admin)
    click(qtbot, users.create_button)
    qtbot.waitUntil(lambda: "dana" in users.table.row_keys(), timeout=WAIT_MS)
    assert cells(users.table)[1][:3] == ("dana", "yes", "") and "dana created (admin)" in users.message.text()
    login(cluster.coordinator, "dana", "dana-password-1").close()  # the account works
    qtbot.keyClicks(users.name, "dana")
    qtbot.keyClicks(users.password, "another-password")
    qtbot.keyClick(users.password, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "already exists" in users.message.text(), timeout=WAIT_MS)


def test_every_token_is_listed_and_one_can_be_revoked(qtbot, cluster, admin_window):
    cluster.admin.create_user("bob", "bob-password-1")
    bob = login(cluster.coordinator, "bob", "bob-password-1")
    (bobs,) = [t for t in cluster.admin.list_tokens("*") if t.user == "bob"]
    admin_window.show_tab("Tokens")
    tokens = admin_window.tokens
    qtbot.waitUntil(lambda: bobs.id in tokens.table.row_keys(), timeout=WAIT_MS)
    assert {c[1] for c in cells(tokens.table)} == {"admin", "bob"}
    assert not tokens.revoke.isEnabled()
    click_row(qtbot, tokens.table, bobs.id)
    click(qtbot, tokens.revoke)  # asks first, naming the token and whose it is; Cancel changes nothing
    box = tokens.asking
    assert box is not None and bobs.id in box.text() and "of bob" in box.text() and "cannot be undone" in box.text()
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert bob.whoami()[0].name == "bob" and tokens.revoke.isEnabled()
    click(qtbot, tokens.revoke)
    click(qtbot, action_button(tokens.asking))
    qtbot.waitUntil(lambda: "revoked" in tokens.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, tokens.runner)
    row = next(c for c in cells(tokens.table) if c[0] == bobs.id)
    assert row[6] != "" and not tokens.revoke.isEnabled()
    with pytest.raises(Unauthenticated):
        bob.whoami()
    bob.close()


def test_the_audit_log_and_its_chain_check(qtbot, cluster, admin_window):
    cluster.admin.create_project("q")
    admin_window.show_tab("Audit log")
    audit = admin_window.audit
    qtbot.waitUntil(lambda: audit.table.row_keys() != [], timeout=WAIT_MS)
    newest = cells(audit.table)[0]
    assert newest[3] == "project.create" and newest[4] == "q" and newest[2] == "admin"
    click(qtbot, audit.verify)
    qtbot.waitUntil(lambda: "chain intact" in audit.verdict.text(), timeout=WAIT_MS)
    victim = int(newest[0]) - 1
    with sqlite3.connect(cluster.coordinator.ctx.config.data_dir / "kiln.db") as db:
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = ?", [victim])
    click(qtbot, audit.verify)
    qtbot.waitUntil(lambda: "BROKEN" in audit.verdict.text(), timeout=WAIT_MS)
    assert f"chain BROKEN at record {victim}: " in audit.verdict.text()
    assert "edited" in audit.verdict.text()


def finished_runs(cluster) -> list[Run]:
    """Runs by two users in two projects, all finished on n1."""
    cluster.admin.create_user("bob", "bob-password-1")
    cluster.admin.create_project("q")
    cluster.admin.set_member("q", "bob", "editor")
    bob = login(cluster.coordinator, "bob", "bob-password-1")
    snap_p = push_folder(cluster, {"x": "x"})
    mine = [cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "sleep 0.3"), snap_p)) for _ in range(2)]
    from kiln.sync.push import push

    src = cluster.tmp / "bob-src"
    src.mkdir()
    (src / "y").write_text("y")
    snap_q = push(bob, src, "q", "", cluster.tmp / "bob-cache").snapshot.id
    theirs = bob.submit_run(RunSpec("q", ("sh", "-c", "sleep 0.2"), snap_q))
    bob.close()
    return [cluster.wait_run(r.id) for r in [*mine, theirs]]


def test_cost_per_user_and_project_at_the_rates_set_in_the_window(qtbot, cluster, admin_window, settings, kiln_home):
    cluster.agent("n1")
    runs = finished_runs(cluster)
    assert all(r.state is RunState.SUCCEEDED and node_hours(r) > 0 for r in runs)
    admin_window.show_tab("Cost")
    cost = admin_window.cost
    qtbot.waitUntil(lambda: set(cost.users.row_keys()) == {"admin", "bob"}, timeout=WAIT_MS)
    currency = cost.currency  # the system locale's, or EUR
    assert all(c[5] == money(0, currency) for c in cells(cost.users))  # no rate set yet: node-hours cost nothing
    box = cost.rate_boxes["n1"]
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, "3600")
    qtbot.keyClick(box, Qt.Key.Key_Return)  # 3600 an hour: the cost is the seconds of node time
    qtbot.waitUntil(lambda: cells(cost.users)[0][5] != money(0, currency), timeout=WAIT_MS)
    rates = {"n1": 3600.0}
    assert cells(cost.users) == [r.cells for r in usage_rows(by_user(runs, rates), currency)]
    assert cells(cost.projects) == [r.cells for r in usage_rows(by_project(runs, rates), currency)]
    admin_row = next(c for c in cells(cost.users) if c[0] == "admin")
    seconds = sum(r.finished_at - r.started_at for r in runs if r.user == "admin")
    assert admin_row[1] == "2" and admin_row[5] == money(seconds, currency)
    saved = json.loads((kiln_home / "desktop.json").read_text())
    assert saved["rates"][cluster.coordinator.address] == {"n1": 3600.0}
    assert Settings.load(kiln_home).rates_for(cluster.coordinator.address) == {"n1": 3600.0}


def test_node_hours_count_only_finished_runs():
    spec = RunSpec("p", ("true",))
    done = Run("a", spec, "u", RunState.FAILED, 0, node="n", started_at=100, finished_at=100 + 1800)
    going = Run("b", spec, "u", RunState.RUNNING, 0, node="n", started_at=100)
    never = Run("c", spec, "u", RunState.CANCELLED, 0, finished_at=50)
    assert node_hours(done) == 0.5 and node_hours(going) == 0 and node_hours(never) == 0
    (u,) = by_user([done, going, never], {"n": 10})
    assert (u.who, u.runs, u.node_hours, u.cost) == ("u", 1, 0.5, 5.0)
