"""The compare view: two or more runs as an experiment comparison. The Comparison tab has one column per
run: who and when, the parameters (only those that differ, unless asked), the metrics (last, lowest and
highest, the best run of each row marked), the execution details (closed until opened) and the packages
(only those whose versions differ, unless asked); Overlay has a chart per metric with a line per run;
three or more runs also get Parallel coordinates.

Opened with run ids (from the Runs page, or the Models page's "Compare versions"); the runs' records and
metric histories are read off the GUI thread, "loading…" shown meanwhile, and a failed read says which
run and why, with a button to try again."""

from __future__ import annotations

from kiln.client import Client
from kiln.core.clock import now
from kiln.core.errors import KilnError
from kiln.core.models import MetricSeries, RunRecord
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.compare.export import Section, as_csv, as_markdown
from kiln.desktop.pages.compare.overlay import OverlayTab
from kiln.desktop.pages.compare.parallel import ParallelTab
from kiln.desktop.pages.compare.rows import Compared, run_headers
from kiln.desktop.pages.compare.sections import (
    DetailsSection,
    HeaderSection,
    MetricsSection,
    PackagesSection,
    ParamsSection,
)
from kiln.desktop.qt import (
    QDialog,
    QGuiApplication,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from kiln.desktop.widgets.common import Message

MAX_POINTS = 500  # per metric and run: plenty for an overlay chart a few hundred pixels wide
PARALLEL_FROM = 3  # runs; two runs side by side say all a parallel-coordinates view would


def read_compared(client: Client, run_ids: list[str]) -> Compared:
    """Every run's record and metric histories; an error says which run it was about."""
    records: list[RunRecord] = []
    series: list[dict[str, MetricSeries]] = []
    for run_id in run_ids:
        try:
            records.append(client.run_record(run_id))
            series.append({m.key: m for m in client.metrics(run_id, None, MAX_POINTS)})
        except KilnError as e:
            raise type(e)(f"run {run_id}: {e}") from e
    return Compared(tuple(records), tuple(series))


class CompareDialog(QDialog):
    """Runs side by side; `compared` holds what was read once the sections are shown."""

    def __init__(self, client: Client, runner: Runner, run_ids: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.run_ids = list(dict.fromkeys(run_ids))  # each run once, in the order given
        self.setWindowTitle(f"Compare {len(self.run_ids)} runs")
        self.compared: Compared | None = None
        self.header: HeaderSection | None = None
        self.params: ParamsSection | None = None
        self.metrics: MetricsSection | None = None
        self.details: DetailsSection | None = None
        self.packages: PackagesSection | None = None
        self.overlay: OverlayTab | None = None
        self.parallel: ParallelTab | None = None
        self.status = Message(self)
        self.retry = QPushButton("Try again", self)
        self.tabs = QTabWidget(self)
        self.copy_csv = QPushButton("Copy as CSV", self)
        self.copy_markdown = QPushButton("Copy as Markdown", self)
        self._lay_out()
        self.retry.clicked.connect(self.load)
        self.copy_csv.clicked.connect(lambda: self._copy("CSV", as_csv(self.sections())))
        self.copy_markdown.clicked.connect(lambda: self._copy("Markdown", as_markdown(self.sections())))
        self._read_op = Op(f"compare runs {', '.join(self.run_ids)}", self._read, self._show, self._failed)
        self.resize(min(1600, 520 + 230 * len(self.run_ids)), 780)
        self.load()

    def _lay_out(self) -> None:
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 10)
        bottom.addStretch(1)
        bottom.addWidget(self.retry)
        bottom.addWidget(self.copy_csv)
        bottom.addWidget(self.copy_markdown)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        for widget in (self.tabs, self.retry, self.copy_csv, self.copy_markdown):
            widget.hide()

    def load(self) -> None:
        if len(self.run_ids) < 2:
            self.status.error("Choose two or more runs to compare.")
            return
        if self.runner.running(self._read_op):
            return
        self.retry.hide()
        self.status.info(f"loading {len(self.run_ids)} runs…")
        self.runner.start(self._read_op)

    def _read(self) -> Compared:
        return read_compared(self.client, self.run_ids)

    def _failed(self, error: Exception) -> None:
        if self._gone():
            return
        self.status.error(f"Could not compare the runs: {brief(error)}. Check the runs still exist, then try again.")
        self.retry.show()

    def _gone(self) -> bool:
        """Whether this dialog was deleted while its read was on the way (a newer Compare replaced it)."""
        try:
            self.isVisible()
        except RuntimeError:
            return True
        return False

    def _show(self, compared: Compared) -> None:
        if self._gone():
            return
        self.compared = compared
        self.status.clear()
        self.tabs.addTab(self._comparison_tab(compared), "Comparison")
        self.overlay = OverlayTab(compared, self.tabs)
        self.tabs.addTab(self.overlay, "Overlay")
        if len(compared.records) >= PARALLEL_FROM:
            self.parallel = ParallelTab(compared, self.tabs)
            self.tabs.addTab(self.parallel, "Parallel coordinates")
        for widget in (self.tabs, self.copy_csv, self.copy_markdown):
            widget.show()

    def _comparison_tab(self, compared: Compared) -> QWidget:
        body = QWidget()
        self.header = HeaderSection(compared, body)
        self.params = ParamsSection(compared, body)
        self.metrics = MetricsSection(compared, body)
        self.details = DetailsSection(compared, now(), body)
        self.packages = PackagesSection(compared, body)
        layout = QVBoxLayout(body)
        for section in (self.header, self.params, self.metrics, self.details, self.packages):
            layout.addWidget(section)
        layout.addStretch(1)
        scroll = QScrollArea(self.tabs)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        return scroll

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def sections(self) -> list[Section]:
        """What the Comparison tab shows, section by section (for copying)."""
        if not (self.compared and self.header and self.params and self.metrics and self.details and self.packages):
            return []
        records = self.compared.records
        return [
            ("Runs", run_headers("Run", records), self.header.table.rows_model.rows),
            ("Parameters", run_headers("Parameter", records), self.params.rows()),
            ("Metrics", ("Metric", "Better", *run_headers("", records)[1:]), self.metrics.rows()),
            ("Execution details", run_headers("Execution", records), self.details.rows()),
            ("Packages", run_headers("Package", records), self.packages.rows()),
        ]

    def _copy(self, kind: str, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.status.info(f"Copied the comparison as {kind}.")
