"""The compare view: runs side by side."""

from __future__ import annotations

from kiln.core.clock import now
from kiln.core.runs import Run
from kiln.desktop.pages.compare.rows import compare_headers, compare_rows, differing
from kiln.desktop.qt import QDialog, QLabel, QVBoxLayout, QWidget
from kiln.desktop.widgets.common import Table


class CompareDialog(QDialog):
    """Runs side by side, one column each; fields whose values differ are highlighted."""

    def __init__(self, runs: list[Run], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {len(runs)} runs")
        self.runs = runs
        rows = compare_rows(runs, now())
        self.table = Table(compare_headers(runs), parent=self)
        self.table.set_rows(rows)
        differ = differing(rows)
        self.summary = QLabel(
            f"{len(differ)} field{'s' if len(differ) != 1 else ''} differ: {', '.join(differ)}"
            if differ
            else "no differences",
            self,
        )
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.resize(300 + 220 * len(runs), 700)
