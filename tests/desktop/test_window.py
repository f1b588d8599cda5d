"""The main window's frame: every sidebar entry a working page, closing that waits for work in flight
rather than cutting it off, and Qt imported through the one shim."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import kiln.desktop
from kiln.desktop.qt import Qt
from tests.desktop.conftest import WAIT_MS, go_to, wait_idle


def test_every_sidebar_entry_is_a_page(qtbot, admin_session, open_window):
    window = open_window(admin_session)
    titles = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert titles == [
        "Projects", "Files", "Runs", "Lineage", "Models", "Deployments", "Monitoring", "Environments", "Workspaces",
    ]  # fmt: skip
    pages = [
        window.projects_page,
        window.files_page,
        window.runs_page,
        window.lineage_page,
        window.models_page,
        window.deployments_page,
        window.monitoring_page,
        window.environments_page,
        window.workspaces_page,
    ]
    for title, page in zip(titles, pages, strict=True):
        assert window.sidebar.item(titles.index(title)).flags() & Qt.ItemFlag.ItemIsEnabled
        assert go_to(qtbot, window, title) is page
    wait_idle(qtbot, window.runner)
    assert "choose a project first" in window.models_page.summary.text()  # no project exists yet
    assert not window.lineage_page.open_run.isEnabled() and "Nothing shown yet" in window.lineage_page.details.text()
    go_to(qtbot, window, "Runs")
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
    importers = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.py") if imports_qt.search(p.read_text()))
    assert importers == ["qt.py"]
