"""The Runs page against a real cluster (a coordinator and an in-process agent with the process runtime):
launching from the dialog, the live table, the run page with its streaming logs, cancel, re-run, pulling
the output, and comparing runs."""

from __future__ import annotations

import threading

import pytest

from kiln.core.runs import RunSpec
from kiln.desktop.pages.run.page import RunDialog
from kiln.desktop.pages.runs.page import RunsPage
from kiln.desktop.qt import Qt
from kiln.desktop.widgets.confirm import action_button
from kiln.desktop.window import MainWindow
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, wait_idle
from tests.treeutil import tree, write


def runs_page_of(qtbot, window: MainWindow, project: str = "p") -> RunsPage:
    """Picks `project` and goes to the Runs page, by clicking the sidebar."""
    click_row(qtbot, window.projects_page.table, project)
    sidebar = window.sidebar
    item = next(sidebar.item(i) for i in range(sidebar.count()) if sidebar.item(i).text() == "Runs")
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(item).center())
    assert window.pages.currentWidget() is window.runs_page
    page = window.runs_page
    qtbot.waitUntil(lambda: page.project == project and "loading" not in page.summary.text(), timeout=WAIT_MS)
    return page


def row_of(page: RunsPage, run_id: str) -> dict[str, str]:
    """The run's row in the Runs table, cell by header."""
    headers = page.table.rows_model.headers
    return next(dict(zip(headers, c, strict=True)) for c in cells(page.table) if c[0] == run_id)


def state_of(page: RunsPage, run_id: str) -> str:
    return row_of(page, run_id)["State"]


def open_run_page(qtbot, page: RunsPage, run_id: str) -> RunDialog:
    """Double-clicks the run's row, as a person opens it."""
    qtbot.waitUntil(lambda: run_id in page.table.row_keys(), timeout=WAIT_MS)
    index = page.table.model().index(page.table.row_of(run_id), 0)
    rect = page.table.visualRect(index)
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dialog = page.run_pages[run_id]
    qtbot.waitExposed(dialog)
    return dialog


def retype(qtbot, widget, text: str) -> None:
    """Replaces a field's text by selecting it all and typing, as a person would."""
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Backspace)
    qtbot.keyClicks(widget, text)


def close_all(qtbot, window: MainWindow) -> None:
    """Closes the window while the cluster is still up, and waits until nothing is left running."""
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)


@pytest.fixture
def linked(tmp_path, settings, cluster_session):
    """A folder linked to project p, as the Files page links it."""
    folder = tmp_path / "analysis"
    write(folder, "train.py", "print('training')\n")
    write(folder, "data/input.txt", "hello input\n")
    settings.link(cluster_session.server, "p", folder)
    return folder


def test_a_run_launched_from_the_dialog_succeeds_in_the_table_with_its_logs(
    qtbot, cluster, cluster_session, open_window, linked, tmp_path
):
    cluster.agent("n1")
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    assert "no runs yet" in page.summary.text()
    click(qtbot, page.launch)
    dialog = page.launcher
    qtbot.waitExposed(dialog)
    assert dialog.from_folder.isChecked() and str(linked) in dialog.from_folder.text()
    qtbot.keyClicks(dialog.command, "sh -c 'cat data/input.txt; echo \"$GREETING\"; echo made > out.txt'")
    choose(qtbot, dialog.runtime, "process")
    choose(qtbot, dialog.priority, "high")
    qtbot.keyClicks(dialog.env, "GREETING=hello from the env")
    with qtbot.waitSignal(dialog.launched, timeout=WAIT_MS) as launched:
        click(qtbot, dialog.launch)
    run = launched.args[0]
    assert run.spec.env == {"GREETING": "hello from the env"} and str(run.spec.priority) == "high"
    assert run.spec.snapshot == cluster.admin.list_snapshots("p")[0].id  # the linked folder, pushed
    qtbot.waitUntil(lambda: state_of(page, run.id) == "succeeded", timeout=WAIT_MS)
    row = row_of(page, run.id)
    assert row["Node"] == "n1" and row["Duration"].endswith("s") and row["User"] == "admin"
    assert row["Command"].startswith("sh -c") and row["Created"] == "just now"

    run_page = open_run_page(qtbot, page, run.id)
    qtbot.waitUntil(lambda: run_page.logs_complete and len(run_page.history.row_keys()) == 5, timeout=WAIT_MS)
    assert run_page.logs.toPlainText() == "hello input\nhello from the env\n"
    assert run_page.follower.wait(WAIT_MS / 1000) and not run_page.cancel_button.isEnabled()  # ended itself
    assert [c[1] for c in cells(run_page.history)] == [
        "queued",
        "assigned",
        "preparing",
        "running",
        "succeeded",
    ]
    env = dict(c for c in cells(run_page.environment))
    assert env["Node"] == "n1" and env["Runtime"] == "process"
    qtbot.waitUntil(lambda: "out.txt" in run_page.output_files.row_keys(), timeout=WAIT_MS)
    dest = tmp_path / "output"
    qtbot.keyClicks(run_page.puller.dest, str(dest))
    click(qtbot, run_page.puller.pull_button)
    qtbot.waitUntil(lambda: "restored into" in run_page.puller.message.text(), timeout=WAIT_MS)
    assert (dest / "out.txt").read_text() == "made\n" and tree(dest)["train.py"]
    titles = [run_page.tabs.tabText(i).replace("&&", "&") for i in range(run_page.tabs.count())]
    assert "Metrics" in titles and not any("later" in t for t in titles)
    close_all(qtbot, window)


