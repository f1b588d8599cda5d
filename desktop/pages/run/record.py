"""The run page's tracking tabs: parameters and tags, metric charts, artifacts and models, inputs, and the
environment the agent recorded, all from one read of the run's record (`client.run_record`) and its
downsampled metric histories (`client.metrics`).

The read is one reused operation, as the page's own refresh: while a run goes on the page asks again on
each poll, and a read still on its way makes the next one wait rather than pile up. While the run goes on
a poll asks only for the metric points after those already held (charts.MetricsPanel.after_steps); once
it has ended the read is whole, so the final picture is exact whatever a poll missed."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.models import MetricSeries, RunRecord
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.run.artifacts import ArtifactsPanel
from kiln.desktop.pages.run.charts import MetricsPanel
from kiln.desktop.pages.run.inputs import inputs_tab
from kiln.desktop.pages.run.recordrows import (
    INPUT_HEADERS,
    METRIC_HEADERS,
    PACKAGE_HEADERS,
    PAIR_HEADERS,
    environment_rows,
    input_rows,
    metric_rows,
    package_rows,
    pair_rows,
)
from kiln.desktop.pages.runs.rows import FIELD_HEADERS
from kiln.desktop.qt import QLabel, QModelIndex, QObject, QVBoxLayout, QWidget, Signal
from kiln.desktop.widgets.common import Table

MAX_POINTS = 500  # per metric: plenty for a chart a few hundred pixels wide
SUMMARY_ROWS = 7  # the final values' table shows about six metrics before it scrolls


def titled(parent: QWidget, *parts: tuple[str, QWidget]) -> QWidget:
    """A column of (title, widget) sections, the widgets sharing the height."""
    tab = QWidget(parent)
    layout = QVBoxLayout(tab)
    for title, widget in parts:
        if title:
            layout.addWidget(QLabel(f"<b>{title}</b>", tab))
        layout.addWidget(widget, 1)
    return tab


class RecordTabs(QObject):
    """Owns the tracking tables and charts of one run page; emits `open_entity(id)` when an input is
    clicked (the window opens its lineage) and `loaded()` after every read."""

    open_entity = Signal(str)
    loaded = Signal()

    def __init__(self, client: Client, runner: Runner, run_id: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.client, self.runner, self.run_id = client, runner, run_id
        self.record: RunRecord | None = None
        self.params = Table(PAIR_HEADERS, parent=parent)
        self.tags = Table(PAIR_HEADERS, parent=parent)
        self.metrics = MetricsPanel(2 * MAX_POINTS, parent)
        self.values_title = QLabel("<b>Latest values</b>", parent)
        self._after: dict[str, int] = {}  # what the next read asks for, set on the GUI thread
        self.metric_summary = Table(METRIC_HEADERS, parent=parent)
        self.artifacts = ArtifactsPanel(client, runner, run_id, parent)
        self.inputs = Table(INPUT_HEADERS, parent=parent)
        self.inputs.setToolTip("click an input to see its lineage")
        self.recorded = Table(FIELD_HEADERS, parent=parent)
        self.packages = Table(PACKAGE_HEADERS, parent=parent)
        self.inputs.clicked.connect(self._input_clicked)
        self._read_op = Op(f"read the record of run {run_id}", self._read, self._show, self._failed)

    # -- the tabs, built by the run page in its own order ---------------------------------------------

    def params_tab(self, parent: QWidget) -> QWidget:
        return titled(parent, ("Parameters", self.params), ("Tags", self.tags))

    def metrics_tab(self, parent: QWidget) -> QWidget:
        """The charts take the height; the latest (or, once ended, final) values below are a few lines."""
        rows = self.metric_summary.verticalHeader().defaultSectionSize()
        self.metric_summary.setMaximumHeight(rows * SUMMARY_ROWS)
        tab = QWidget(parent)
        layout = QVBoxLayout(tab)
        layout.addWidget(self.metrics, 1)
        layout.addWidget(self.values_title)
        layout.addWidget(self.metric_summary)
        return tab

    def artifacts_tab(self, parent: QWidget, output: QWidget) -> QWidget:
        """Artifacts and models logged by the run (kiln.desktop.pages.run.artifacts), above the output."""
        return self.artifacts.with_output(parent, output)

    def inputs_tab(self, parent: QWidget) -> QWidget:
        return inputs_tab(parent, self.inputs)  # kiln.desktop.pages.run.inputs: the table at the top

    # -- reading --------------------------------------------------------------------------------------

    def refresh(self) -> None:
        if not self.runner.running(self._read_op):
            self._after = self.metrics.after_steps()
            self.runner.start(self._read_op)

    def _read(self) -> tuple[RunRecord, list[MetricSeries]]:
        record = self.client.run_record(self.run_id)
        after = {} if record.run.state.terminal else self._after  # an ended run's last read is whole
        return record, self.client.metrics(self.run_id, None, MAX_POINTS, after)

    def _show(self, answer: tuple[RunRecord, list[MetricSeries]]) -> None:
        record, series = answer
        self.record = record
        self.params.update_rows(pair_rows(record.params))
        self.tags.update_rows(pair_rows(record.tags))
        self.metrics.set_metrics(series)
        bests = {key: held.best() for key, held in self.metrics.history.keys.items()}
        self.metric_summary.update_rows(metric_rows(record.metrics, bests))
        ended = record.run.state.terminal
        self.values_title.setText(f"<b>{'Final values' if ended else 'Latest values (the run is going)'}</b>")
        self.artifacts.set_record(record)
        self.inputs.update_rows(input_rows(record.inputs))
        self.recorded.update_rows(environment_rows(record.environment))
        self.packages.update_rows(package_rows(record.environment))
        self.loaded.emit()

    def _failed(self, error: Exception) -> None:
        self.metrics.failed(f"could not read the run's record: {brief(error)}")

    def _input_clicked(self, index: QModelIndex) -> None:
        keys = self.inputs.row_keys()
        if 0 <= index.row() < len(keys):
            self.open_entity.emit(keys[index.row()])
