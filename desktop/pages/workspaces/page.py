"""The Workspaces page: the project's workspaces (tool, owner, state, node, GPUs, idle time, last save, an
idle warning), with Start… (a name, the environment, CPUs and GPUs, the tool), Open (a tunnel on a local
port, and the tool in the browser with its token), Save, and Stop… (which saves first, after a question).

While the page is seen it reads the list every few seconds (state, idle time and warnings move on the
coordinator's clock); each read is one reused operation. Tunnels opened here stay open until the window
closes, so a notebook in the browser keeps its kernel's websocket."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kiln.client import Client
from kiln.client.tunnels import Forwarder
from kiln.core.runs import Resources, RunSpec
from kiln.core.units import format_duration
from kiln.core.workspaces import TOOLS, Workspace
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.qt import (
    QComboBox,
    QDesktopServices,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    Qt,
    QUrl,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.rows import Row
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm
from kiln.desktop.widgets.polling import Poller

if TYPE_CHECKING:
    from kiln.desktop.window import MainWindow

TITLE = "Workspaces"
REFRESH_MS = 5000
HEADERS = ("Name", "Tool", "Owner", "State", "Node", "GPUs", "Idle", "Last saved")


def workspace_rows(found: list[Workspace], now: float) -> list[Row]:
    rows = []
    for w in found:
        idle = format_duration(w.idle_s(now)) if w.running else "-"
        if w.warned_at and w.running:
            idle += f" (stops at {format_duration(w.idle_limit_s)} idle)"
        saved = w.last_saved[:12] if w.last_saved else "never"
        cells = (w.name, w.tool, w.owner, w.state, w.node or "-", str(w.gpus), idle, saved)
        rows.append(Row(cells, key=w.name, marked=bool(w.warned_at and w.running)))
    return rows


class StartDialog(QDialog):
    """What a new workspace is: its name, environment, tool and resources."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle("Start a workspace")
        self.name = QLineEdit(self)
        self.environment = QLineEdit(self)
        self.environment.setPlaceholderText("the project's default")
        self.tool = QComboBox(self)
        self.tool.addItems(list(TOOLS))
        self.cpus = QDoubleSpinBox(self)
        self.cpus.setRange(0.1, 256)
        self.cpus.setValue(1.0)
        self.gpus = QSpinBox(self)
        self.gpus.setRange(0, 16)
        form = QFormLayout(self)
        for label, widget in (("Name", self.name), ("Environment", self.environment), ("Tool", self.tool),
                              ("CPUs", self.cpus), ("GPUs", self.gpus)):  # fmt: skip
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class WorkspacesPage(QWidget):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.found: list[Workspace] = []
        self.forwarders: dict[str, Forwarder] = {}  # run id -> its open tunnel
        self.dialog: StartDialog | None = None
        self.confirmation: QMessageBox | None = None
        self.summary = QLabel("", self)
        self.message = Message(self)
        self.table = Table(HEADERS, parent=self)
        self.start_button = QPushButton("Start…", self)
        self.open_button = QPushButton("Open", self)
        self.save_button = QPushButton("Save", self)
        self.stop_button = QPushButton("Stop…", self)
        self._list_op = Op("read workspaces", lambda: None, self._listed, self._list_failed, said_by_page=True)
        self.poller = Poller(self, REFRESH_MS, lambda: self.runner.running(self._list_op), self.refresh)
        actions = QHBoxLayout()
        for b in (self.start_button, self.open_button, self.save_button, self.stop_button):
            actions.addWidget(b)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        self.start_button.clicked.connect(self.ask_start)
        self.open_button.clicked.connect(self.open_selected)
        self.save_button.clicked.connect(self.save_selected)
        self.stop_button.clicked.connect(self.ask_stop)
        self.table.selection_changed.connect(self._buttons)
        self.set_project("")

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project, self.found = project, []
        self.table.set_rows([])
        self.message.clear()
        self.summary.setText("choose a project first" if not project else "loading workspaces…")
        self._buttons()
        self.refresh()

    def shutdown(self) -> None:
        self.poller.stop()
        for f in self.forwarders.values():
            f.stop()
        self.forwarders.clear()

    def refresh(self) -> None:
        project = self.project
        if not project or self.runner.running(self._list_op):
            return
        client = self.client
        self._list_op.work = lambda: (project, client.list_workspaces(project))
        self.runner.start(self._list_op)

    def _listed(self, result: tuple[str, list[Workspace]]) -> None:
        project, found = result
        if project != self.project:
            return
        self.found = found
        self.table.update_rows(workspace_rows(found, time.time()))
        warned = [w.name for w in found if w.warned_at and w.running]
        text = f"{len(found)} workspace(s) running or starting" if found else "no workspaces: Start… makes one"
        if warned:
            text += f"; idle, stopping soon: {', '.join(warned)}"
        self.summary.setText(text)
        self._buttons()

    def _list_failed(self, error: Exception) -> None:
        self.summary.setText(f"could not read the workspaces: {brief(error)}")

    def selected(self) -> Workspace | None:
        name = self.table.selected_key()
        return next((w for w in self.found if w.name == name), None)

    def _buttons(self) -> None:
        w = self.selected()
        self.start_button.setEnabled(bool(self.project))
        for b in (self.open_button, self.save_button, self.stop_button):
            b.setEnabled(w is not None and w.running)
        self.open_button.setEnabled(w is not None and w.running and bool(w.port and w.path))

    # -- actions -------------------------------------------------------------------------------------------

    def ask_start(self) -> StartDialog:
        self.dialog = StartDialog(self)
        self.dialog.accepted.connect(self._start_from_dialog)
        self.dialog.open()
        return self.dialog

    def _start_from_dialog(self) -> None:
        d, project, client = self.dialog, self.project, self.client
        assert d is not None
        name, tool = d.name.text().strip(), d.tool.currentText()
        spec = RunSpec(project, (), resources=Resources(d.cpus.value(), 0, d.gpus.value()),
                       environment=d.environment.text().strip())  # fmt: skip
        self._act(f"start workspace {name}", lambda: client.start_workspace(project, name, spec, tool), "started")

    def open_selected(self) -> None:
        w = self.selected()
        if w is None or not w.port or not w.path:
            return
        forwarder = self.forwarders.get(w.run_id)
        if forwarder is None:
            try:
                forwarder = self.forwarders[w.run_id] = Forwarder(self.client, w.run_id, w.port).start()
            except OSError as e:
                self.message.error(f"cannot open a local port: {e}")
                return
        url = f"http://127.0.0.1:{forwarder.local_port}{w.path}"
        self.message.info(f"workspace {w.name} is at {url.split('?')[0]} (the tunnel stays open while Kiln runs)")
        QDesktopServices.openUrl(QUrl(url))

    def save_selected(self) -> None:
        w, project, client = self.selected(), self.project, self.client
        if w is not None:
            self._act(f"save workspace {w.name}", lambda: client.save_workspace(project, w.name), "saved")

    def ask_stop(self) -> QMessageBox | None:
        w, project, client = self.selected(), self.project, self.client
        if w is None:
            return None
        question = (
            f"Stop workspace {w.name} on {w.node}? Its folder is saved into project {project} first; "
            "the tool and its kernels end."
        )

        def stopping() -> None:
            self._act(f"stop workspace {w.name}", lambda: client.stop_workspace(project, w.name), "stopped")

        self.confirmation = confirm(self, "Stop workspace", question, "Save and stop", stopping)
        return self.confirmation

    def _act(self, label: str, work: object, done: str) -> None:
        def said(w: Workspace) -> None:
            saved = f", saved as {w.last_saved[:12]}" if done != "started" and w.last_saved else ""
            self.message.info(f"workspace {w.name} {done}{saved}")
            self.refresh()

        def failed(error: Exception) -> None:
            self.message.error(f"could not {label}: {brief(error)}")

        self.runner.start(Op(label, work, said, failed, said_by_page=True))  # type: ignore[arg-type]


def add_to(window: MainWindow) -> WorkspacesPage:
    """The page in `window`'s sidebar, following the window's project."""
    page = WorkspacesPage(window.session.client, window.runner, window)
    window.add_page(TITLE, page)
    selector = window.selector

    def chosen(*_: object) -> None:
        page.set_project(selector.currentText())

    selector.currentTextChanged.connect(chosen)
    window.projects_page.projects_loaded.connect(chosen, Qt.ConnectionType.QueuedConnection)
    chosen()
    return page
