"""The compare view's table page, section by section: who and when (the header), Parameters (only the
differing ones unless asked), Metrics (the best run of each row marked, the direction changeable per row),
the execution details (closed until opened) and Packages (only the differing ones unless asked). Each
section is a widget over the rows of `rows.py`."""

from __future__ import annotations

from kiln.core.metrics import Direction, better
from kiln.desktop.pages.compare.grid import Collapsible, GridTable
from kiln.desktop.pages.compare.rows import (
    DIRECTION_WORDS,
    Compared,
    best_run_ids,
    detail_rows,
    differing,
    header_rows,
    metric_rows,
    package_rows,
    package_summary,
    package_union,
    param_rows,
    param_summary,
    run_headers,
)
from kiln.desktop.qt import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget, Signal
from kiln.desktop.rows import Row

DIRECTIONS: tuple[Direction | None, ...] = ("max", "min", None)  # the order of each row's choice


def _title(text: str, parent: QWidget) -> QLabel:
    return QLabel(f"<b>{text}</b>", parent)


class HeaderSection(QWidget):
    """One column per run: its id and name as the column's title, then its state, user and start."""

    def __init__(self, compared: Compared, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = GridTable(run_headers("Run", compared.records), parent=self)
        self.table.show_rows(header_rows(compared.records))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)


class _KeyedSection(QWidget):
    """A table of one keyed fact per row (a param, a package), a run's value in each column ("—" where it
    lacks it): only the rows that differ unless unticked, and a line saying why the table is empty."""

    title = ""
    noun = ""  # what a row is, for "Every run has the same 3 parameters"
    header = ""
    none_said = ""  # the empty table's line when no run has any

    def __init__(self, compared: Compared, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compared = compared
        self.summary = QLabel(self.summary_text(), self)
        self.only_differences = QCheckBox("Only differences", self)
        self.only_differences.setChecked(True)
        self.table = GridTable(run_headers(self.header, compared.records), parent=self)
        self.empty = QLabel("", self)
        top = QHBoxLayout()
        top.addWidget(_title(self.title, self))
        top.addWidget(self.summary, 1)
        top.addWidget(self.only_differences)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.empty)
        self.only_differences.toggled.connect(self._show)
        self._show()

    def summary_text(self) -> str:
        raise NotImplementedError

    def rows(self) -> list[Row]:
        raise NotImplementedError

    def every(self) -> int:
        raise NotImplementedError

    def _show(self) -> None:
        rows = self.rows()
        self.table.show_rows(rows)
        self.table.setVisible(bool(rows))
        every = self.every()
        if rows:
            self.empty.clear()
        elif every:
            self.empty.setText(f"Every run has the same {every} {self.noun}{'s' if every != 1 else ''}: untick "
                               "Only differences to see them.")  # fmt: skip
        else:
            self.empty.setText(self.none_said)
        self.empty.setVisible(not rows)


class ParamsSection(_KeyedSection):
    """Every param any run logged (a run without it shows "—"); only those that differ unless unticked."""

    title, noun, header = "Parameters", "parameter", "Parameter"
    none_said = "None of these runs logged parameters (kiln.track.log_params)."

    def summary_text(self) -> str:
        return param_summary(self.compared.records)

    def rows(self) -> list[Row]:
        return param_rows(self.compared.records, self.only_differences.isChecked())

    def every(self) -> int:
        return len(param_rows(self.compared.records, False))


class PackagesSection(_KeyedSection):
    """The packages of each run's Python, as its agent recorded them ("—" where a run lacks one): only
    those whose versions differ unless unticked, so the few that changed stand out of hundreds."""

    title, noun, header = "Packages", "package", "Package"
    none_said = "None of these runs recorded its packages (the agent records them as a run starts)."

    def summary_text(self) -> str:
        return package_summary(self.compared.records)

    def rows(self) -> list[Row]:
        return package_rows(self.compared.records, self.only_differences.isChecked())

    def every(self) -> int:
        return len(package_union(self.compared.records))


class MetricsSection(QWidget):
    """Each metric's last value and range per run, the best last value marked. Which way is better is
    guessed from the name (loss, error: lower; acc, auc, f1: higher) and can be changed per row."""

    directions_changed = Signal()

    def __init__(self, compared: Compared, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.compared = compared
        self.comparisons = compared.metrics()
        self.directions: dict[str, Direction | None] = {c.key: better(c.key) for c in self.comparisons}
        self.table = GridTable(("Metric", "Better", *run_headers("", compared.records)[1:]), 2, self)
        self.empty = QLabel("None of these runs logged metrics (kiln.track.log_metric).", self)
        self.combos: dict[str, QComboBox] = {}
        top = QHBoxLayout()
        top.addWidget(_title("Metrics", self))
        top.addWidget(QLabel("last value (lowest – highest); ★ the best last value of each row", self), 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.empty)
        self._show()
        self._add_combos()
        self.table.setVisible(bool(self.comparisons))
        self.empty.setVisible(not self.comparisons)

    def rows(self) -> list[Row]:
        return list(metric_rows(self.comparisons, self.directions))

    def best(self) -> dict[str, list[str]]:
        """metric key -> the ids of the runs marked best on it."""
        return best_run_ids(self.compared, self.directions)

    def set_direction(self, key: str, direction: Direction | None) -> None:
        """As choosing it in the row's Better box does."""
        self.combos[key].setCurrentIndex(DIRECTIONS.index(direction))

    def _add_combos(self) -> None:
        width = 0
        for row, comparison in enumerate(self.comparisons):
            combo = QComboBox(self.table)
            combo.addItems([DIRECTION_WORDS[d] for d in DIRECTIONS])
            combo.setCurrentIndex(DIRECTIONS.index(self.directions[comparison.key]))
            combo.setToolTip(f"which way {comparison.key} gets better: the best run of the row is marked ★")
            combo.currentIndexChanged.connect(lambda i, key=comparison.key: self._chosen(key, DIRECTIONS[i]))
            self.table.setIndexWidget(self.table.rows_model.index(row, 1), combo)
            self.combos[comparison.key] = combo
            width = max(width, combo.sizeHint().width())
        if width:
            self.table.setColumnWidth(1, width)
            self.table.fit_height()

    def _chosen(self, key: str, direction: Direction | None) -> None:
        if self.directions.get(key) != direction:
            self.directions[key] = direction
            self._show()
            self.directions_changed.emit()

    def _show(self) -> None:
        self.table.show_rows(self.rows())


class DetailsSection(Collapsible):
    """How each run was executed (duration, times, command, snapshots, image, environment, node), closed
    until opened; the rows that differ are highlighted and counted in the title."""

    def __init__(self, compared: Compared, now: float, parent: QWidget | None = None) -> None:
        table = GridTable(run_headers("Execution", compared.records))
        detail = detail_rows(compared.records, now)
        table.show_rows(detail)
        differ = len(differing(detail))
        super().__init__(f"Execution details ({differ} of {len(detail)} differ)", table, parent)
        self.table, self.detail = table, detail

    def rows(self) -> list[Row]:
        return list(self.detail)
