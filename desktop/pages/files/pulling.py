"""Pulling a snapshot into an empty folder, with progress: one widget for the Files page's snapshots and the
run page's output, so both refuse the same things in the same words and restore with the same code."""

from __future__ import annotations

from kiln.client import Client
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.files.folders import check_empty_folder
from kiln.desktop.qt import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message
from kiln.desktop.widgets.progress import ProgressView
from kiln.sync.pull import pull


class PullBox(QWidget):
    """A destination, Browse…, Pull, a progress bar and a message; `pulled(str)` names the folder."""

    pulled = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.snapshot_id, self.project = "", ""
        self.dest = QLineEdit(self, placeholderText="an empty folder to restore the snapshot into")
        self.browse = QPushButton("Browse…", self)
        self.pull_button = QPushButton("Pull", self)
        self.progress = ProgressView(self)
        self.message = Message(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Pull into", self))
        row.addWidget(self.dest, 1)
        row.addWidget(self.browse)
        row.addWidget(self.pull_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.browse.clicked.connect(self._browse)
        self.pull_button.clicked.connect(self._pull)
        self.set_target("", "")

    def set_target(self, snapshot_id: str, project: str) -> None:
        """The snapshot Pull restores ("" for none: the button is disabled)."""
        self.snapshot_id, self.project = snapshot_id, project
        self._update()

    def _update(self) -> None:
        pulling = any(label.startswith("pull ") for label in self.runner.labels())
        self.pull_button.setEnabled(bool(self.snapshot_id) and not pulling)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Empty folder to pull into", self.dest.text())
        if chosen:
            self.dest.setText(chosen)

    def _pull(self) -> None:
        snapshot_id, project, text = self.snapshot_id, self.project, self.dest.text()
        if not snapshot_id:
            return
        reporter = self.progress.reporter()
        self.message.clear()

        def work() -> str:
            dest = check_empty_folder(text)
            pull(self.client, snapshot_id, dest, project, reporter)
            return str(dest)

        self.pull_button.setEnabled(False)
        self.runner.run(f"pull {snapshot_id[:12]}", work, self._pulled, self._failed)

    def _pulled(self, dest: str) -> None:
        self.progress.complete("pulled")
        self.message.info(f"restored into {dest}")
        self._update()
        self.pulled.emit(dest)

    def _failed(self, error: Exception) -> None:
        self.progress.fail("pull failed")
        self.message.error(brief(error))
        self._update()
