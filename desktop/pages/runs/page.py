"""The Runs page: the selected project's runs, kept current on a timer while the page is shown; Launch…
opens the launch dialog, a double click (or Open) the run page, and two or more selected runs can be
compared side by side. A run page's Lineage (or an input clicked) is passed on as `lineage_wanted(id)`;
`show_run(id)` opens the page of any run the person may read (one seen in the lineage view, say).

The refresh is one reused operation: a tick while it is still on its way is skipped, so a slow or absent
coordinator never gets a pile of requests, and a lost connection is reported once, not once a tick."""

from __future__ import annotations

from collections.abc import Callable

from kiln.client import Client
from kiln.core.clock import now
from kiln.core.runs import Run
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.compare.page import CompareDialog
from kiln.desktop.pages.run.page import RunDialog
from kiln.desktop.pages.runs.launch import LaunchDialog
from kiln.desktop.pages.runs.rows import RUN_HEADERS, run_rows
from kiln.desktop.qt import (
    QHBoxLayout,
    QHideEvent,
    QLabel,
    QPushButton,
    QShowEvent,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.settings import Settings
from kiln.desktop.widgets.common import Table

REFRESH_MS = 2000
MAX_SHOWN = 1000  # the newest runs, read every refresh (the coordinator sends the pages)


class RunsPage(QWidget):
    lineage_wanted = Signal(str)

    def __init__(
        self,
        client: Client,
        runner: Runner,
        settings: Settings,
        server: str,
        connect: Callable[[], Client],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.settings, self.server = client, runner, settings, server
        self.open_client = connect
        self.project = ""
        self.runs: dict[str, Run] = {}
        self.run_pages: dict[str, RunDialog] = {}
        self.launcher: LaunchDialog | None = None
        self.compare_view: CompareDialog | None = None
        self.table = Table(RUN_HEADERS, multi=True, parent=self)
        self.summary = QLabel("", self)
        self.launch = QPushButton("Launch…", self)
        self.open_button = QPushButton("Open", self)
        self.compare = QPushButton("Compare", self)
        self.refresh_button = QPushButton("Refresh", self)
        self._lay_out()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._refresh_op = Op("list runs", self._list, self._loaded, self._failed)
        self.launch.clicked.connect(self.open_launcher)
        self.open_button.clicked.connect(lambda: self.open_run(self.table.selected_key()))
        self.compare.clicked.connect(self.open_compare)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.doubleClicked.connect(lambda index: self.open_run(self.table.row_keys()[index.row()]))
        self.table.selection_changed.connect(self._picked)
        self.set_project("")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        for button in (self.refresh_button, self.open_button, self.compare, self.launch):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project = project
        self.runs = {}
        self.table.update_rows([])
        self.launch.setEnabled(bool(project))
        self.summary.setText("choose a project first" if not project else "loading runs…")
        self._picked()
        if project and self.isVisible():
            self.refresh()

    def _picked(self) -> None:
        picked = self.table.selected_keys()
        self.open_button.setEnabled(len(picked) == 1)
        self.compare.setEnabled(len(picked) >= 2)

    # -- the live table -------------------------------------------------------------------------------

    def refresh(self) -> None:
        if self.project and not self.runner.running(self._refresh_op):
            self.runner.start(self._refresh_op)

    def _list(self) -> tuple[str, list[Run]]:
        project = self.project  # read on the worker: the answer says which project it is about
        return project, self.client.list_runs(project, limit=MAX_SHOWN)

    def _loaded(self, answer: tuple[str, list[Run]]) -> None:
        project, found = answer
        if project != self.project:
            return  # the page moved on meanwhile; the next tick lists the new project
        self.runs = {r.id: r for r in found}
        self.table.update_rows(run_rows(found, now()))
        active = sum(1 for r in found if not r.state.terminal)
        n = len(found)
        self.summary.setText(
            f"{n} run{'s' if n != 1 else ''}{' (the newest)' if n >= MAX_SHOWN else ''}, {active} not finished"
            if n
            else "no runs yet: Launch… one"
        )

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not list runs: {brief(error)}")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.timer.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()  # nobody is looking: the coordinator is not asked
        super().hideEvent(event)

    # -- dialogs --------------------------------------------------------------------------------------

    def open_launcher(self) -> None:
        if not self.project:
            return
        folder = self.settings.folder_for(self.server, self.project)
        self.launcher = LaunchDialog(
            self.client, self.runner, self.project, folder, self.settings.cache_dir, self
        )
        self.launcher.launched.connect(self._launched)
        self.launcher.open()

    def _launched(self, run: Run) -> None:
        self.runs[run.id] = run
        self.summary.setText(f"run {run.id} queued")
        self.table.update_rows(run_rows(list(self.runs.values()), now()))
        self.table.select_keys([run.id])
        self.refresh()

    def open_run(self, run_id: str | None) -> RunDialog | None:
        """The page of a listed run (one per run: opening it again brings it to the front)."""
        run = self.runs.get(run_id or "")
        return None if run is None else self._open_page(run)

    def show_run(self, run_id: str) -> None:
        """The page of any run, listed here or not (another project's, found through lineage)."""
        if run_id in self.runs or run_id in self.run_pages:
            self._open_page(self.runs.get(run_id) or self.run_pages[run_id].run)
            return
        self.runner.run(f"read run {run_id}", lambda: self.client.get_run(run_id), self._open_page)

    def _open_page(self, run: Run) -> RunDialog:
        page = self.run_pages.get(run.id)
        if page is None or not page.isVisible():
            if page is not None:
                page.deleteLater()
            page = RunDialog(self.client, self.runner, self.open_client, run, self)
            page.rerun.connect(self._rerun)
            page.open_entity.connect(self.lineage_wanted)
            self.run_pages[run.id] = page
        page.show()
        page.raise_()
        return page

    def _rerun(self, run: Run) -> None:
        if run.spec.project == self.project:
            self._launched(run)
            self.open_run(run.id)

    def open_compare(self) -> None:
        picked = [self.runs[k] for k in self.table.selected_keys() if k in self.runs]
        if len(picked) < 2:
            return
        if self.compare_view is not None:
            self.compare_view.deleteLater()
        self.compare_view = CompareDialog(picked, self)
        self.compare_view.show()

    def shutdown(self) -> None:
        """Stops the timer and closes the run pages (ending their log followers) as the window closes."""
        self.timer.stop()
        for page in self.run_pages.values():
            page.close()
        if self.compare_view is not None:
            self.compare_view.close()
