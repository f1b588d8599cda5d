"""A coordinator that goes away: the window says so in a banner, stays usable, and Retry runs the failed
operation again once the coordinator is back."""

from __future__ import annotations

from kiln.coordinator.context import CoordinatorConfig
from kiln.coordinator.server import start_in_thread
from kiln.desktop import window as window_module
from kiln.desktop.qt import Qt
from tests.conftest import ADMIN_PASSWORD
from tests.desktop.conftest import WAIT_MS, click, wait_idle, window_of_a_stopped_coordinator


def test_a_lost_connection_shows_a_banner_whose_retry_reruns_the_operation(
    qtbot, tmp_path, kiln_home, open_window, monkeypatch
):
    monkeypatch.setattr(window_module, "RETRY_S", 3600)  # retried by hand here, not by the countdown
    data = tmp_path / "coordinator"
    window, port = window_of_a_stopped_coordinator(data, kiln_home, open_window, project="demo")
    page = window.projects_page
    assert page.table.row_keys() == ["demo"] and window.banner.isHidden()

    click(qtbot, page.refresh_button)
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    assert window.banner.label.text().startswith(f"Cannot reach the coordinator at 127.0.0.1:{port} — retrying in")
    assert "cannot be reached" in page.summary.text()  # the page's own line, briefly

    # Still responsive: pages change, and another failing call adds to the banner rather than a crash.
    sidebar = window.sidebar
    qtbot.mouseClick(
        sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(sidebar.item(1)).center()
    )
    assert window.pages.currentWidget() is window.files_page
    click(qtbot, window.files_page.snapshots.refresh_button)
    qtbot.waitUntil(lambda: len(window.banner.failed) == 2, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)

    back = start_in_thread(CoordinatorConfig(data, listen=f"127.0.0.1:{port}", admin_password=ADMIN_PASSWORD))
    try:
        # the same data folder: the project and the session's token are still there
        _retry_until_back(qtbot, window)
        assert window.banner.isHidden() and page.table.row_keys() == ["demo"]
        assert "snapshot" in window.files_page.snapshots.summary.text()
    finally:
        wait_idle(qtbot, window.runner)
        back.stop()


def _retry_until_back(qtbot, window) -> None:
    """Presses Retry until the operations go through: the client reconnects with a backoff of its own."""

    def retried() -> bool:
        if window.runner.busy:
            return False
        if window.banner.isVisible():
            click(qtbot, window.banner.retry)
            return False
        return True

    qtbot.waitUntil(retried, timeout=WAIT_MS)
