"""The Environments page: the selected project's environments, every version as a row (name, version,
kind, state as a pill, Python, how many packages, digest, the nodes that hold it built, when and by whom),
the version the project default stands for marked. The picked version shows what its build found
installed, why its build failed if it did, and Definition…, Build log (its build run's page, as any run
link opens one) and Make default.

It reads the project's versions when the project changes, when the page is seen (a build may have ended
meanwhile) and on Refresh; Make default is followed by a read, so the mark moves where the coordinator
put it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kiln.client import Client
from kiln.core.environments import BuildState, Environment
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.environments.rows import (
    PACKAGE_HEADERS,
    STATE_COLUMN,
    VERSION_HEADERS,
    default_version,
    details_text,
    package_rows,
    state_colours,
    summary_text,
    version_rows,
)
from kiln.desktop.pages.environments.views import TextDialog, definition_dialog
from kiln.desktop.pages.runs.chips import StateChips
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QShowEvent,
    QSplitter,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message, Table

if TYPE_CHECKING:
    from kiln.desktop.window import MainWindow

TITLE = "Environments"


class EnvironmentsPage(QWidget):
    """Emits `run_wanted(run id)` for a version's build run; the window opens its run page."""

    run_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = self.default = ""
        self.envs: dict[str, Environment] = {}  # NAME:VERSION -> the version, as last read
        self.dialog: TextDialog | None = None
        self.summary = QLabel("", self)
        self.summary.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh", self)
        self.versions = Table(VERSION_HEADERS, parent=self, sortable=True)
        self.versions.setItemDelegateForColumn(STATE_COLUMN, StateChips(self.versions, state_colours))
        self.details = QLabel("", self)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setWordWrap(True)
        self.reason = Message(self)
        self.packages_title = QLabel("", self)
        self.packages = Table(PACKAGE_HEADERS, parent=self, sortable=True)
        self.definition_button = QPushButton("Definition…", self)
        self.build_log_button = QPushButton("Build log", self)
        self.default_button = QPushButton("Make default", self)
        self.message = Message(self)
        self._lay_out()
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.versions.selection_changed.connect(self._picked)
        self.definition_button.clicked.connect(self.show_definition)
        self.build_log_button.clicked.connect(self.show_build_log)
        self.default_button.clicked.connect(self.make_default)
        self.set_project("")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        buttons = QHBoxLayout()
        for button in (self.definition_button, self.build_log_button, self.default_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        right = QWidget(self)
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.details)
        column.addWidget(self.reason)
        column.addLayout(buttons)
        column.addWidget(self.message)
        column.addWidget(self.packages_title)
        column.addWidget(self.packages, 1)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.versions)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project, self.default, self.envs = project, "", {}
        self.versions.set_rows([])
        self.message.clear()
        self.summary.setText("choose a project first" if not project else "loading environments…")
        self._picked()
        self.refresh()

    # -- reading --------------------------------------------------------------------------------------

    def refresh(self, select: str | None = None) -> None:
        """Reads the project's versions and its default again, keeping the picked version (or `select`)."""
        project = self.project
        if not project:
            return
        keep = select or self.versions.selected_key()
        self.runner.run(
            f"list environments of {project}",
            lambda: (self.client.list_environments(project), self.client.default_environment(project)),
            lambda answer: self._listed(project, answer, keep),
            lambda e: self._list_failed(project, e),
        )

    def _listed(self, project: str, answer: tuple[list[Environment], str], keep: str | None) -> None:
        if project != self.project:
            return
        found, self.default = answer
        self.envs = {e.ref: e for e in found}
        self.versions.blockSignals(True)
        self.versions.set_rows(version_rows(found, self.default, time.time()), keep=keep)
        self.versions.blockSignals(False)
        self.summary.setText(summary_text(project, found, self.default))
        self._picked()

    def _list_failed(self, project: str, error: Exception) -> None:
        if project == self.project:
            self.summary.setText(f"could not list environments: {brief(error)}")

    def showEvent(self, event: QShowEvent) -> None:
        """A build may have ended since the page was last seen."""
        super().showEvent(event)
        if self.envs:
            self.refresh()

    # -- the picked version ---------------------------------------------------------------------------

    def selected(self) -> Environment | None:
        return self.envs.get(self.versions.selected_key() or "")

    def _picked(self) -> None:
        env = self.selected()
        self.details.setText(details_text(env) if env else "Pick a version to see its packages.")
        self.details.setToolTip(env.digest if env else "")
        if env is not None and env.state is BuildState.FAILED:
            self.reason.error(f"Its build failed: {env.reason or 'no reason was given'}")
        elif env is not None and env.state is BuildState.BUILDING:
            self.reason.info("Its build run is queued or running; Refresh to see how it ended.")
        else:
            self.reason.clear()
        rows = package_rows(env)
        self.packages.set_rows(rows)
        if env is None:
            self.packages_title.clear()
        elif env.state is BuildState.READY:
            self.packages_title.setText(f"<b>Packages</b> ({len(rows)}, as its build found them)")
        else:
            self.packages_title.setText("<b>Packages</b>: known once it is built")
        is_default = env is not None and env.ref == default_version(self.default, self.envs.values())
        self.definition_button.setEnabled(env is not None)
        self.build_log_button.setEnabled(env is not None and bool(env.build_run))
        self.default_button.setEnabled(env is not None and env.state is BuildState.READY and not is_default)
        self.default_button.setToolTip(
            "runs of this project that name no environment run in it" if env and not is_default else ""
        )

    # -- actions --------------------------------------------------------------------------------------

    def show_definition(self) -> None:
        env = self.selected()
        if env is None:
            return
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = definition_dialog(env, self)
        self.dialog.open()

    def show_build_log(self) -> None:
        env = self.selected()
        if env is not None and env.build_run:
            self.run_wanted.emit(env.build_run)

    def make_default(self) -> None:
        env, project = self.selected(), self.project
        if env is None or not project:
            return
        ref = env.ref
        self.default_button.setEnabled(False)
        self.message.info(f"making {ref} the default of {project}…")
        self.runner.run(
            f"make {ref} the default environment of {project}",
            lambda: self.client.set_default_environment(project, ref),
            lambda _: self._made_default(project, ref),
            self._default_failed,
        )

    def _made_default(self, project: str, ref: str) -> None:
        if project == self.project:
            self.message.info(f"{ref} is now the default of {project}: runs that name no environment run in it")
            self.refresh(select=ref)

    def _default_failed(self, error: Exception) -> None:
        self.message.error(f"could not change the default: {brief(error)}")
        self._picked()


def add_to(window: MainWindow) -> EnvironmentsPage:
    """The page in `window`'s sidebar (after the pages added before it), following the window's project
    and opening build runs on the Runs page's run pages, as the other pages' run links do."""
    page = EnvironmentsPage(window.session.client, window.runner, window)
    window.add_page(TITLE, page)
    selector = window.selector

    def chosen(*_: object) -> None:
        page.set_project(selector.currentText())

    selector.currentTextChanged.connect(chosen)
    # The window fills its selector with signals blocked once the projects are listed: read it after that.
    window.projects_page.projects_loaded.connect(chosen, Qt.ConnectionType.QueuedConnection)
    page.run_wanted.connect(window.runs_page.show_run)
    return page
