"""Desktop tests: widgets offscreen against a real coordinator, each test with its own KILN_HOME, and a
guard that fails any test leaving thread-pool jobs running, operations undelivered or timers active (they
would fire into the next test, or into freed widgets)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import time  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from kiln.coordinator.server import RunningCoordinator  # noqa: E402
from kiln.desktop import ops  # noqa: E402
from kiln.desktop.pages.run import logs  # noqa: E402
from kiln.desktop.qt import QComboBox, Qt, QTabWidget, QThreadPool, QTimer, QWidget  # noqa: E402
from kiln.desktop.rows import Row  # noqa: E402
from kiln.desktop.session import Session, sign_in  # noqa: E402
from kiln.desktop.settings import Settings  # noqa: E402
from kiln.desktop.widgets.common import Table  # noqa: E402
from kiln.desktop.window import MainWindow  # noqa: E402
from kiln.pinning import presented_ca  # noqa: E402
from tests.compute.conftest import Cluster, cluster  # noqa: E402, F401  (the real cluster, re-exported)
from tests.conftest import ADMIN_PASSWORD, start_coordinator  # noqa: E402

WAIT_MS = 30_000  # generous: the machine is shared and slow; waits end as soon as the condition holds
# A job's outcome is delivered just before its pool thread returns; finishing takes microseconds, so a job
# still running after this long was left behind (the wait ends as soon as the pool is idle).
GRACE_MS = 2_000


class Leaks:
    """Records timers and runners started during one test, to say which are still going at its end."""

    def __init__(self) -> None:
        self.timers: weakref.WeakSet[QTimer] = weakref.WeakSet()
        self.single_shots: list[float] = []  # monotonic deadlines
        self.runners: weakref.WeakSet[ops.Runner] = weakref.WeakSet()
        self.followers: list[logs.LogFollower] = []  # kept alive here: their threads outlive no test

    def found(self) -> list[str]:
        problems = []
        pool = QThreadPool.globalInstance()
        active = 0 if pool.waitForDone(GRACE_MS) else pool.activeThreadCount()
        if active:
            problems.append(f"{active} QThreadPool job(s) still running")
        for runner in list(self.runners):
            try:
                if runner.busy:
                    problems.append(f"operations not delivered: {runner.labels()}")
            except RuntimeError:  # its window was deleted; nothing can be delivered to it any more
                pass
        following = [f.run_id for f in self.followers if not f.wait(GRACE_MS / 1000)]
        if following:
            problems.append(f"log followers still running for {following}")
        if any(_active(t) for t in list(self.timers)):
            problems.append("a QTimer is still active")
        if any(d > time.monotonic() for d in self.single_shots):
            problems.append("a QTimer.singleShot is still pending")
        return problems

    def stop(self) -> None:
        """After a failure: stop what is left so it cannot leak into the next test."""
        for t in list(self.timers):
            if _active(t):
                t.stop()
        for f in self.followers:
            f.stop()
        QThreadPool.globalInstance().waitForDone()


def _active(timer: QTimer) -> bool:
    try:
        return timer.isActive()
    except RuntimeError:  # deleted by Qt: not running
        return False


@pytest.fixture(autouse=True)
def qt_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Leaks]:
    leaks = Leaks()
    start_timer, single_shot, start_op = QTimer.start, QTimer.singleShot, ops.Runner.start
    start_follower = logs.LogFollower.start

    def tracked_start(self: QTimer, *args: Any) -> None:
        leaks.timers.add(self)
        start_timer(self, *args)

    def tracked_single_shot(msec: int, *args: Any) -> None:
        leaks.single_shots.append(time.monotonic() + msec / 1000)
        single_shot(msec, *args)

    def tracked_op(self: ops.Runner, op: ops.Op) -> ops.Op:
        leaks.runners.add(self)
        return start_op(self, op)

    def tracked_follower(self: logs.LogFollower) -> None:
        if self not in leaks.followers:
            leaks.followers.append(self)
        start_follower(self)

    monkeypatch.setattr(QTimer, "start", tracked_start)
    monkeypatch.setattr(logs.LogFollower, "start", tracked_follower)
    monkeypatch.setattr(QTimer, "singleShot", staticmethod(tracked_single_shot))
    monkeypatch.setattr(ops.Runner, "start", tracked_op)
    yield leaks
    problems = leaks.found()
    if problems:
        leaks.stop()
        pytest.fail("the test left Qt work running: " + "; ".join(problems))


@pytest.fixture(autouse=True)
def kiln_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "kiln-home"
    monkeypatch.setenv("KILN_HOME", str(home))
    return home


@pytest.fixture
def settings(kiln_home: Path) -> Settings:
    return Settings.load(kiln_home)


def session_for(rc: RunningCoordinator, home: Path, user: str, password: str) -> Session:
    """Signs in as the dialog does (pinning the CA the coordinator presents), without the dialog."""
    return sign_in(home, rc.address, presented_ca(rc.address), user, password, "")


def window_of_a_stopped_coordinator(
    data: Path, home: Path, open_window: Callable[[Session], MainWindow], project: str = ""
) -> tuple[MainWindow, int]:
    """A main window signed in as admin (its first listing loaded, `project` created first if named) to a
    coordinator kept in `data` that has stopped since; and the port to start it on again."""
    rc = start_coordinator(data)
    port = rc.port
    try:
        if project:
            session_for(rc, home, "admin", ADMIN_PASSWORD).client.create_project(project)
        window = open_window(session_for(rc, home, "admin", ADMIN_PASSWORD))
    finally:
        rc.stop()
    return window, port


@pytest.fixture
def berlin() -> Iterator[None]:
    """Local time is Europe/Berlin (CET, CEST in summer) for the test, whatever the machine's zone."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def admin_session(coordinator: RunningCoordinator, kiln_home: Path) -> Session:
    return session_for(coordinator, kiln_home, "admin", ADMIN_PASSWORD)


