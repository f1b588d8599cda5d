"""One project at a glance (the Projects page's Overview tab), from the coordinator's summary
(kiln/core/overview.py): its runs by state as coloured chips, when anything last happened in it, its best
run by a metric (chosen here, or the one most runs logged) with a button to open it, the storage it
holds, and its members, with a button to the member editor.

The words are decided by plain functions (`state_chips`, `best_text`, `storage_text`, …), so what the tab
says is tested without a widget; `now` is passed in, as everywhere times are compared with it."""

from __future__ import annotations

import html
import time

from kiln.client import Client
from kiln.core.models import Project, RunKeys
from kiln.core.overview import BestRun, ProjectSummary
from kiln.core.permissions import Role
from kiln.core.units import format_bytes
from kiln.desktop import times
from kiln.desktop.ops import Runner, brief
from kiln.desktop.pages.run.recordrows import number
from kiln.desktop.pages.runs.chips import chip_colours
from kiln.desktop.qt import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    Qt,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import ordered_states
from kiln.desktop.widgets.common import Message

AUTO_METRIC = "the metric most runs logged"
DIRECTION_CHOICES = {"as its name says": "", "higher is better": "max", "lower is better": "min"}
DIRECTION_WORDS = {"max": "higher is better", "min": "lower is better"}


def state_chips(summary: ProjectSummary) -> list[tuple[str, str, str]]:
    """(state, "3 succeeded", fill colour) for each state the project's runs are in, in run order."""
    return [(state, f"{n} {state}", chip_colours(state)[0]) for state, n in ordered_states(summary.runs_by_state)]


def activity_text(summary: ProjectSummary, now: float) -> tuple[str, str]:
    """(relative, exact) of the latest activity; ("nothing yet", "") for a project where nothing happened."""
    if not summary.last_activity:
        return "nothing yet", ""
    return times.ago(summary.last_activity, now), times.exact(summary.last_activity)


def best_text(best: BestRun | None) -> str:
    """ "baseline (r-1a2b3c) — auc 0.93, higher is better", or the latest succeeded run, said as such."""
    if best is None:
        return "no run has succeeded yet"
    who = f"{best.name} ({best.run_id})" if best.name else best.run_id
    if not best.metric:
        return f"{who} — the latest succeeded run (no metric tells which run is best)"
    value = number(best.value) if best.value is not None else "—"
    return f"{who} — {best.metric} {value}, {DIRECTION_WORDS.get(best.direction, best.direction)}"


def storage_text(summary: ProjectSummary) -> str:
    n = summary.storage_blobs
    return (
        f"{format_bytes(summary.storage_bytes)} in {n:,} distinct file content{'s' if n != 1 else ''} "
        "(pushed snapshots, dataset versions and run outputs; each content counted once)"
    )


def members_text(project: Project | None, count: int) -> str:
    """ "3 members — owner admin; editor bob; viewer carol" (the count alone without the project's list)."""
    head = f"{count} member{'s' if count != 1 else ''}"
    if project is None or not project.members:
        return head
    by_role: dict[Role, list[str]] = {}
    for user, role in sorted(project.members.items()):
        by_role.setdefault(role, []).append(user)
    words = "; ".join(f"{role} {', '.join(users)}" for role, users in sorted(by_role.items(), reverse=True))
    return f"{head} — {words}"


