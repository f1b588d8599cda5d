"""The run page's Inputs tab: what the run read (its code snapshot, the dataset versions it was given or
logged), as the coordinator recorded it. The table is the tab: it starts at the top, under one line saying
what it lists, and takes all the height there is; a click on a row opens that input's lineage."""

from __future__ import annotations

from kiln.desktop.qt import QLabel, QVBoxLayout, QWidget
from kiln.desktop.widgets.common import Table

NOTE = "What the run read, as the coordinator recorded it; click one to see its lineage."


def inputs_tab(parent: QWidget, table: Table) -> QWidget:
    tab = QWidget(parent)
    layout = QVBoxLayout(tab)
    note = QLabel(NOTE, tab)
    note.setWordWrap(True)
    layout.addWidget(note)  # its own height, no more
    layout.addWidget(table, 1)  # the rest
    return tab
