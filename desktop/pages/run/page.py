"""The run page: a run's logs as they are written, its metric charts, parameters and tags, artifacts and
models, inputs (each opening its lineage), the environment it ran in, its activity (state history and
comments), what it asked for, its output snapshot (to pull), and Cancel / Re-run / Lineage.

The page follows the logs on a thread of its own (kiln.desktop.pages.run.logview) and polls the run's
record while it is going; both stop when the page closes, however it is closed. It has no default button:
Return pressed anywhere in it presses nothing, and Cancel run asks first, naming the run and its state."""

from __future__ import annotations

from collections.abc import Callable

from kiln.client import Client
from kiln.core.clock import now
from kiln.core.manifest import Entry
from kiln.core.runs import Run
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.environments.views import EnvironmentBar
from kiln.desktop.pages.files.pulling import PullBox
from kiln.desktop.pages.run.logview import LogView
from kiln.desktop.pages.run.record import RecordTabs, titled
from kiln.desktop.pages.runs.chips import chip_colours
from kiln.desktop.pages.runs.rows import (
    ENV_FIELDS,
    FIELD_HEADERS,
    SPEC_FIELDS,
    duration_s,
    event_headers,
    event_rows,
    field_rows,
    format_duration,
    outcome_fields,
    state_text,
)
from kiln.desktop.qt import (
    QCloseEvent,
    QDialog,
    QHBoxLayout,
    QHideEvent,
    QLabel,
    QMessageBox,
    QPushButton,
    QShowEvent,
    Qt,
    QTabWidget,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.rows import ENTRY_HEADERS, entry_rows
from kiln.desktop.widgets.comments import CommentsPanel
from kiln.desktop.widgets.common import Message, Table
from kiln.desktop.widgets.confirm import confirm, no_default_buttons

POLL_MS = 1000  # the run's record, while it is going; the logs themselves stream without polling


class RunDialog(QDialog):
    """One run; emits `rerun(Run)` with the new run when Re-run submitted the same spec again, and
    `open_entity(id)` to see an entity's lineage (the run's own, or one of its inputs)."""

    rerun = Signal(object)
    open_entity = Signal(str)

    def __init__(
        self,
        client: Client,
        runner: Runner,
        connect: Callable[[], Client],
        run: Run,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.run = client, runner, run
        self.setWindowTitle(f"Run {run.id}")
        self.output_shown = ""
        self.logs_complete = False
        self.cancel_box: QMessageBox | None = None  # the question Cancel run asks, while it is asked
        self.log_view = LogView(client, runner, connect, run.id, self)
        self.logs = self.log_view.text
        self.follower = self.log_view.follower
        self.log_view.ended.connect(self._logs_ended)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.refresh)
        self._refresh_op = Op(f"read run {run.id}", lambda: self.client.get_run(self.run.id), self._show)
        self._show(run)
        self.resize(900, 640)
        no_default_buttons(self)  # Return in the log, the find bar or anywhere else presses nothing

    def _build(self) -> None:
        self.title = QLabel("", self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state_label = QLabel("", self)
        self.cancel_button = QPushButton("Cancel run", self)
        self.rerun_button = QPushButton("Re-run", self)
        self.lineage_button = QPushButton("Lineage", self)
        self.message = Message(self)
        self.parameters = Table(FIELD_HEADERS, parent=self)
        self.history = Table(event_headers(), parent=self)
        self.environment = Table(FIELD_HEADERS, parent=self)
        self.outcome = Table(FIELD_HEADERS, parent=self)
        self.environment_bar = EnvironmentBar(self.client, self.runner, self)
        self.output_label = QLabel("", self)
        self.output_files = Table(ENTRY_HEADERS, parent=self)
        self.puller = PullBox(self.client, self.runner, self)
        self.record = RecordTabs(self.client, self.runner, self.run.id, self)
        self.record.open_entity.connect(self.open_entity)
        self.record.loaded.connect(lambda: self.environment_bar.show_run(self.run, self.record.record))
        self.comments = CommentsPanel(self.client, self.runner, self)
        self.comments.set_entity(f"run:{self.run.id}")
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.log_view, "Logs")
        self.tabs.addTab(self.record.metrics_tab(self), "Metrics")
        self.tabs.addTab(self.record.params_tab(self), "Parameters && tags")
        self.tabs.addTab(self.record.artifacts_tab(self, self._output_tab()), "Artifacts && models")
        self.tabs.addTab(self.record.inputs_tab(self), "Inputs")
        self.tabs.addTab(self._environment_tab(), "Environment")
        self.tabs.addTab(titled(self, ("State history", self.history), ("", self.comments)), "Activity")
        self.tabs.addTab(self.parameters, "Run spec")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.state_label)
        for button in (self.lineage_button, self.cancel_button, self.rerun_button):
            top.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)
        self.cancel_button.clicked.connect(self._cancel)
        self.rerun_button.clicked.connect(self._rerun)
        self.lineage_button.clicked.connect(lambda: self.open_entity.emit(f"run:{self.run.id}"))

    def _output_tab(self) -> QWidget:
        tab = QWidget(self)
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.output_label)
        layout.addWidget(self.output_files, 1)
        layout.addWidget(self.puller)
        return tab

    def _environment_tab(self) -> QWidget:
        """The environment version it ran in (kiln.desktop.pages.environments.views) over what the
        coordinator knows (placement, outcome) beside what the agent recorded in the run."""
        tab = QWidget(self)
        column = QVBoxLayout(tab)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.environment_bar)
        layout = QHBoxLayout()
        column.addLayout(layout, 1)
        layout.addWidget(titled(tab, ("Where and how it ran", self.environment), ("Outcome", self.outcome)))
        recorded = titled(tab, ("Recorded by the agent", self.record.recorded), ("Packages", self.record.packages))
        layout.addWidget(recorded)
        return tab

    # -- the run's record -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reads the run again, unless a read is still on its way (a slow coordinator gets no pile-up)."""
        if not self.runner.running(self._refresh_op):
            self.runner.start(self._refresh_op)

    def _show(self, run: Run) -> None:
        changed = run.state != self.run.state
        self.run = run
        self.title.setText(f"<b>{run.id}</b> in {run.spec.project} by {run.user}")
        self.state_label.setText(state_text(run))
        ink = chip_colours(str(run.state))[1]  # the state's colour in the Runs table's chips
        self.state_label.setStyleSheet(f"font-weight: bold; color: {ink};")
        self.cancel_button.setEnabled(not run.state.terminal and not run.cancel_requested)
        self.parameters.update_rows(field_rows(run, SPEC_FIELDS))
        self.history.update_rows(event_rows(run))
        self.environment.update_rows(field_rows(run, ENV_FIELDS))
        self.outcome.update_rows(field_rows(run, outcome_fields(now())))
        self.environment_bar.show_run(run, self.record.record)
        self._show_output(run)
        if self.isVisible() and (changed or not run.state.terminal):
            self.record.refresh()  # metrics grow while it runs; the last read follows its end
        if run.state.terminal:
            self.timer.stop()
            if not self.logs_complete and not self.follower.running and self.isVisible():
                self.log_view.start()  # the stream broke earlier: read what is left, then it ends
        elif self.isVisible() and not self.timer.isActive():
            self.timer.start()

    def _show_output(self, run: Run) -> None:
        snap = run.output_snapshot
        if not snap:
            going = "when the run ends" if not run.state.terminal else "none: the run produced no snapshot"
            self.output_label.setText(f"Output snapshot: {going}")
            return
        self.puller.set_target(snap, run.spec.project)
        if snap == self.output_shown:
            return
        self.output_shown = snap
        self.output_label.setText(f"Output snapshot {snap[:12]} (the run's folder as it ended)")
        self.runner.run(
            f"read snapshot {snap[:12]}",
            lambda: self.client.get_snapshot(snap, run.spec.project)[1],
            self._output_loaded,
        )

    def _output_loaded(self, entries: list[Entry]) -> None:
        self.output_files.set_rows(entry_rows(entries))

    # -- logs -----------------------------------------------------------------------------------------

    def _logs_ended(self, problem: str) -> None:
        if problem:
            self.message.warning(f"logs interrupted: {problem}; they resume when the run is read again")
        else:
            self.logs_complete = True
        self.refresh()

    # -- actions --------------------------------------------------------------------------------------

    def _cancel(self) -> None:
        """Asks first, naming the run and its state; only "Yes, cancel run" cancels it."""
        if self.cancel_box is not None:  # asked already: the question is brought back, not asked twice
            self.cancel_box.raise_()
            return
        run = self.run
        self.cancel_box = confirm(
            self, "Cancel run", cancel_question(run, now()), "Yes, cancel run", lambda: self._cancel_confirmed(run.id)
        )
        self.cancel_box.finished.connect(self._cancel_asked)

    def _cancel_asked(self) -> None:
        self.cancel_box = None

    def _cancel_confirmed(self, run_id: str) -> None:
        self.cancel_button.setEnabled(False)
        self.message.info(f"cancelling {run_id}…")
        self.runner.run(f"cancel {run_id}", lambda: self.client.cancel_run(run_id), self._show, self._failed)

    def _rerun(self) -> None:
        spec = self.run.spec
        self.message.info("submitting the same run again…")
        self.runner.run(f"re-run {self.run.id}", lambda: self.client.submit_run(spec), self._resubmitted, self._failed)

    def _resubmitted(self, run: Run) -> None:
        self.message.info(f"re-run as {run.id} (same snapshot, same spec)")
        self.rerun.emit(run)

    def _failed(self, error: Exception) -> None:
        self.message.error(brief(error))
        self.cancel_button.setEnabled(not self.run.state.terminal)

    # -- closing, however it happens ------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stops following and polling: a closed page leaves nothing running behind it."""
        self.timer.stop()
        self.log_view.stop()

    def showEvent(self, event: QShowEvent) -> None:
        """Following starts when the page is seen (and resumes where it stopped if it is seen again)."""
        super().showEvent(event)
        self.log_view.start()
        if not self.run.state.terminal:
            self.timer.start()
        self.refresh()  # a listed run comes without its state history: the run's own record has it
        self.record.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        self.shutdown()
        super().hideEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def cancel_question(run: Run, at: float) -> str:
    """What Cancel run asks: the run, where it is and for how long, and what cancelling does."""
    state = str(run.state)
    if state == "queued":
        where = f"queued for {format_duration(max(0.0, at - run.created_at))}"
        then = "It leaves the queue and never starts."
    else:
        where = f"{state} on {run.node}" if run.node else state
        if run.started_at:
            where += f" for {format_duration(duration_s(run, at))}"
        then = "The job is stopped; its logs and outputs so far are kept."
    return f"Cancel run {run.id} ({where})?\n\n{then}"
