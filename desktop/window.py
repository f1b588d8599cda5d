"""The main window: a sidebar of pages, the project selector, a banner for a lost connection, and a status
bar where every other failure is said in words. It is built from a Session and Settings passed in; there
is no global window for pages to reach for.

It also joins the pages up: a run page or a model version asks for lineage, the Lineage page or a model
version asks for a run page; the window routes each request to the page that answers it."""

from __future__ import annotations

import logging

from kiln.core.errors import Unavailable
from kiln.desktop.ops import Op, Runner, describe
from kiln.desktop.pages.deployments.page import DeploymentsPage
from kiln.desktop.pages.environments.page import add_to as add_environments_page
from kiln.desktop.pages.files.page import FilesPage
from kiln.desktop.pages.lineage.page import LineagePage
from kiln.desktop.pages.models.page import ModelsPage
from kiln.desktop.pages.monitoring.page import add_to as add_monitoring_page
from kiln.desktop.pages.projects.page import ProjectsPage
from kiln.desktop.pages.runs.page import RunsPage
from kiln.desktop.pages.workspaces.page import add_to as add_workspaces_page
from kiln.desktop.qt import (
    QCloseEvent,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    Qt,
    QTimer,
    QToolBar,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.session import Session, sign_out
from kiln.desktop.settings import Settings

log = logging.getLogger(__name__)
RETRY_S = 5  # the first wait before failed operations are run again; it doubles while the coordinator stays away
RETRY_MAX_S = 60


class Banner(QFrame):
    """One plain sentence while the coordinator cannot be reached, however many operations failed:
    "Cannot reach the coordinator at HOST:PORT — retrying in 5 s", with Retry now. The error's own words
    (gRPC's) go to the tooltip and the log, once per outage. The failed operations are run again, as they
    were, when the countdown ends, on Retry now, or as soon as any other call gets through (`back`)."""

    def __init__(self, runner: Runner, server: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner, self.server = runner, server
        self.failed: list[Op] = []
        self.left = 0  # seconds until the next retry
        self.delay = RETRY_S  # the wait before the next one (doubling to RETRY_MAX_S while it stays down)
        self.setObjectName("banner")
        self.setStyleSheet("#banner { background: #fdecea; border: 1px solid #e0a0a0; border-radius: 4px; }")
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.retry = QPushButton("Retry now", self)
        self.tick = QTimer(self)
        self.tick.setInterval(1000)
        self.tick.timeout.connect(self._tick)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.retry)
        self.retry.clicked.connect(self.retry_now)
        self.hide()

    def lost(self, op: Op, error: Exception) -> None:
        """An operation failed for want of the coordinator: kept to be run again, and said once."""
        if op not in self.failed:
            self.failed.append(op)
        detail = describe(error)
        if self.isHidden():
            log.warning("lost the coordinator at %s: %s", self.server, detail)
        self.setToolTip(detail)
        self.label.setToolTip(detail)
        if not self.tick.isActive():
            self.left, self.delay = self.delay, min(RETRY_MAX_S, self.delay * 2)
            self.tick.start()
        self._say()
        self.show()

    def back(self) -> None:
        """A call got through: the coordinator is back, so what failed is run again now."""
        self.delay = RETRY_S
        if self.failed:
            self.retry_now()

    def retry_now(self) -> None:
        ops, self.failed = self.failed, []
        self.tick.stop()
        self.hide()
        for op in ops:
            if not self.runner.running(op):
                self.runner.start(op)

    def stop(self) -> None:
        """The window closes: no more retries."""
        self.tick.stop()

    def _tick(self) -> None:
        self.left -= 1
        if self.left <= 0:
            self.retry_now()
        else:
            self._say()

    def _say(self) -> None:
        self.label.setText(f"Cannot reach the coordinator at {self.server} — retrying in {self.left} s")


class MainWindow(QMainWindow):
    """Owns the session (and closes it); emits `signed_out` when the person signs out."""

    signed_out = Signal()

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__()
        self.session, self.settings = session, settings
        self.setWindowTitle(f"Kiln — {session.user.name} on {session.server}")
        self.runner = Runner(self)
        self.runner.failed.connect(self._failed)
        self.closing = False
        client = session.client
        self.projects_page = ProjectsPage(client, self.runner, session.user.is_admin, self)
        self.files_page = FilesPage(client, self.runner, settings, session.server, self)
        self.runs_page = RunsPage(client, self.runner, settings, session.server, session.connect, self)
        self.lineage_page = LineagePage(client, self.runner, self)
        self.models_page = ModelsPage(client, self.runner, self)
        self.deployments_page = DeploymentsPage(client, self.runner, self)
        self.banner = Banner(self.runner, session.server, self)
        self.runner.succeeded.connect(lambda _: self.banner.back())
        self.sidebar = QListWidget(self)
        self.sidebar.setFixedWidth(210)
        self.sidebar.setWordWrap(True)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.sidebar.setStyleSheet("QListWidget::item { padding: 6px 8px; }")
        self.pages = QStackedWidget(self)
        self._build_toolbar()
        self._lay_out()
        self.add_page("Projects", self.projects_page)
        self.add_page("Files", self.files_page)
        self.add_page("Runs", self.runs_page)
        self.add_page("Lineage", self.lineage_page)
        self.add_page("Models", self.models_page)
        self.add_page("Deployments", self.deployments_page)
        self.monitoring_page = add_monitoring_page(self)
        self.environments_page = add_environments_page(self)
        self.workspaces_page = add_workspaces_page(self)
        self._route()
        self.sidebar.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.sidebar.setCurrentRow(0)
        self.projects_page.projects_loaded.connect(self._projects_loaded)
        self.projects_page.project_chosen.connect(self.select_project)
        self.selector.currentTextChanged.connect(self._project_changed)
        self.statusBar().addPermanentWidget(QLabel(f"{session.user.name} @ {session.server}", self))
        if session.warning:
            self.statusBar().showMessage(session.warning)
        self.resize(1100, 720)
        self.projects_page.refresh()

    def _build_toolbar(self) -> None:
        bar = QToolBar("Project", self)
        bar.setMovable(False)
        self.addToolBar(bar)
        bar.addWidget(QLabel(" Project: ", self))
        self.selector = QComboBox(self)
        self.selector.setMinimumWidth(220)
        self.selector.setPlaceholderText("no project")
        bar.addWidget(self.selector)
        bar.addSeparator()
        bar.addAction("Refresh", lambda: self.projects_page.refresh())
        bar.addAction("Sign out", self.sign_out)

    def _lay_out(self) -> None:
        right = QVBoxLayout()
        right.addWidget(self.banner)
        right.addWidget(self.pages, 1)
        body = QHBoxLayout()
        body.addWidget(self.sidebar)
        body.addLayout(right, 1)
        central = QWidget(self)
        central.setLayout(body)
        self.setCentralWidget(central)

    def add_page(self, title: str, page: QWidget, enabled: bool = True, note: str = "") -> QListWidgetItem:
        """A sidebar entry and its page; a disabled entry is a placeholder for what is still to come."""
        item = QListWidgetItem(title if enabled or not note else f"{title}\n{note}")
        if not enabled:
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(note)
        self.sidebar.addItem(item)
        self.pages.addWidget(page)
        return item

    def show_page(self, title: str) -> None:
        for row in range(self.sidebar.count()):
            if self.sidebar.item(row).text().split("\n")[0] == title:
                self.sidebar.setCurrentRow(row)

    def _route(self) -> None:
        self.runs_page.lineage_wanted.connect(self.open_lineage)
        self.models_page.lineage_wanted.connect(self.open_lineage)
        self.deployments_page.lineage_wanted.connect(self.open_lineage)
        self.lineage_page.run_wanted.connect(self.runs_page.show_run)
        self.models_page.run_wanted.connect(self.runs_page.show_run)
        self.deployments_page.run_wanted.connect(self.runs_page.show_run)
        self.projects_page.run_wanted.connect(self.runs_page.show_run)

    def open_lineage(self, entity: str) -> None:
        """The Lineage page, rooted on `entity`, brought to the front of the window."""
        self.show_page("Lineage")
        self.lineage_page.show_entity(entity)
        self.raise_()
        self.activateWindow()

    # -- the project everything is about --------------------------------------------------------------

    def _projects_loaded(self, projects: list) -> None:
        names = sorted(p.name for p in projects)
        current = self.selector.currentText() or self.settings.last_project.get(self.session.server, "")
        self.selector.blockSignals(True)
        self.selector.clear()
        self.selector.addItems(names)
        self.selector.setCurrentIndex(names.index(current) if current in names else 0 if names else -1)
        self.selector.blockSignals(False)
        if self.selector.currentText() != self.files_page.project:
            self._project_changed(self.selector.currentText())

    def select_project(self, name: str) -> None:
        if name and name != self.selector.currentText():
            self.selector.setCurrentText(name)

    def _project_changed(self, name: str) -> None:
        if name:
            self.settings.remember_project(self.session.server, name)
        self.projects_page.select(name)
        self.files_page.set_project(name)
        self.runs_page.set_project(name)
        self.models_page.set_project(name)
        self.deployments_page.set_project(name)

    # -- failures, signing out, closing ---------------------------------------------------------------

    def _failed(self, op: Op, error: Exception) -> None:
        if isinstance(error, Unavailable):
            self.banner.lost(op, error)  # said there, once; the status bar keeps what it said before
        elif not op.said_by_page:
            self.statusBar().showMessage(f"{op.label}: {describe(error)}")

    def sign_out(self) -> None:
        """Revokes the token where the coordinator can be reached; forgets it here in any case."""
        home = self.settings.home
        self.runner.run("sign out", lambda: sign_out(self.session, home), self._out, lambda _: self._out(None))

    def _out(self, _: object) -> None:
        self.signed_out.emit()
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Waits for operations in flight (a push must not be cut off unsaid), without freezing."""
        self.runs_page.shutdown()  # no new refreshes, no log followers, while it waits
        self.workspaces_page.shutdown()  # and no tunnels
        self.banner.stop()
        if self.runner.busy:
            event.ignore()
            if not self.closing:
                self.closing = True
                self.runner.idle.connect(self.close)
            waiting = ", ".join(self.runner.labels())
            self.statusBar().showMessage(f"closing once this finishes: {waiting}")
            return
        self.session.close()
        event.accept()
