"""A project's snapshots: pick one to see its files and pull it into an empty folder, or pick two to see
what changed between them (the same diff `kiln diff` prints)."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.manifest import Entry
from kiln.core.models import Snapshot
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.files.folders import SnapshotDiff, diff_snapshots
from kiln.desktop.pages.files.pulling import PullBox
from kiln.desktop.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.rows import (
    CHANGE_HEADERS,
    ENTRY_HEADERS,
    SNAPSHOT_HEADERS,
    change_rows,
    change_summary,
    entry_rows,
    snapshot_rows,
)
from kiln.desktop.widgets.common import Table


class SnapshotsPanel(QWidget):
    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project = ""
        self.snapshots: dict[str, Snapshot] = {}
        self.table = Table(SNAPSHOT_HEADERS, multi=True, parent=self)
        self.summary = QLabel("", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.diff_button = QPushButton("Diff selected", self)
        self.contents = Table(ENTRY_HEADERS, parent=self)
        self.diff = Table(CHANGE_HEADERS, parent=self)
        self.diff_title = QLabel("select two snapshots and press Diff selected", self)
        self.details = QTabWidget(self)
        self.details.addTab(self.contents, "Contents")
        self.details.addTab(self._diff_tab(), "Diff")
        self.puller = PullBox(client, runner, self)
        # the pull row's parts, named as the page's own (tests and screenshots reach them so)
        self.dest, self.pull_button = self.puller.dest, self.puller.pull_button
        self.progress, self.message = self.puller.progress, self.puller.message
        self._lay_out()
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.diff_button.clicked.connect(self._diff)
        self.table.selection_changed.connect(self._picked)
        self._picked()

    def _diff_tab(self) -> QWidget:
        tab = QWidget(self)
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.diff_title)
        layout.addWidget(self.diff, 1)
        return tab

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.diff_button)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.table)
        split.addWidget(self.details)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.puller)

    def set_project(self, project: str) -> None:
        self.project = project
        self.snapshots = {}
        self.table.set_rows([])
        self.contents.set_rows([])
        self.diff.set_rows([])
        self.message.clear()
        self.summary.setText("" if project else "choose a project first")
        if project:
            self.refresh()

    def refresh(self, select: str | None = None) -> None:
        project = self.project
        if not project:
            return
        keep = select or self.table.selected_key()
        self.runner.run(
            f"list snapshots of {project}",
            lambda: self.client.list_snapshots(project),
            lambda found: self._loaded(project, found, keep),
            lambda e: self.summary.setText(f"could not list snapshots: {brief(e)}"),
        )

    def _loaded(self, project: str, found: list[Snapshot], keep: str | None) -> None:
        if project != self.project:
            return
        self.snapshots = {s.id: s for s in found}
        self.table.set_rows(snapshot_rows(found), keep=keep)
        n = len(found)
        self.summary.setText(f"{n} snapshot{'s' if n != 1 else ''}" if n else "no snapshots yet: push one")

    def _picked(self) -> None:
        picked = self.table.selected_keys()
        self.diff_button.setEnabled(len(picked) == 2)
        self.puller.set_target(picked[0] if len(picked) == 1 else "", self.project)
        if len(picked) == 1:
            self._show_contents(picked[0])

    def _show_contents(self, snapshot_id: str) -> None:
        project = self.project
        self.runner.run(
            f"read snapshot {snapshot_id[:12]}",
            lambda: self.client.get_snapshot(snapshot_id, project)[1],
            lambda entries: self._contents(snapshot_id, entries),
        )

    def _contents(self, snapshot_id: str, entries: list[Entry]) -> None:
        if self.table.selected_keys() == [snapshot_id]:
            self.contents.set_rows(entry_rows(entries))
            self.details.setCurrentIndex(0)

    def _diff(self) -> None:
        picked, project = self.table.selected_keys(), self.project
        if len(picked) != 2:
            return
        self.diff_title.setText("comparing…")
        self.runner.run(
            "diff snapshots",
            lambda: diff_snapshots(self.client, project, picked[0], picked[1]),
            self._diffed,
            lambda e: self.diff_title.setText(f"could not compare: {brief(e)}"),
        )

    def _diffed(self, result: SnapshotDiff) -> None:
        self.diff.set_rows(change_rows(result.diff))
        self.diff_title.setText(f"{result.old.id[:12]} → {result.new.id[:12]}: {change_summary(result.diff)}")
        self.details.setCurrentIndex(1)