class ProjectOverview(QWidget):
    """The selected project's summary, read again whenever it is shown for a project or the metric the
    best run is chosen by changes. Emits `run_wanted(run id)` (Open run) and `members_wanted()`."""

    run_wanted = Signal(str)
    members_wanted = Signal()

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.project: Project | None = None
        self.summary: ProjectSummary | None = None
        self.heading = QLabel("", self)
        self.message = Message(self)
        self.chips = QHBoxLayout()
        self.chip_labels: dict[str, QLabel] = {}
        self.activity = QLabel("", self)
        self.best = QLabel("", self)
        self.best.setWordWrap(True)
        self.metric_box = QComboBox(self)
        self.metric_box.addItem(AUTO_METRIC, "")
        self.direction_box = QComboBox(self)
        for words, value in DIRECTION_CHOICES.items():
            self.direction_box.addItem(words, value)
        self.open_best = QPushButton("Open run", self)
        self.storage = QLabel("", self)
        self.storage.setWordWrap(True)
        self.members = QLabel("", self)
        self.members.setWordWrap(True)
        self.edit_members = QPushButton("Members…", self)
        self._lay_out()
        self.metric_box.activated.connect(lambda _: self.refresh())
        self.direction_box.activated.connect(lambda _: self.refresh())
        self.open_best.clicked.connect(self._open_best)
        self.edit_members.clicked.connect(self.members_wanted.emit)
        self.show_project(None)

    def _lay_out(self) -> None:
        chips_row = QWidget(self)
        chips_row.setLayout(self.chips)
        self.chips.setContentsMargins(0, 0, 0, 0)
        self.chips.addStretch(1)
        best_by = QHBoxLayout()
        best_by.addWidget(QLabel("best by", self))
        best_by.addWidget(self.metric_box, 1)
        best_by.addWidget(self.direction_box)
        best_row = QHBoxLayout()
        best_row.addWidget(self.best, 1)
        best_row.addWidget(self.open_best)
        members_row = QHBoxLayout()
        members_row.addWidget(self.members, 1)
        members_row.addWidget(self.edit_members)
        form = QFormLayout()
        form.addRow("Runs", chips_row)
        form.addRow("Last activity", self.activity)
        form.addRow("Best run", best_row)
        form.addRow("", best_by)
        form.addRow("Storage", self.storage)
        form.addRow("Members", members_row)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addStretch(1)

    def show_project(self, project: Project | None) -> None:
        changed = project is None or self.project is None or project.name != self.project.name
        self.project = project
        if project is None:
            self.heading.setText("Choose a project to see how its runs went.")
            self._show(None)
            return
        description = f" — {html.escape(project.description)}" if project.description else ""
        self.heading.setText(f"<b>{html.escape(project.name)}</b>{description}")
        if changed:
            self.metric_box.setCurrentIndex(0)
            self._load_metrics(project.name)
        self.refresh()

    def refresh(self) -> None:
        if self.project is None:
            return
        name = self.project.name
        metric, direction = self.metric_box.currentData() or "", self.direction_box.currentData() or ""
        self.message.info(f"reading the summary of {name}…")
        self.runner.run(
            f"summarise project {name}",
            lambda: self.client.project_summary(name, metric, direction),
            lambda found: self._show(found) if self.project and found.project == self.project.name else None,
            lambda e: self.message.error(f"could not read the summary of {name}: {brief(e)}"),
        )

    def _load_metrics(self, name: str) -> None:
        """The metric keys the project's runs logged, to choose the best run by."""

        def show(keys: RunKeys) -> None:
            if self.project is None or self.project.name != name:
                return
            chosen = self.metric_box.currentData()
            self.metric_box.clear()
            self.metric_box.addItem(AUTO_METRIC, "")
            for key in keys.metrics:
                self.metric_box.addItem(key, key)
            self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(chosen)))

        self.runner.run(f"list the metrics of {name}", lambda: self.client.run_keys(name), show, lambda _: None)

    def _show(self, summary: ProjectSummary | None, now: float | None = None) -> None:
        self.summary = summary
        for label in self.chip_labels.values():
            label.deleteLater()
        self.chip_labels = {}
        if summary is None:
            for label in (self.activity, self.best, self.storage, self.members):
                label.setText("")
            self.open_best.setEnabled(False)
            return
        self.message.clear()
        now = time.time() if now is None else now
        for state, text, fill in state_chips(summary) or [("", "no runs yet", "#eeeeee")]:
            chip = QLabel(text, self)
            chip.setStyleSheet(f"background: {fill}; border-radius: 8px; padding: 2px 8px;")
            self.chips.insertWidget(len(self.chip_labels), chip)
            self.chip_labels[state] = chip
        relative, exact = activity_text(summary, now)
        self.activity.setText(relative)
        self.activity.setToolTip(exact)
        self.best.setText(best_text(summary.best))
        self.best.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_best.setEnabled(summary.best is not None)
        self.storage.setText(storage_text(summary))
        self.members.setText(members_text(self.project, summary.members))

    def _open_best(self) -> None:
        if self.summary is not None and self.summary.best is not None:
            self.run_wanted.emit(self.summary.best.run_id)