def test_a_refused_form_stays_open_with_the_reason(qtbot, cluster, cluster_session, open_window, linked):
    cluster.agent("n1")
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    click(qtbot, page.launch)
    dialog = page.launcher
    click(qtbot, dialog.launch)
    assert "enter the command" in dialog.message.text() and dialog.isVisible()
    qtbot.keyClicks(dialog.command, "true")
    qtbot.keyClicks(dialog.memory, "lots")
    click(qtbot, dialog.launch)
    assert "memory" in dialog.message.text()
    retype(qtbot, dialog.memory, "")
    qtbot.keyClicks(dialog.gpu_model, "a100")
    retype(qtbot, dialog.gpus, "2")
    click(qtbot, dialog.launch)
    qtbot.waitUntil(lambda: "run refused" in dialog.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert dialog.isVisible() and cluster.admin.list_runs("p") == []
    dialog.reject()
    close_all(qtbot, window)


def test_cancelling_a_long_run_from_its_page(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    command = "trap 'echo stopping; exit 7' TERM; echo started; while true; do sleep 0.1; done"
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, runtime="process"))
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    run_page = open_run_page(qtbot, page, run.id)
    qtbot.waitUntil(lambda: "started" in run_page.logs.toPlainText(), timeout=WAIT_MS)
    assert run_page.follower.running  # the run goes on: its logs are still followed
    click(qtbot, run_page.cancel_button)
    click(qtbot, action_button(run_page.cancel_box))  # it asks first (tests/desktop/test_logview.py)
    qtbot.waitUntil(lambda: run_page.state_label.text() == "cancelled", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: run_page.logs_complete, timeout=WAIT_MS)
    assert run_page.logs.toPlainText().startswith("started\nstopping\n")  # stderr may add sh's words
    qtbot.waitUntil(lambda: state_of(page, run.id) == "cancelled", timeout=WAIT_MS)
    assert cluster.admin.get_run(run.id).exit_code == 7
    close_all(qtbot, window)


def test_closing_a_run_page_stops_following_its_logs(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    command = "echo started; while true; do sleep 0.1; done"
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, runtime="process"))
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run.id)
    qtbot.waitUntil(lambda: "started" in run_page.logs.toPlainText(), timeout=WAIT_MS)
    run_page.close()
    assert run_page.follower.wait(WAIT_MS / 1000) and not run_page.timer.isActive()
    assert run_page.logs.toPlainText() == "started\n"  # nothing arrives after closing
    cluster.admin.cancel_run(run.id)
    cluster.wait_run(run.id)
    close_all(qtbot, window)


def test_rerun_submits_the_same_spec_and_opens_the_new_run(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    snap = push_folder(cluster, {"x": "x"})
    first = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", "cat x"), snap, runtime="process"))
    cluster.wait_run(first.id)
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    run_page = open_run_page(qtbot, page, first.id)
    with qtbot.waitSignal(run_page.rerun, timeout=WAIT_MS) as rerun:
        click(qtbot, run_page.rerun_button)
    second = rerun.args[0]
    assert second.id != first.id and second.spec == first.spec
    new_page = page.run_pages[second.id]
    qtbot.waitUntil(lambda: new_page.logs_complete and new_page.state_label.text() == "succeeded", timeout=WAIT_MS)
    assert new_page.logs.toPlainText() == "x"
    close_all(qtbot, window)


def test_refreshes_never_overlap_while_the_coordinator_is_slow(qtbot, cluster, cluster_session, open_window):
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    real = page.client.search_page
    release = threading.Event()
    in_flight, most, calls = [0], [0], [0]
    lock = threading.Lock()

    def slow(*args, **kwargs):
        with lock:
            in_flight[0] += 1
            calls[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            release.wait(WAIT_MS / 1000)
            return real(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    page.client.search_page = slow
    ticks = [0]
    page.timer.timeout.connect(lambda: ticks.__setitem__(0, ticks[0] + 1))
    qtbot.waitUntil(lambda: ticks[0] >= 4, timeout=WAIT_MS)  # several ticks while one call hangs
    assert calls[0] == 1 and most[0] == 1
    release.set()
    qtbot.waitUntil(lambda: calls[0] >= 2, timeout=WAIT_MS)  # once answered, refreshing goes on
    assert most[0] == 1
    del page.client.search_page
    close_all(qtbot, window)
