"""The run page's log against a real cluster: a long log opens at its tail with a banner saying how much came
before, loads the rest and saves the whole of it; a live run's output arrives through the batching timer
in order, stderr in red; search finds, counts and moves; scrolling up stops following and counts new
lines; and no key press cancels a run: only "Yes, cancel run" in the question Cancel run asks does (nor
presses any button of a dialog made with no_default_buttons)."""

from __future__ import annotations

import pytest

from kiln.core.runs import RunSpec
from kiln.core.units import format_bytes
from kiln.desktop.pages.run import logview
from kiln.desktop.pages.run.logs import TAIL_BYTES
from kiln.desktop.qt import QDialog, QLineEdit, QMessageBox, QPushButton, Qt, QTextCursor, QVBoxLayout
from kiln.desktop.widgets.confirm import action_button, no_default_buttons
from kiln.desktop.window import MainWindow
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, click
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of

LINES = 60_000  # about 3.3 MiB: three times the tail


@pytest.fixture
def roomy(monkeypatch):
    """A view with room for the whole of these logs (the shipped caps hold what one screen of reading
    needs; the test of the caps sets its own)."""
    monkeypatch.setattr(logview, "MAX_SHOWN_LINES", 200_000)
    monkeypatch.setattr(logview, "MAX_SHOWN_BYTES", 16 * 1024 * 1024)


LINE = "line {} of a training log, about as long as such lines are"
WHOLE = "".join(LINE.format(i) + "\n" for i in range(1, LINES + 1)) + "the end\n"
PRINT_WHOLE = f"seq -f '{LINE.replace('{}', '%g')}' 1 {LINES}; echo 'the end' >&2"


def run_of(cluster, command: str, wait: bool = False) -> str:
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, runtime="process"))
    if wait:
        assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    return run.id


def new_lines(view: logview.LogView) -> int:
    """The count the "N new lines ↓" button shows."""
    return int(view.new_lines_button.text().split()[0].replace(",", ""))


def colour_at(view: logview.LogView, position: int) -> str:
    cursor = QTextCursor(view.text.document())
    cursor.setPosition(position)
    return cursor.charFormat().foreground().color().name()


def whole_log_opened(qtbot, cluster, cluster_session, open_window) -> tuple[MainWindow, logview.LogView]:
    """The window and the log view of a finished run that printed WHOLE, its run page open and its log read."""
    cluster.agent("n1")
    run_id = run_of(cluster, PRINT_WHOLE, wait=True)
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    qtbot.waitUntil(lambda: run_page.logs_complete, timeout=WAIT_MS)
    return window, run_page.log_view


def test_a_long_log_opens_at_its_tail_and_loads_the_rest_or_saves_it_whole(
    roomy, qtbot, cluster, cluster_session, open_window, tmp_path
):
    window, view = whole_log_opened(qtbot, cluster, cluster_session, open_window)

    shown, earlier = view.shown_bytes, view.earlier_bytes
    assert TAIL_BYTES <= shown < TAIL_BYTES + 64 * 1024 and earlier + shown == len(WHOLE)  # whole chunks
    assert view.end_offset == len(WHOLE) and view.caught_up and view.follower.backlog == 0
    assert view.toPlainText() == WHOLE[earlier:] and not view.toPlainText().startswith(LINE.format(1))
    assert view.banner.isVisible() and view.banner_label.text().startswith(
        f"Showing the last {format_bytes(shown)}; {format_bytes(earlier)} of earlier output is not shown."
    )
    assert view.load_earlier_button.isVisible() and view.save_whole_button.isVisible()
    assert colour_at(view, len(view.toPlainText()) - 1) == logview.STDERR  # "the end", on stderr
    assert colour_at(view, 1) != logview.STDERR

    saved = tmp_path / "whole.log"
    view.save_log(saved)  # what Save whole log… does once a file is chosen
    qtbot.waitUntil(lambda: "Saved the whole log" in view.banner_label.text(), timeout=WAIT_MS)
    assert saved.read_bytes() == WHOLE.encode() and str(saved) in view.banner_label.text()
    assert not (tmp_path / "whole.log.part").exists()

    click(qtbot, view.load_earlier_button)  # the 4 MiB before what is shown: the rest of this log
    qtbot.waitUntil(lambda: view.earlier_bytes == 0 and view.caught_up, timeout=WAIT_MS)
    assert view.toPlainText() == WHOLE and view.shown_bytes == len(WHOLE)
    assert "earlier output" not in view.banner_label.text() and not view.load_earlier_button.isVisible()
    close_all(qtbot, window)


