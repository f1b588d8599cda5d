"""The Monitoring page: the project's monitors (name, endpoint, latest health, drifted, last window) and for
the picked one its health score with the reasons, drift per feature over its recent windows as a heat map
and its windows over time with the main version's quality (kiln.desktop.pages.monitoring.monitors), with
Run now; the project's alerts with Acknowledge… for a firing one (alerts.py); and its schedules with
their next fire times and recent fires, each fire's run a link (schedules.py).

While the page is seen it reads the project's monitors, alerts and schedules every few seconds (windows are
judged, alerts fire and schedules fire on the coordinator's own clock): each read is one reused operation,
so a slow coordinator skips a tick rather than piling reads up, and a hidden page asks nothing.
Every change is followed by a read, so what the coordinator made of it is what is shown."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kiln.client import Client
from kiln.core.monitoring import Monitor, MonitorResult
from kiln.desktop import times
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.monitoring.alerts import AlertsPanel
from kiln.desktop.pages.monitoring.monitors import MonitorPanel
from kiln.desktop.pages.monitoring.rows import (
    FIRING,
    MONITOR_HEADERS,
    Overview,
    alerts_title,
    judged_text,
    monitor_rows,
    summary_text,
)
from kiln.desktop.pages.monitoring.schedules import SchedulesPanel
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm
from kiln.desktop.widgets.polling import Poller

if TYPE_CHECKING:
    from kiln.desktop.window import MainWindow

TITLE = "Monitoring"
REFRESH_MS = 5000
MONITORS_TAB, ALERTS_TAB, SCHEDULES_TAB = 0, 1, 2


def load_overview(client: Client, project: str) -> Overview:
    """The project's monitors, each with its recent windows, its alerts, and its schedules, each with its
    recent fires. A listing carries neither windows nor fires, so each monitor and schedule is read too
    (a project has a handful of each)."""
    monitors = tuple(client.get_monitor(project, m.name) for m in client.list_monitors(project))
    schedules = tuple(client.get_schedule(project, s.name) for s in client.list_schedules(project))
    return Overview(project, monitors, tuple(client.list_alerts(project)), schedules)


class MonitoringPage(QWidget):
    """Emits `run_wanted(run id)` for a schedule's fire, for the window to act on."""

    run_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.view = Overview("")
        self.confirmation: QMessageBox | None = None  # the Acknowledge question asked last (tests answer it)
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh", self)
        self.run_button = QPushButton("Run now", self)
        self.run_button.setToolTip("judge the window ending now, as the monitor's own clock does")
        self.message = Message(self)
        self.monitors = Table(MONITOR_HEADERS, parent=self)
        self.monitors.setToolTip("highlighted: a monitor whose latest window drifted")
        self.panel = MonitorPanel(self)
        self.alerts = AlertsPanel(self)
        self.schedules = SchedulesPanel(self)
        self.tabs = QTabWidget(self)
        self._list_op = Op("read monitoring", lambda: None, self._listed, self._list_failed, said_by_page=True)
        self.poller = Poller(self, REFRESH_MS, lambda: self.runner.running(self._list_op), self.refresh)
        self._list_again = False  # asked while a read was on its way: read once more
        self._judging = ""  # the monitor Run now is judging
        self._lay_out()
        self._connect()
        self.set_project("")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        monitors = QWidget(self)
        actions = QHBoxLayout()
        actions.addWidget(self.run_button)
        actions.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal, monitors)
        split.addWidget(self.monitors)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        split.setSizes([440, 1100])
        column = QVBoxLayout(monitors)
        column.addLayout(actions)
        column.addWidget(split, 1)
        self.tabs.addTab(monitors, "Monitors")
        self.tabs.addTab(self.alerts, "Alerts")
        self.tabs.addTab(self.schedules, "Schedules")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)

    def _connect(self) -> None:
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.monitors.selection_changed.connect(self._picked)
        self.run_button.clicked.connect(self.run_now)
        self.alerts.acknowledge.clicked.connect(self.ask_acknowledge)
        self.alerts.table.selection_changed.connect(self._buttons)
        self.schedules.run_wanted.connect(self.run_wanted)

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project, self.view = project, Overview(project)
        self.monitors.set_rows([])
        self.panel.set_monitor(None)
        self.alerts.set_alerts([], {})
        self.schedules.set_schedules([])
        self.tabs.setTabText(ALERTS_TAB, alerts_title([]))
        self.message.clear()
        self.summary.setText("choose a project first" if not project else "loading monitors…")
        self._buttons()
        self.refresh()

    def shutdown(self) -> None:
        self.poller.stop()

    def refresh(self) -> None:
        """Reads the monitors, alerts and schedules again."""
        project = self.project
        if not project:
            return
        if self.runner.running(self._list_op):
            self._list_again = True
            return
        client = self.client
        self._list_op.work = lambda: load_overview(client, project)
        self.runner.start(self._list_op)

    def _listed(self, view: Overview) -> None:
        again, self._list_again = self._list_again, False
        if view.project != self.project:
            return
        self.view = view
        rows = monitor_rows(view.monitors, time.time())
        self.monitors.update_rows(rows)
        if rows and self.monitors.selected_key() is None:
            self.monitors.select_keys([rows[0].key])
        self.panel.set_monitor(self.selected())
        self.alerts.set_alerts(view.alerts, {m.id: m.name for m in view.monitors})
        self.tabs.setTabText(ALERTS_TAB, alerts_title(view.alerts))
        self.schedules.set_schedules(view.schedules)
        self.summary.setText(summary_text(view))
        self._buttons()
        if again:
            self.refresh()

    def _list_failed(self, error: Exception) -> None:
        self._list_again = False
        self.summary.setText(f"could not read the monitors: {brief(error)}")

    def selected(self) -> Monitor | None:
        name = self.monitors.selected_key() or ""
        return next((m for m in self.view.monitors if m.name == name), None)

    def _picked(self) -> None:
        self.panel.set_monitor(self.selected())
        self._buttons()

    def _buttons(self) -> None:
        m = self.selected()
        self.run_button.setEnabled(m is not None and not self._judging)
        a = self.alerts.selected()
        self.alerts.acknowledge.setEnabled(a is not None and a.state == FIRING)

    # -- actions ------------------------------------------------------------------------------------------

    def run_now(self) -> None:
        """Judges the picked monitor's window ending now, then reads everything again."""
        m = self.selected()
        if m is None or self._judging:
            return
        client, project, name = self.client, m.project, m.name
        self._judging = name
        self._buttons()
        self.message.info(f"judging the window of monitor {name}…")
        self.runner.start(
            Op(
                f"run monitor {name}",
                lambda: client.run_monitor(project, name),
                lambda r: self._judged(name, r),
                lambda e: self._not_judged(name, e),
                said_by_page=True,
            )
        )

    def _judged(self, name: str, r: MonitorResult) -> None:
        self._judging = ""
        self.message.info(judged_text(name, r))
        self._buttons()
        self.refresh()

    def _not_judged(self, name: str, error: Exception) -> None:
        self._judging = ""
        self.message.error(f"monitor {name} not judged: {brief(error)}")
        self._buttons()

    def ask_acknowledge(self) -> QMessageBox | None:
        a = self.alerts.selected()
        if a is None or a.state != FIRING:
            return None
        windows = f"{a.count} window{'s' if a.count != 1 else ''}"
        self.confirmation = confirm(
            self,
            f"Acknowledge alert {a.id}",
            f"Acknowledge “{a.title}” ({a.severity}, firing since {times.local_zoned(a.first_at)}, {windows})?"
            "\n\nIt then shows as acknowledged by you: people know someone is on it. Further breaches only "
            "count; it resolves once a later window no longer breaches, and that is told again.",
            "Acknowledge",
            lambda: self._acknowledge(a.id, a.title),
        )
        return self.confirmation

    def _acknowledge(self, alert_id: str, title: str) -> None:
        client = self.client
        self.message.info(f"acknowledging {title}…")
        self.runner.start(
            Op(
                f"acknowledge alert {alert_id}",
                lambda: client.acknowledge_alert(alert_id),
                lambda a: self._changed(f"alert “{a.title}” acknowledged by {a.acked_by}"),
                lambda e: self.message.error(f"not acknowledged: {brief(e)}"),
                said_by_page=True,
            )
        )

    def _changed(self, text: str) -> None:
        self.message.info(text)
        self.refresh()


def add_to(window: MainWindow) -> MonitoringPage:
    """The page in `window`'s sidebar (after the pages added before it), following the window's project and
    opening a schedule's fired runs on the Runs page's run pages, as the other pages' run links do."""
    page = MonitoringPage(window.session.client, window.runner, window)
    window.add_page(TITLE, page)
    selector = window.selector

    def chosen(*_: object) -> None:
        page.set_project(selector.currentText())

    selector.currentTextChanged.connect(chosen)
    # The window fills its selector with signals blocked once the projects are listed: read it after that.
    window.projects_page.projects_loaded.connect(chosen, Qt.ConnectionType.QueuedConnection)
    page.run_wanted.connect(window.runs_page.show_run)
    chosen()  # a window whose projects are listed already
    return page
