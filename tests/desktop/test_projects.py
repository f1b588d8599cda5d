"""The Projects page against a real coordinator: creating and listing projects, managing members, and
the coordinator's refusal shown when a non-owner tries."""

from __future__ import annotations

from kiln.desktop.qt import QMessageBox, Qt
from kiln.desktop.rows import project_rows
from kiln.desktop.widgets.confirm import action_button
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, session_for, wait_idle


def test_creating_a_project_lists_it_with_your_role(qtbot, coordinator, admin_session, open_window):
    window = open_window(admin_session)
    page = window.projects_page
    assert page.table.row_keys() == [] and "no projects yet" in page.summary.text()
    click(qtbot, page.new)
    dialog = page.dialog
    qtbot.waitExposed(dialog)
    qtbot.keyClicks(dialog.name, "demo")
    qtbot.keyClicks(dialog.description, "first project")
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: page.table.row_keys() == ["demo"], timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    name, role, members, runs, _, created, description = cells(page.table)[0]
    assert (name, role, members, description) == ("demo", "owner", "1", "first project")
    assert created == "just now"
    qtbot.waitUntil(lambda: cells(page.table)[0][3] == "no runs yet", timeout=WAIT_MS)  # its summary came
    wait_idle(qtbot, window.runner)
    assert window.selector.currentText() == "demo" and window.files_page.project == "demo"


def test_a_refused_name_keeps_the_dialog_open_with_the_reason(qtbot, admin, admin_session, open_window):
    admin.create_project("taken")
    window = open_window(admin_session)
    click(qtbot, window.projects_page.new)
    dialog = window.projects_page.dialog
    qtbot.keyClicks(dialog.name, "taken")
    click(qtbot, dialog.create_button)
    qtbot.waitUntil(lambda: "already exists" in dialog.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert dialog.isVisible() and "already exists" in window.statusBar().currentMessage()


def test_adding_a_member_and_changing_their_role(qtbot, admin, make_user, admin_session, open_window):
    admin.create_project("shared")
    make_user("bob")
    window = open_window(admin_session)
    page = window.projects_page
    click_row(qtbot, page.table, "shared")
    members = page.members
    qtbot.waitUntil(lambda: members.project is not None, timeout=WAIT_MS)
    qtbot.keyClicks(members.user, "bob")
    choose(qtbot, members.role, "viewer")
    click(qtbot, members.add)
    qtbot.waitUntil(lambda: ("bob", "viewer") in cells(members.table), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert cells(page.table)[0][2] == "2"  # the list follows: two members now
    click_row(qtbot, members.table, "bob")
    assert members.user.text() == "bob"
    choose(qtbot, members.role, "editor")
    click(qtbot, members.add)
    qtbot.waitUntil(lambda: ("bob", "editor") in cells(members.table), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    click_row(qtbot, members.table, "bob")
    click(qtbot, members.remove)  # asks first, naming the member and their role; No keeps them
    box = members.asking
    qtbot.waitExposed(box)
    assert "Remove bob (editor) from project shared?" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window.runner)
    assert "bob" in members.table.row_keys() and "bob" in admin.get_project("shared").members
    click(qtbot, members.remove)
    qtbot.waitExposed(members.asking)
    qtbot.mouseClick(action_button(members.asking), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "bob" not in members.table.row_keys(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert admin.get_project("shared").members.keys() == {"admin"}


def test_owner_only_actions_show_the_coordinators_refusal(qtbot, coordinator, admin, make_user, kiln_home, open_window):
    admin.create_project("shared")
    make_user("bob", "shared", "editor")
    make_user("carol")
    window = open_window(session_for(coordinator, kiln_home, "bob", "bob-password"))
    page = window.projects_page
    assert cells(page.table)[0][:2] == ("shared", "editor")
    click_row(qtbot, page.table, "shared")
    qtbot.keyClicks(page.members.user, "carol")
    qtbot.keyClick(page.members.user, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "needs owner" in page.members.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert "needs owner" in window.statusBar().currentMessage()
    assert "carol" not in admin.get_project("shared").members


def test_project_rows_say_admin_where_an_admin_is_no_member():
    from kiln.core.models import Project
    from kiln.core.permissions import Role

    rows = project_rows([Project("b", members={"x": Role.OWNER}), Project("a", my_role="viewer")], True, now=0)
    assert [r.cells[:3] for r in rows] == [("a", "viewer", "0"), ("b", "admin", "1")]