def test_past_its_cap_the_view_cuts_its_start_in_whole_chunks_and_says_so(
    qtbot, cluster, cluster_session, open_window, monkeypatch
):
    monkeypatch.setattr(logview, "MAX_SHOWN_LINES", 2_000)  # the tail holds about 4,800 lines
    monkeypatch.setattr(logview, "MAX_SHOWN_BYTES", 16 * 1024 * 1024)
    window, view = whole_log_opened(qtbot, cluster, cluster_session, open_window)
    shown, earlier = view.shown_bytes, view.earlier_bytes
    assert shown < TAIL_BYTES and earlier + shown == len(WHOLE) and earlier % (64 * 1024) == 0  # whole chunks
    assert view.toPlainText() == WHOLE[earlier:] and view.text.blockCount() <= 2_000
    banner = view.banner_label.text()
    assert f"{format_bytes(earlier)} of earlier output is not shown" in banner
    assert "The view holds at most 2,000 lines or 16.0 MiB: save the whole log to read all of it." in banner
    assert not view.load_earlier_button.isEnabled() and view.save_whole_button.isEnabled()
    close_all(qtbot, window)


def test_search_finds_counts_and_moves_between_matches(roomy, qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    run_id = run_of(cluster, "seq 1 30000; echo Needle found >&2; echo 'a needle again'", wait=True)
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    view, find = run_page.log_view, run_page.log_view.find_bar
    qtbot.waitUntil(lambda: run_page.logs_complete, timeout=WAIT_MS)
    view.text.setFocus()
    qtbot.keyClick(view.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert find.isVisible() and find.field.hasFocus()

    qtbot.keyClicks(find.field, "9999")  # 9999, 19999 and 29999
    assert find.count_label.text() == "1 of 3" and view.text.textCursor().selectedText() == "9999"
    assert len(view.text.extraSelections()) >= 1  # the match in sight is highlighted
    qtbot.keyClick(find.field, Qt.Key.Key_Return)
    assert find.count_label.text() == "2 of 3"
    cursor = view.text.textCursor()
    assert view.toPlainText()[cursor.selectionStart() - 1 : cursor.selectionEnd() + 1] == "19999\n"
    click(qtbot, find.next_button)
    qtbot.keyClick(find.field, Qt.Key.Key_Return)  # past the last: back to the first
    assert find.count_label.text() == "1 of 3"
    qtbot.keyClick(find.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # and back again
    assert find.count_label.text() == "3 of 3"

    qtbot.keyClick(find.field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(find.field, "NEEDLE")  # either case, either stream
    assert find.count_label.text() == "1 of 2"
    qtbot.keyClicks(find.field, "x")
    assert find.count_label.text() == "no matches"
    qtbot.keyClick(find.field, Qt.Key.Key_Escape)
    assert not find.isVisible() and run_page.isVisible() and view.text.extraSelections() == []
    close_all(qtbot, window)


def test_a_live_run_streams_in_order_and_scrolling_up_stops_following(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    command = "seq 1 20000; echo warming >&2; echo ready; while true; do echo tick; sleep 0.05; done"
    run_id = run_of(cluster, command)
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    view = run_page.log_view
    qtbot.waitUntil(lambda: "ready\ntick\n" in view.toPlainText() and "warming" in view.toPlainText(), timeout=WAIT_MS)
    text = view.toPlainText()
    assert text.startswith("".join(f"{i}\n" for i in range(1, 20001)))
    held = b"".join(c.data for c in cluster.admin.read_logs(run_id)).decode()
    assert held.startswith(text)  # both streams in the order the coordinator holds them
    assert colour_at(view, text.index("warming")) == logview.STDERR and colour_at(view, 0) != logview.STDERR
    assert view.follow.isChecked() and not view.banner.isVisible() and not view.new_lines_button.isVisible()
    bar = view.text.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum() > 0, timeout=WAIT_MS)  # following: the end in sight

    bar.triggerAction(bar.SliderAction.SliderToMinimum)  # a person drags the scroll bar up
    assert not view.follow.isChecked() and bar.value() == 0
    qtbot.waitUntil(lambda: view.new_lines_button.isVisible(), timeout=WAIT_MS)
    first = new_lines(view)
    assert view.new_lines_button.text() == (f"{first:,} new lines ↓" if first > 1 else "1 new line ↓")
    qtbot.waitUntil(lambda: new_lines(view) > first, timeout=WAIT_MS)  # counting as they arrive
    assert bar.value() == 0  # the lines in sight stay where they were while more arrive

    click(qtbot, view.new_lines_button)
    assert view.follow.isChecked() and bar.value() == bar.maximum() and not view.new_lines_button.isVisible()
    count = view.toPlainText().count("tick")
    qtbot.waitUntil(lambda: view.toPlainText().count("tick") > count, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=WAIT_MS)  # following again

    click(qtbot, view.wrap)
    assert view.text.lineWrapMode() == view.text.LineWrapMode.WidgetWidth and view.follow.isChecked()
    cluster.admin.cancel_run(run_id)
    qtbot.waitUntil(lambda: run_page.logs_complete, timeout=WAIT_MS)
    close_all(qtbot, window)


def test_no_key_cancels_a_run_and_cancel_asks_naming_the_run_and_its_state(
    qtbot, cluster, cluster_session, open_window
):
    cluster.agent("n1")
    run_id = run_of(cluster, "echo started; while true; do sleep 0.1; done")
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    qtbot.waitUntil(lambda: "started" in run_page.logs.toPlainText(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: run_page.state_label.text() == "running", timeout=WAIT_MS)
    buttons = run_page.findChildren(QPushButton)
    assert buttons and not any(b.autoDefault() or b.isDefault() for b in buttons)

    run_page.logs.setFocus()
    qtbot.keyClick(run_page.logs, Qt.Key.Key_Return)
    qtbot.keyClick(run_page.logs, Qt.Key.Key_Enter)
    qtbot.keyClick(run_page, Qt.Key.Key_Return)
    qtbot.keyClick(run_page.logs, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(run_page.log_view.find_bar.field, "started")
    qtbot.keyClick(run_page.log_view.find_bar.field, Qt.Key.Key_Return)
    assert run_page.cancel_box is None and run_page.isVisible() and run_page.cancel_button.isEnabled()
    run = cluster.admin.get_run(run_id)
    assert str(run.state) == "running" and not run.cancel_requested

    click(qtbot, run_page.cancel_button)
    box = run_page.cancel_box
    assert box is not None and box.isVisible()
    assert box.text().startswith(f"Cancel run {run_id} (running on n1 for ")
    assert "its logs and outputs so far are kept" in box.text()
    assert action_button(box).text() == "Yes, cancel run"
    assert box.defaultButton() is box.escapeButton() is box.button(QMessageBox.StandardButton.Cancel)
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: run_page.cancel_box is None, timeout=WAIT_MS)
    click(qtbot, run_page.cancel_button)
    click(qtbot, run_page.cancel_box.button(QMessageBox.StandardButton.Cancel))  # "no"
    qtbot.waitUntil(lambda: run_page.cancel_box is None, timeout=WAIT_MS)
    click(qtbot, run_page.cancel_button)
    qtbot.keyClick(run_page.cancel_box, Qt.Key.Key_Return)  # Return in the question means no as well
    qtbot.waitUntil(lambda: run_page.cancel_box is None, timeout=WAIT_MS)
    run = cluster.admin.get_run(run_id)
    assert str(run.state) == "running" and not run.cancel_requested

    click(qtbot, run_page.cancel_button)
    click(qtbot, action_button(run_page.cancel_box))
    qtbot.waitUntil(lambda: run_page.state_label.text() == "cancelled", timeout=WAIT_MS)
    assert cluster.admin.get_run(run_id).cancel_requested or str(cluster.admin.get_run(run_id).state) == "cancelled"
    qtbot.waitUntil(lambda: run_page.logs_complete, timeout=WAIT_MS)
    close_all(qtbot, window)


def test_cancelling_a_queued_run_says_it_never_starts(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    cluster.admin.set_drain("n1", True)
    run_id = run_of(cluster, "true")
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run_id)
    click(qtbot, run_page.cancel_button)
    text = run_page.cancel_box.text()
    assert text.startswith(f"Cancel run {run_id} (queued for ") and "never starts" in text
    click(qtbot, action_button(run_page.cancel_box))
    qtbot.waitUntil(lambda: run_page.state_label.text() == "cancelled", timeout=WAIT_MS)
    close_all(qtbot, window)


def test_no_default_buttons_keeps_return_from_pressing_any_button_of_a_dialog(qtbot):
    dialog = QDialog()
    qtbot.addWidget(dialog)
    pressed: list[str] = []
    first = QPushButton("Delete everything", dialog)
    first.clicked.connect(lambda: pressed.append("first"))
    field = QLineEdit(dialog)
    layout = QVBoxLayout(dialog)
    layout.addWidget(first)
    layout.addWidget(field)
    no_default_buttons(dialog)
    later = QPushButton("Added after", dialog)  # e.g. a hook another part adds before the page is shown
    later.clicked.connect(lambda: pressed.append("later"))
    layout.addWidget(later)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not any(b.autoDefault() or b.isDefault() for b in (first, later))
    field.setFocus()
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.keyClick(dialog, Qt.Key.Key_Enter)
    assert pressed == [] and dialog.isVisible()
    dialog.close()
