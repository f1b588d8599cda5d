"""The Files page against a real coordinator: link a folder, see its changes, push with progress, browse,
pull and diff snapshots."""

from __future__ import annotations

import json
import os

import pytest

from kiln.desktop.qt import Qt
from kiln.desktop.window import MainWindow
from kiln.sync.push import push
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, wait_idle
from tests.treeutil import tree, write


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "analysis"
    write(root, "train.py", "print('train')\n", 0o755)
    write(root, "data/small.csv", "a,b\n1,2\n")
    write(root, "data/big.bin", os.urandom(300_000), 0o600)
    (root / "empty").mkdir()
    return root


def files_page_of(qtbot, window: MainWindow, project: str):
    """Picks `project` in the Projects table and goes to the Files page, by clicking."""
    click_row(qtbot, window.projects_page.table, project)
    sidebar = window.sidebar
    files = sidebar.item(1)
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(files).center())
    assert window.pages.currentWidget() is window.files_page
    wait_idle(qtbot, window.runner)
    return window.files_page


def link(qtbot, page, folder) -> None:
    qtbot.keyClicks(page.folder_edit, str(folder))
    click(qtbot, page.link)
    qtbot.waitUntil(lambda: "added" in page.summary.text(), timeout=WAIT_MS)


def push_now(qtbot, window, page, message: str) -> None:
    qtbot.keyClicks(page.push_message, message)
    click(qtbot, page.push_button)
    qtbot.waitUntil(lambda: page.push_result.text().startswith("snapshot"), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)


def test_a_linked_folder_shows_what_changed_since_its_last_push(
    qtbot, admin, admin_session, open_window, folder, kiln_home
):
    admin.create_project("demo")
    window = open_window(admin_session)
    page = files_page_of(qtbot, window, "demo")
    link(qtbot, page, folder)
    wait_idle(qtbot, window.runner)
    assert "5 added" in page.summary.text() and "nothing pushed from here yet" in page.summary.text()
    assert ("added", "data/big.bin") in cells(page.changes)
    saved = json.loads((kiln_home / "desktop.json").read_text())
    assert saved["links"][admin_session.server]["demo"] == str(folder.resolve())
    push_now(qtbot, window, page, "baseline")
    assert page.summary.text().startswith("no changes")
    write(folder, "data/small.csv", "a,b\n1,2\n3,4\n")
    write(folder, "notes.md", "# notes\n")
    os.remove(folder / "train.py")
    click(qtbot, page.rescan)
    qtbot.waitUntil(lambda: "1 added, 1 modified, 1 deleted" in page.summary.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert cells(page.changes) == [
        ("modified", "data/small.csv"),
        ("added", "notes.md"),
        ("deleted", "train.py"),
    ]


def test_push_shows_progress_to_the_end_and_the_snapshot_appears(qtbot, admin, admin_session, open_window, folder):
    admin.create_project("demo")
    window = open_window(admin_session)
    page = files_page_of(qtbot, window, "demo")
    link(qtbot, page, folder)
    wait_idle(qtbot, window.runner)
    values: list[int] = []
    page.progress.bar.valueChanged.connect(values.append)
    push_now(qtbot, window, page, "baseline")
    bar = page.progress.bar
    assert bar.value() == bar.maximum() and values[-1] == bar.maximum()
    assert "100%" in bar.text()
    snapshots = page.snapshots
    qtbot.waitUntil(lambda: len(snapshots.table.row_keys()) == 1, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    (snap,) = admin.list_snapshots("demo")
    assert snapshots.table.row_keys() == [snap.id] and cells(snapshots.table)[0][5] == "baseline"
    assert snap.files == 3 and page.summary.text().startswith("no changes")


def test_a_snapshot_pulled_into_an_empty_folder_has_the_same_files(
    qtbot, admin, admin_session, open_window, folder, tmp_path
):
    admin.create_project("demo")
    result = push(admin, folder, "demo", "baseline", tmp_path / "cli-cache")
    window = open_window(admin_session)
    page = files_page_of(qtbot, window, "demo")
    page.tabs.setCurrentIndex(1)
    snapshots = page.snapshots
    qtbot.waitUntil(lambda: snapshots.table.row_keys() == [result.snapshot.id], timeout=WAIT_MS)
    click_row(qtbot, snapshots.table, result.snapshot.id)
    qtbot.waitUntil(lambda: "data/big.bin" in snapshots.contents.row_keys(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    dest = tmp_path / "restored"
    dest.mkdir()
    qtbot.keyClicks(snapshots.dest, str(dest))
    click(qtbot, snapshots.pull_button)
    qtbot.waitUntil(lambda: "restored into" in snapshots.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert tree(dest) == tree(folder)
    assert snapshots.progress.bar.value() == snapshots.progress.bar.maximum()


def test_pulling_into_a_folder_that_is_not_empty_is_refused_in_words(
    qtbot, admin, admin_session, open_window, folder, tmp_path
):
    admin.create_project("demo")
    result = push(admin, folder, "demo", "", tmp_path / "cli-cache")
    window = open_window(admin_session)
    snapshots = files_page_of(qtbot, window, "demo").snapshots
    qtbot.waitUntil(lambda: snapshots.table.row_keys() == [result.snapshot.id], timeout=WAIT_MS)
    click_row(qtbot, snapshots.table, result.snapshot.id)
    qtbot.keyClicks(snapshots.dest, str(folder))
    click(qtbot, snapshots.pull_button)
    qtbot.waitUntil(lambda: "is not empty" in snapshots.message.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert "is not empty" in window.statusBar().currentMessage()


def test_two_selected_snapshots_are_diffed(qtbot, admin, admin_session, open_window, folder, tmp_path):
    admin.create_project("demo")
    first = push(admin, folder, "demo", "one", tmp_path / "cli-cache").snapshot
    write(folder, "data/small.csv", "changed\n")
    write(folder, "new.txt", "new\n")
    os.remove(folder / "train.py")
    second = push(admin, folder, "demo", "two", tmp_path / "cli-cache").snapshot
    window = open_window(admin_session)
    page = files_page_of(qtbot, window, "demo")
    page.tabs.setCurrentIndex(1)
    snapshots = page.snapshots
    qtbot.waitUntil(lambda: len(snapshots.table.row_keys()) == 2, timeout=WAIT_MS)
    assert not snapshots.diff_button.isEnabled()
    click_row(qtbot, snapshots.table, second.id)  # newest first: picking in either order diffs old -> new
    click_row(qtbot, snapshots.table, first.id, add=True)
    click(qtbot, snapshots.diff_button)
    qtbot.waitUntil(lambda: "1 added, 1 modified, 1 deleted" in snapshots.diff_title.text(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert snapshots.diff_title.text().startswith(f"{first.id[:12]} → {second.id[:12]}")
    assert cells(snapshots.diff) == [
        ("modified", "data/small.csv"),
        ("added", "new.txt"),
        ("deleted", "train.py"),
    ]
