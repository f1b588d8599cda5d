"""The Files page: the local folder linked to the project, what changed in it since it was last pushed,
pushing it with progress, and (in its second tab) the project's snapshots."""

from __future__ import annotations

from pathlib import Path

from kiln.client import Client
from kiln.core.errors import InvalidArgument
from kiln.core.units import format_bytes
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.files.folders import LocalChanges, local_changes
from kiln.desktop.pages.files.snapshots import SnapshotsPanel
from kiln.desktop.qt import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.rows import CHANGE_HEADERS, change_rows, change_summary
from kiln.desktop.settings import Settings
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.progress import ProgressView
from kiln.sync.push import PushResult, push


class FilesPage(QWidget):
    def __init__(
        self, client: Client, runner: Runner, settings: Settings, server: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.settings, self.server = client, runner, settings, server
        self.project = ""
        self.folder_edit = QLineEdit(self, placeholderText="a local folder to link to this project")
        self.browse = QPushButton("Browse…", self)
        self.link = QPushButton("Link", self)
        self.link_message = Message(self)
        self.changes = Table(CHANGE_HEADERS, parent=self)
        self.summary = QLabel("", self)
        self.rescan = QPushButton("Refresh", self)
        self.push_message = QLineEdit(self, placeholderText="what this snapshot is (optional)")
        self.push_button = QPushButton("Push", self)
        self.progress = ProgressView(self)
        self.push_result = Message(self)
        self.snapshots = SnapshotsPanel(client, runner, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._changes_tab(), "Local changes")
        self.tabs.addTab(self.snapshots, "Snapshots")
        self._lay_out()
        self.browse.clicked.connect(self._browse)
        self.link.clicked.connect(self._link)
        self.folder_edit.returnPressed.connect(self._link)
        self.rescan.clicked.connect(self.refresh_changes)
        self.push_button.clicked.connect(self._push)
        self.set_project("")

    def _lay_out(self) -> None:
        link_row = QHBoxLayout()
        link_row.addWidget(QLabel("Folder", self))
        link_row.addWidget(self.folder_edit, 1)
        link_row.addWidget(self.browse)
        link_row.addWidget(self.link)
        self.link_box = QGroupBox("Linked folder", self)
        box = QVBoxLayout(self.link_box)
        box.addLayout(link_row)
        box.addWidget(self.link_message)
        layout = QVBoxLayout(self)
        layout.addWidget(self.link_box)
        layout.addWidget(self.tabs, 1)

    def _changes_tab(self) -> QWidget:
        tab = QWidget(self)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.rescan)
        push_row = QHBoxLayout()
        push_row.addWidget(QLabel("Message", tab))
        push_row.addWidget(self.push_message, 1)
        push_row.addWidget(self.push_button)
        layout = QVBoxLayout(tab)
        layout.addLayout(top)
        layout.addWidget(self.changes, 1)
        layout.addLayout(push_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.push_result)
        return tab

    @property
    def folder(self) -> Path | None:
        return self.settings.folder_for(self.server, self.project) if self.project else None

    def set_project(self, project: str) -> None:
        """Shows the folder linked to `project` (the window's selector decides which)."""
        self.project = project
        self.link_box.setTitle(f"Folder linked to {project}" if project else "Linked folder")
        for w in (self.folder_edit, self.browse, self.link):
            w.setEnabled(bool(project))
        folder = self.folder
        self.folder_edit.setText(str(folder) if folder else "")
        self.link_message.clear()
        self.push_result.clear()
        self.changes.set_rows([])
        self.summary.setText(
            "choose a project first" if not project else "" if folder else "link a folder to see its changes"
        )
        self._update_push()
        self.snapshots.set_project(project)
        if folder:
            self.refresh_changes()

    def _update_push(self) -> None:
        self.push_button.setEnabled(bool(self.folder) and not self.runner_busy_pushing())
        self.rescan.setEnabled(bool(self.folder))

    def runner_busy_pushing(self) -> bool:
        return any(label.startswith("push ") for label in self.runner.labels())

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Folder to link", self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)
            self._link()

    def _link(self) -> None:
        text = self.folder_edit.text().strip()
        folder = Path(text).expanduser() if text else None
        if not self.project or folder is None or not folder.is_dir():
            self.link_message.error(f"{text or 'nothing'} is not a folder; enter the path of a folder")
            return
        self.settings.link(self.server, self.project, folder)
        self.folder_edit.setText(str(self.folder))
        self.link_message.info(f"{self.folder} is linked to {self.project}")
        self._update_push()
        self.refresh_changes()

    def refresh_changes(self) -> None:
        """Scans the folder (off the GUI thread: hashing can take a while) against its last push."""
        folder, project, cache_dir = self.folder, self.project, self.settings.cache_dir
        if folder is None:
            return
        self.summary.setText(f"scanning {folder}…")
        self.runner.run(
            f"scan {folder}",
            lambda: local_changes(self.client, folder, project, cache_dir),
            lambda found: self._show_changes(project, found),
            lambda e: self.summary.setText(f"could not scan: {brief(e)}"),
        )

    def _show_changes(self, project: str, found: LocalChanges) -> None:
        if project != self.project or found.folder != self.folder:
            return  # the page moved on to another project meanwhile
        self.changes.set_rows(change_rows(found.diff))
        since = f"since snapshot {found.last.id[:12]}" if found.last else "nothing pushed from here yet"
        self.summary.setText(f"{change_summary(found.diff)} ({since})")

    def _push(self) -> None:
        folder, project, message = self.folder, self.project, self.push_message.text().strip()
        if folder is None:
            self.push_result.error(str(InvalidArgument("link a folder first")))
            return
        reporter = self.progress.reporter()
        self.push_result.clear()
        self.runner.run(
            f"push {folder.name} to {project}",
            lambda: push(self.client, folder, project, message, self.settings.cache_dir, reporter),
            lambda result: self._pushed(project, result),
            self._push_failed,
        )
        self._update_push()

    def _pushed(self, project: str, result: PushResult) -> None:
        snap = result.snapshot
        self.progress.complete("pushed")
        self.push_result.info(
            f"snapshot {snap.id[:12]} in {project}: {result.files} files, "
            f"{format_bytes(result.bytes_total)}, {format_bytes(result.bytes_uploaded)} uploaded"
        )
        self.push_message.clear()
        self._update_push()
        if project == self.project:
            self.refresh_changes()
            self.snapshots.refresh(select=snap.id)

    def _push_failed(self, error: Exception) -> None:
        self.progress.fail("push failed")
        self.push_result.error(brief(error))
        self._update_push()
