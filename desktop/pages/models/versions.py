"""The Models page's versions table: one row per version with its alias pills, source run, path, flavor,
size, dataset and one column per metric (chosen from the metrics the versions' runs logged; the first few
by default, remembered per model while the window is open), and the actions on the picked versions: Open
run (or double-click), Lineage, and Compare versions, which opens the compare view on their source runs.

Flavor, size and dataset come from the source runs' records and output manifests, read off the GUI
thread after the versions are shown and kept (they never change once a version exists)."""

from __future__ import annotations

from collections.abc import Sequence

from kiln.client import Client
from kiln.core.lineage import model_id
from kiln.core.models import ModelVersion
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.compare.page import CompareDialog
from kiln.desktop.pages.models.pills import PillDelegate
from kiln.desktop.pages.models.rows import (
    ALIAS_COLUMN,
    Extras,
    default_metrics,
    metric_keys,
    read_extras,
    version_headers,
    version_rows,
)
from kiln.desktop.qt import (
    QAction,
    QHBoxLayout,
    QLabel,
    QMenu,
    QModelIndex,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.widgets.common import Message, Table

ModelKey = tuple[str, str]  # project, name


class VersionsPanel(QWidget):
    """Emits `picked()` when the selection changes, `run_wanted(run id)` and `lineage_wanted(entity id)`."""

    picked = Signal()
    run_wanted = Signal(str)
    lineage_wanted = Signal(str)

    def __init__(self, client: Client, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client, self.runner = client, runner
        self.model: ModelKey | None = None
        self.versions: list[ModelVersion] = []
        self.extras = Extras()
        self.chosen: dict[ModelKey, list[str]] = {}  # metric columns picked by hand, per model
        self.compare_view: CompareDialog | None = None
        self._extras_op: Op | None = None  # one read at a time; the next refresh asks for what is left
        self.table = Table(version_headers([]), multi=True, parent=self, sortable=True)
        self.table.setItemDelegateForColumn(ALIAS_COLUMN, PillDelegate(self.table))
        self.table.setToolTip("Ctrl-click or Shift-click several versions to compare their runs")
        self.metrics_button = QToolButton(self)
        self.metrics_button.setText("Metric columns")
        self.metrics_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.metrics_menu = QMenu(self.metrics_button)
        self.metrics_button.setMenu(self.metrics_menu)
        self.compare = QPushButton("Compare versions", self)
        self.open_run = QPushButton("Open run", self)
        self.lineage = QPushButton("Lineage", self)
        self.message = Message(self)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<b>Versions</b>", self), 1)
        for widget in (self.metrics_button, self.compare, self.open_run, self.lineage):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.table.selection_changed.connect(self._picked)
        self.table.doubleClicked.connect(self._double_clicked)
        self.compare.clicked.connect(self.open_compare)
        self.open_run.clicked.connect(self._open_run)
        self.lineage.clicked.connect(self._open_lineage)
        self._picked()

    # -- what is shown --------------------------------------------------------------------------------

    def set_versions(self, model: ModelKey | None, versions: Sequence[ModelVersion]) -> None:
        """The versions of `model` (read again), then what is not known yet about their runs."""
        if model != self.model:
            self.message.clear()
        self.model, self.versions = model, list(versions)
        self._rebuild_menu()
        self._show()
        missing = self.extras.missing(self.versions)
        if missing and not (self._extras_op and self.runner.running(self._extras_op)):
            self._extras_op = self.runner.run(
                f"read the runs of {model[1] if model else 'the model'}'s versions",
                lambda: read_extras(self.client, missing),
                self._extras_read,
                lambda e: self.message.warning(f"flavor, size and dataset not shown: {brief(e)}"),
            )

    def _extras_read(self, found: Extras) -> None:
        self.extras.merge(found)
        self._show()
        if self.extras.missing(self.versions):  # versions registered while it read
            self.set_versions(self.model, self.versions)

    def shown_metrics(self) -> list[str]:
        """The metric columns shown: those picked for this model, else the first few by name."""
        keys = metric_keys(self.versions)
        picked = self.chosen.get(self.model) if self.model else None
        return [k for k in picked if k in keys] if picked is not None else default_metrics(self.versions)

    def set_metric_columns(self, keys: Sequence[str]) -> None:
        """Shows these metric columns for the model (what ticking them in the menu does)."""
        if self.model is not None:
            self.chosen[self.model] = list(keys)
        self._rebuild_menu()
        self._show()

    def _show(self) -> None:
        metrics = self.shown_metrics()
        headers = version_headers(metrics)
        rows = version_rows(self.versions, metrics, self.extras)
        if headers != self.table.rows_model.headers:
            keep = self.table.selected_keys()
            self.table.set_headers(headers)
            self.table.set_rows(rows)
            self.table.select_keys(keep)
        else:
            self.table.update_rows(rows)

    def _rebuild_menu(self) -> None:
        self.metrics_menu.clear()
        keys, shown = metric_keys(self.versions), set(self.shown_metrics())
        for key in keys:
            action = QAction(key, self.metrics_menu, checkable=True, checked=key in shown)
            action.toggled.connect(lambda on, k=key: self._toggled(k, on))
            self.metrics_menu.addAction(action)
        self.metrics_button.setEnabled(bool(keys))
        self.metrics_button.setToolTip("" if keys else "the versions' runs logged no metrics")

    def _toggled(self, key: str, on: bool) -> None:
        shown = [k for k in self.shown_metrics() if k != key]
        if on:
            shown.append(key)
        order = metric_keys(self.versions)
        self.chosen[self.model or ("", "")] = sorted(shown, key=order.index)
        self._show()

    # -- selection and actions ------------------------------------------------------------------------

    def selected_versions(self) -> list[ModelVersion]:
        by_number = {v.version: v for v in self.versions}
        return [by_number[k] for k in self.table.selected_keys() if k in by_number]

    def selected_version(self) -> ModelVersion | None:
        """The picked version, when exactly one is picked (what the alias form and comments act on)."""
        picked = self.selected_versions()
        return picked[0] if len(picked) == 1 else None

    def compare_run_ids(self) -> list[str]:
        """The source runs of the picked versions, newest version first, each run once."""
        return list(dict.fromkeys(v.run_id for v in self.selected_versions()))

    def _picked(self) -> None:
        one = self.selected_version() is not None
        self.open_run.setEnabled(one)
        self.lineage.setEnabled(one)
        runs = self.compare_run_ids()
        self.compare.setEnabled(len(runs) >= 2)
        several = len(self.selected_versions()) >= 2
        self.compare.setToolTip(
            "the picked versions come from one run: nothing to compare"
            if several and len(runs) < 2
            else "compare the runs that produced the picked versions"
            if several
            else "pick two or more versions (Ctrl-click) to compare their runs"
        )
        self.picked.emit()

    def open_compare(self) -> CompareDialog | None:
        run_ids = self.compare_run_ids()
        if len(run_ids) < 2:
            return None
        if self.compare_view is not None:
            self.compare_view.close()
            self.compare_view.deleteLater()
        self.compare_view = CompareDialog(self.client, self.runner, run_ids, self)
        self.compare_view.show()
        return self.compare_view

    def _double_clicked(self, index: QModelIndex) -> None:
        keys = self.table.row_keys()
        if 0 <= index.row() < len(keys):
            v = next((v for v in self.versions if v.version == keys[index.row()]), None)
            if v is not None:
                self.run_wanted.emit(v.run_id)

    def _open_run(self) -> None:
        v = self.selected_version()
        if v is not None:
            self.run_wanted.emit(v.run_id)

    def _open_lineage(self) -> None:
        v = self.selected_version()
        if v is not None:
            self.lineage_wanted.emit(model_id(v.project, v.name, v.version))

    def shutdown(self) -> None:
        if self.compare_view is not None:
            self.compare_view.close()
