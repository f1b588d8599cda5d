"""The main window's frame: placeholder pages for what is still to come, closing that waits for work in
flight rather than cutting it off, and Qt imported through the one shim."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import kiln.desktop
from kiln.desktop.qt import Qt
from tests.desktop.conftest import WAIT_MS, wait_idle


def test_lineage_and_models_are_disabled_placeholders_and_runs_is_a_page(qtbot, admin_session, open_window):
    window = open_window(admin_session)
    titles = [window.sidebar.item(i).text().split("\n")[0] for i in range(window.sidebar.count())]
    assert titles == ["Projects", "Files", "Runs", "Lineage", "Models"]
    assert window.sidebar.item(2).flags() & Qt.ItemFlag.ItemIsEnabled
    for row in (3, 4):
        item = window.sidebar.item(row)
        assert not item.flags() & Qt.ItemFlag.ItemIsEnabled
        assert "coming with tracking" in item.toolTip()
    sidebar = window.sidebar
    qtbot.mouseClick(
        sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(sidebar.item(3)).center()
    )
    assert window.pages.currentWidget() is window.projects_page
    qtbot.mouseClick(
        sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(sidebar.item(2)).center()
    )
    assert window.pages.currentWidget() is window.runs_page
    assert "choose a project first" in window.runs_page.summary.text()
    assert not window.runs_page.launch.isEnabled()


def test_closing_waits_for_work_in_flight(qtbot, admin_session, open_window):
    window = open_window(admin_session)
    release = threading.Event()
    window.runner.run("push analysis to demo", lambda: release.wait(WAIT_MS / 1000))
    window.close()
    assert window.isVisible() and "push analysis to demo" in window.statusBar().currentMessage()
    release.set()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)


def test_only_the_shim_imports_pyside6():
    folder = Path(kiln.desktop.__file__).parent
    imports_qt = re.compile(r"^\s*(from|import)\s+PySide6", re.MULTILINE)
    importers = sorted(p.name for p in folder.glob("*.py") if imports_qt.search(p.read_text()))
    assert importers == ["qt.py"]