def wait_idle(qtbot: Any, runner: ops.Runner) -> None:
    qtbot.waitUntil(lambda: not runner.busy, timeout=WAIT_MS)


@pytest.fixture
def cluster_session(cluster: Cluster, kiln_home: Path) -> Iterator[Session]:  # noqa: F811
    """The admin signed in to the cluster's coordinator, as the sign-in dialog does it."""
    session = session_for(cluster.coordinator, kiln_home, "admin", ADMIN_PASSWORD)
    yield session
    session.close()


@pytest.fixture(autouse=True)
def quick_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Live pages poll often in tests, so waits end soon after the cluster changes (not a timing
    assumption: every wait still allows WAIT_MS)."""
    from kiln.desktop.pages.run import page as run_page
    from kiln.desktop.pages.runs import page as runs_page
    from kiln.desktop.tray import watch

    monkeypatch.setattr(runs_page, "REFRESH_MS", 250)
    monkeypatch.setattr(run_page, "POLL_MS", 250)
    monkeypatch.setattr(watch, "WATCH_MS", 250)


@pytest.fixture
def open_window(qtbot: Any, settings: Settings) -> Callable[[Session], MainWindow]:
    """open_window(session) -> the main window, shown, with its first listing loaded."""

    def open_(session: Session) -> MainWindow:
        window = MainWindow(session, settings)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        wait_idle(qtbot, window.runner)
        return window

    return open_


def click(qtbot: Any, widget: QWidget) -> None:
    assert widget.isEnabled(), f"{widget.text() if hasattr(widget, 'text') else widget} is disabled"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot: Any, table: Table, key: Any, add: bool = False) -> None:
    """Clicks the row showing `key`; `add` holds Ctrl to add it to the selection."""
    index = table.model().index(table.row_of(key), 0)
    table.scrollTo(index)
    modifier = Qt.KeyboardModifier.ControlModifier if add else Qt.KeyboardModifier.NoModifier
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, modifier, table.visualRect(index).center())


def choose(qtbot: Any, combo: QComboBox, text: str) -> None:
    """Picks `text` in a combo box with the arrow keys, as a person using the keyboard would."""
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == text, f"{text!r} is not a choice in {combo.objectName() or 'the combo'}"


def cells(table: Table) -> list[tuple[str, ...]]:
    rows: list[Row] = table.rows_model.rows
    return [r.cells for r in rows]


def go_to(qtbot: Any, window: MainWindow, title: str) -> QWidget:
    """Clicks the sidebar entry `title`, as a person moves between pages; returns the page shown."""
    sidebar = window.sidebar
    item = next(sidebar.item(i) for i in range(sidebar.count()) if sidebar.item(i).text() == title)
    qtbot.mouseClick(sidebar.viewport(), Qt.MouseButton.LeftButton, pos=sidebar.visualItemRect(item).center())
    page: QWidget = window.pages.currentWidget()
    return page


def click_tab(qtbot: Any, tabs: QTabWidget, title: str) -> QWidget:
    """Clicks the tab titled `title` (as shown: "Parameters & tags"); returns its page."""
    titles = [tabs.tabText(i).replace("&&", "&") for i in range(tabs.count())]
    index = titles.index(title)
    bar = tabs.tabBar()
    if not bar.rect().contains(bar.tabRect(index)):  # scrolled out of sight: the arrow keys reach it
        bar.setFocus()
        while tabs.currentIndex() != index:
            qtbot.keyClick(bar, Qt.Key.Key_Right if tabs.currentIndex() < index else Qt.Key.Key_Left)
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    assert tabs.currentIndex() == index, f"tab {title!r} was not chosen"
    page: QWidget = tabs.currentWidget()
    return page
