"""Comments and activity on the run page, against a real cluster: a comment written in one person's window
appears in another member's, and someone outside the project is refused, in the coordinator's words."""

from __future__ import annotations

from kiln.core.runs import RunSpec
from kiln.desktop.ops import Runner
from kiln.desktop.pages.run.page import RunDialog
from kiln.desktop.qt import Qt
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, click, click_tab, session_for, wait_idle
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of


def test_comments_reach_other_members_and_outsiders_are_refused(qtbot, cluster, cluster_session, open_window, tmp_path):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "echo done"), snap, runtime="process"))
    cluster.wait_run(run.id)
    cluster.admin.create_user("bob", "bob-password")
    cluster.admin.set_member("p", "bob", "viewer")
    cluster.admin.create_user("eve", "eve-password")

    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run.id)
    click_tab(qtbot, run_page.tabs, "Activity")
    qtbot.waitUntil(lambda: len(run_page.history.row_keys()) == 5, timeout=WAIT_MS)  # the state history
    assert [c[1] for c in cells(run_page.history)][-1] == "succeeded"
    comments = run_page.comments
    assert comments.entity == f"run:{run.id}"
    qtbot.keyClicks(comments.text, "loss curve looks converged")
    click(qtbot, comments.add)
    qtbot.waitUntil(lambda: len(comments.table.row_keys()) == 1, timeout=WAIT_MS)
    assert cells(comments.table)[0][1:] == ("admin", "loss curve looks converged") and comments.text.text() == ""

    bob_session = session_for(cluster.coordinator, tmp_path / "home-bob", "bob", "bob-password")
    bob_window = open_window(bob_session)
    bob_page = open_run_page(qtbot, runs_page_of(qtbot, bob_window), run.id)
    click_tab(qtbot, bob_page.tabs, "Activity")
    qtbot.waitUntil(lambda: len(bob_page.comments.table.row_keys()) == 1, timeout=WAIT_MS)
    assert cells(bob_page.comments.table)[0][1:] == ("admin", "loss curve looks converged")
    qtbot.keyClicks(bob_page.comments.text, "agreed")  # a viewer may comment too
    qtbot.keyClick(bob_page.comments.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(bob_page.comments.table.row_keys()) == 2, timeout=WAIT_MS)

    eve_session = session_for(cluster.coordinator, tmp_path / "home-eve", "eve", "eve-password")
    eve_runner = Runner()
    eve_page = RunDialog(eve_session.client, eve_runner, eve_session.connect, run)  # as if she had its id
    qtbot.addWidget(eve_page)
    eve_page.show()
    click_tab(qtbot, eve_page.tabs, "Activity")
    qtbot.waitUntil(lambda: "could not read the comments" in eve_page.comments.message.text(), timeout=WAIT_MS)
    assert "not a member of project 'p'" in eve_page.comments.message.text()
    qtbot.keyClicks(eve_page.comments.text, "let me in")
    click(qtbot, eve_page.comments.add)
    qtbot.waitUntil(lambda: "comment not added" in eve_page.comments.message.text(), timeout=WAIT_MS)
    assert "not a member of project 'p'" in eve_page.comments.message.text()
    assert [c.author for c in cluster.admin.list_comments(f"run:{run.id}")] == ["admin", "bob"]
    eve_page.close()
    wait_idle(qtbot, eve_runner)
    eve_session.close()
    close_all(qtbot, bob_window)
    close_all(qtbot, window)
