"""The Runs page, an analyst's home: the selected project's runs as a table with the params, metrics and
tags someone chose as columns (remembered per project), sortable by any column, filtered by the search
language (`kiln runs --filter`) on the coordinator, with coloured states, relative times, and paging for
thousands of runs (the first PAGE_SIZE, then more as one scrolls to the end or presses Load more).

Launch… opens the launch dialog, a double click (or Open) the run page, and two or more selected runs can
be compared. A run page's Lineage (or an input clicked) is passed on as `lineage_wanted(id)`;
`show_run(id)` opens the page of any run the person may read (one seen in the lineage view, say).

The table is kept current on a timer while the page is shown, by one reused operation that reads the
first page again (listing.py says why that is enough): a tick while it is on its way is skipped, so a
slow or absent coordinator never gets a pile of requests, and a lost connection is reported once. A new
query (a filter, a sort, other columns) is read whole, and only its answer replaces what is shown: a bad
filter leaves the table as it was."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kiln.client import Client
from kiln.core.clock import now
from kiln.core.errors import InvalidArgument
from kiln.core.models import RunPage, RunValues
from kiln.core.runs import Run
from kiln.desktop.ops import Op, Runner, brief
from kiln.desktop.pages.compare.page import CompareDialog
from kiln.desktop.pages.run.page import RunDialog
from kiln.desktop.pages.runs.chips import StateChips
from kiln.desktop.pages.runs.choose import ColumnsDialog
from kiln.desktop.pages.runs.columns import (
    CREATED,
    STATE,
    RowCache,
    asked_columns,
    chosen_of,
    run_columns,
    search_sort,
)
from kiln.desktop.pages.runs.filter import FilterBox
from kiln.desktop.pages.runs.launch import LaunchDialog
from kiln.desktop.pages.runs.listing import PAGE_SIZE, Item, Listing, Query, ids_filter
from kiln.desktop.qt import (
    QHBoxLayout,
    QHideEvent,
    QLabel,
    QPushButton,
    QShowEvent,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from kiln.desktop.settings import Settings
from kiln.desktop.widgets.common import Table

REFRESH_MS = 2000
FIT_ROWS = 200  # rows (beyond those in view) a column's width is fitted to


class RunsPage(QWidget):
    lineage_wanted = Signal(str)

    def __init__(
        self,
        client: Client,
        runner: Runner,
        settings: Settings,
        server: str,
        connect: Callable[[], Client],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.client, self.runner, self.settings, self.server = client, runner, settings, server
        self.open_client = connect
        self.project = ""
        self.wanted = Query("")  # what the table should show: the last query asked for that was not refused
        self.listing: Listing | None = None  # what it shows
        self.chosen: list[str] = []  # the params/metrics/tags columns shown
        self.columns = run_columns([])
        self.row_cache = RowCache(self.columns)
        self.run_pages: dict[str, RunDialog] = {}
        self.launcher: LaunchDialog | None = None
        self.compare_view: CompareDialog | None = None
        self.columns_dialog: ColumnsDialog | None = None
        self._build()
        self._lay_out()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        # Each kind of read is one reused Op (its work set as it starts), so a banner retrying what a lost
        # connection stopped holds each once: a query read whole, the periodic re-read, the next page.
        self._load_op = Op("list runs", lambda: None, self._loaded, self._load_failed, said_by_page=True)
        self._refresh_op = Op("refresh runs", lambda: None, self._reread, self._failed)
        self._more_op = Op("load more runs", lambda: None, self._extended, self._failed)
        self._load_query = self.wanted  # what the load op asks
        self._asked_again = False  # a newer query came while the load op was on its way
        self._quiet = False  # the header's sort is being set by the page, not by a person
        self._connect()
        self.set_project("")

    def _build(self) -> None:
        self.table = Table([c.header for c in self.columns], multi=True, parent=self, sortable=True)
        self.table.setItemDelegateForColumn(STATE, StateChips(self.table))
        self.table.horizontalHeader().setResizeContentsPrecision(FIT_ROWS)
        self._default_sort()
        self.filter_box = FilterBox(self)
        self.summary = QLabel("", self)
        self.launch = QPushButton("Launch…", self)
        self.open_button = QPushButton("Open", self)
        self.compare = QPushButton("Compare", self)
        self.refresh_button = QPushButton("Refresh", self)
        self.columns_button = QPushButton("Columns…", self)
        self.columns_button.setToolTip("Show params, metrics or tags the project's runs logged as columns")
        self.more_button = QPushButton("Load more", self)

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.filter_box, 1, Qt.AlignmentFlag.AlignTop)
        for button in (self.columns_button, self.refresh_button, self.open_button, self.compare, self.launch):
            top.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        bottom = QHBoxLayout()
        bottom.addWidget(self.summary, 1)
        bottom.addWidget(self.more_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        self.launch.clicked.connect(self.open_launcher)
        self.open_button.clicked.connect(lambda: self.open_run(self.table.selected_key()))
        self.compare.clicked.connect(self.open_compare)
        self.refresh_button.clicked.connect(lambda: self.reload())
        self.columns_button.clicked.connect(self.choose_columns)
        self.more_button.clicked.connect(self.load_more)
        self.filter_box.submitted.connect(self._filter)
        self.table.doubleClicked.connect(lambda index: self.open_run(self.table.row_keys()[index.row()]))
        self.table.selection_changed.connect(self._picked)
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._sorted)
        self.table.verticalScrollBar().valueChanged.connect(self._scrolled)

    @property
    def runs(self) -> dict[str, Run]:
        """The runs loaded, by id."""
        return {} if self.listing is None else {i: run for i, (run, _) in self.listing.items.items()}

    def set_project(self, project: str) -> None:
        if project == self.project and project:
            return
        self.project = project
        self.listing = None
        self.chosen = self.settings.columns_for(self.server, project) if project else []
        self._show_columns(self.chosen)
        self.filter_box.edit.clear()
        self.filter_box.accepted("")
        self.wanted = Query(project, "", self._search_sort(), tuple(asked_columns(self.chosen)))
        self.launch.setEnabled(bool(project))
        self.columns_button.setEnabled(bool(project))
        self.more_button.setEnabled(False)
        self.summary.setText("choose a project first" if not project else "loading runs…")
        self._picked()
        if project and self.isVisible():
            self.reload()

    def _picked(self) -> None:
        picked = self.table.selected_keys()
        self.open_button.setEnabled(len(picked) == 1)
        self.compare.setEnabled(len(picked) >= 2)

    # -- what is asked: filter, sort, columns ----------------------------------------------------------

    def _filter(self, text: str) -> None:
        if self.project and (text != self.wanted.filter or self.filter_box.bad):
            self.reload(replace(self.wanted, filter=text))

    def _sorted(self, column: int, order: Qt.SortOrder) -> None:
        """The model has sorted what is loaded; with more to load, the coordinator sorts all of it."""
        sort = search_sort(self.columns, column, order == Qt.SortOrder.DescendingOrder)
        if self._quiet or not self.project or sort == self.wanted.sort:
            return
        self.wanted = replace(self.wanted, sort=sort)
        if self.listing is not None and self.listing.more:
            self.reload()
        elif self.listing is not None:
            self.listing.query = self.wanted  # all loaded: the table's own sort is the whole answer
        self._summarise()

    def _search_sort(self) -> str:
        model = self.table.rows_model
        return search_sort(self.columns, model.sort_column, model.sort_order == Qt.SortOrder.DescendingOrder)

    def _default_sort(self) -> None:
        self.table.sort_by(CREATED, Qt.SortOrder.DescendingOrder)  # newest first, as the coordinator lists

    def choose_columns(self) -> None:
        if not self.project:
            return
        if self.columns_dialog is not None:
            self.columns_dialog.close()
        self.columns_dialog = ColumnsDialog(self.client, self.runner, self.project, self.chosen, self)
        self.columns_dialog.chosen.connect(self.set_chosen)
        self.columns_dialog.open()

    def set_chosen(self, columns: list[str]) -> None:
        """Shows `columns` (params.NAME, metrics.NAME, tags.NAME) and remembers them for the project."""
        columns = chosen_of(columns)
        self.settings.set_columns(self.server, self.project, columns)
        headers = [c.header for c in run_columns(columns)]
        sort = self.wanted.sort if self._sorted_header() in headers else search_sort(self.columns, CREATED, True)
        self.reload(replace(self.wanted, sort=sort, columns=tuple(asked_columns(columns))))

    def _sorted_header(self) -> str:
        column = self.table.rows_model.sort_column
        return self.columns[column].header if 0 <= column < len(self.columns) else ""

    def _show_columns(self, chosen: list[str]) -> None:
        """Other columns in the table; the sort stays on the column it was on, if it is still there."""
        header, order = self._sorted_header(), self.table.rows_model.sort_order
        self.chosen, self.columns = list(chosen), run_columns(chosen)
        self.row_cache = RowCache(self.columns)
        headers = [c.header for c in self.columns]
        self.table.set_headers(headers)
        self._quiet = True  # not a person's sort: nothing to ask the coordinator
        try:
            if header in headers:
                self.table.sort_by(headers.index(header), order)
                self.table.rows_model.sort(headers.index(header), order)  # also where the indicator stayed
            else:
                self._default_sort()
        finally:
            self._quiet = False

    # -- reading: a new query whole, the first page again, the next page --------------------------------

    def reload(self, query: Query | None = None) -> None:
        """Reads `query` (the current one by default) from its first page; shown once it is answered."""
        self.wanted = query or self.wanted
        if not self.wanted.project:
            return
        if self.runner.running(self._load_op):
            self._asked_again = True  # asked once the answer on its way has come
            return
        query = self._load_query = self.wanted
        self._load_op.work = lambda: (query, self._first_page(query))
        self.runner.start(self._load_op)

    def _first_page(self, query: Query) -> RunPage:
        return self.client.search_page(
            query.project, query.filter, query.sort, query.columns, PAGE_SIZE, "", count=True
        )

    def _answered_late(self) -> bool:
        """A newer query was asked while this answer was on its way: it is asked now instead."""
        if not self._asked_again:
            return False
        self._asked_again = False
        self.reload()
        return True

    def _loaded(self, answer: tuple[Query, RunPage]) -> None:
        query, page = answer
        if self._answered_late() or query.project != self.project:
            return
        if chosen_of(query.columns) != self.chosen:
            picked = self.table.selected_keys()
            self._show_columns(chosen_of(query.columns))
            self.listing = Listing.started(query, page)
            self._show()
            self.table.select_keys(picked)
        else:
            self.listing = Listing.started(query, page)
            self._show()
        self.filter_box.accepted(query.filter)

    def _load_failed(self, error: Exception) -> None:
        """A bad filter is said by the box (the table still shows the last good one); another refusal in
        the summary, going back to what is shown; anything else (a lost connection) is asked again."""
        query = self._load_query
        if self._answered_late() or query.project != self.project:
            return
        if not isinstance(error, InvalidArgument):
            self._failed(error)
            return
        shown = self.listing.query if self.listing is not None else None
        shown_filter = shown.filter if shown is not None else self.filter_box.applied
        if query.filter != shown_filter:
            self.filter_box.refused(query.filter, str(error))
            self.wanted = replace(query, filter=shown_filter)
        else:
            self.summary.setText(f"could not list runs: {error}")
            self.wanted = shown or Query(self.project, "", "", tuple(asked_columns([])))

    def refresh(self) -> None:
        """One tick: the first page again (and unfinished runs further down), unless a read is on its way."""
        if not self.project or self.runner.running(self._load_op) or self.runner.running(self._refresh_op):
            return
        if self.listing is None or self.listing.query != self.wanted:
            self.reload()
            return
        query, ids = self.listing.query, self.listing.to_reread()
        self._refresh_op.work = lambda: (query, self._first_page(query), self._by_id(query, ids))
        self.runner.start(self._refresh_op)

    def _by_id(self, query: Query, ids: list[str]) -> list[Item]:
        if not ids:
            return []
        return self.client.search_page(query.project, ids_filter(ids), "", query.columns, len(ids)).rows

    def _reread(self, answer: tuple[Query, RunPage, list[Item]]) -> None:
        query, page, found = answer
        if self.listing is None or query != self.listing.query:
            return
        self.listing.refreshed(page)
        self.listing.update(found)
        self._show()

    def load_more(self) -> None:
        listing = self.listing
        if listing is None or not listing.more or self.runner.running(self._more_op):
            return
        query, token = listing.query, listing.token
        self._more_op.work = lambda: (
            query,
            self.client.search_page(query.project, query.filter, query.sort, query.columns, PAGE_SIZE, token),
        )
        self.summary.setText(f"{self._counted()} — loading more…")
        self.runner.start(self._more_op)

    def _extended(self, answer: tuple[Query, RunPage]) -> None:
        query, page = answer
        if self.listing is not None and query == self.listing.query:
            self.listing.extend(page)
        self._show()

    def _scrolled(self, value: int) -> None:
        if value and value == self.table.verticalScrollBar().maximum():
            self.load_more()

    def _failed(self, error: Exception) -> None:
        self.summary.setText(f"could not list runs: {brief(error)}")

    # -- showing ----------------------------------------------------------------------------------------

    def _show(self) -> None:
        if self.listing is None:
            return
        self.table.update_rows(self.row_cache.rows(self.listing.rows(), now()))
        self._summarise()

    def _counted(self) -> str:
        listing = self.listing
        n = len(listing.order) if listing is not None else 0
        total = listing.total if listing is not None else None
        if listing is None or not listing.more:
            return f"{n:,} run{'s' if n != 1 else ''}"
        return f"Showing {n:,} of {total:,} runs" if total is not None else f"{n:,} shown — more"

    def _summarise(self) -> None:
        listing = self.listing
        if listing is None:
            return
        self.more_button.setEnabled(listing.more)
        if not listing.order:
            matching = listing.query.filter
            self.summary.setText(f"no runs match {matching}" if matching else "no runs yet: Launch… one")
            return
        active = sum(1 for run, _ in listing.items.values() if not run.state.terminal)
        text = f"{self._counted()}, {active:,} not finished"
        if listing.more and self.table.rows_model.sort_column >= 0 and not self.wanted.sort:
            text += f" (sorted here: the {len(listing.order):,} loaded)"
        self.summary.setText(text)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.timer.start()
        self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:
        self.timer.stop()  # nobody is looking: the coordinator is not asked
        super().hideEvent(event)

    # -- dialogs --------------------------------------------------------------------------------------

    def open_launcher(self) -> None:
        if not self.project:
            return
        folder = self.settings.folder_for(self.server, self.project)
        self.launcher = LaunchDialog(self.client, self.runner, self.project, folder, self.settings.cache_dir, self)
        self.launcher.launched.connect(self._launched)
        self.launcher.open()

    def _launched(self, run: Run) -> None:
        if self.listing is not None:
            self.listing.add(run, RunValues())
            self._show()
        self.summary.setText(f"run {run.id} queued")
        self.table.select_keys([run.id])
        self.refresh()

    def open_run(self, run_id: str | None) -> RunDialog | None:
        """The page of a listed run (one per run: opening it again brings it to the front)."""
        run = self.runs.get(run_id or "")
        return None if run is None else self._open_page(run)

    def show_run(self, run_id: str) -> None:
        """The page of any run, listed here or not (another project's, found through lineage)."""
        runs = self.runs
        if run_id in runs or run_id in self.run_pages:
            self._open_page(runs.get(run_id) or self.run_pages[run_id].run)
            return
        self.runner.run(f"read run {run_id}", lambda: self.client.get_run(run_id), self._open_page)

    def _open_page(self, run: Run) -> RunDialog:
        page = self.run_pages.get(run.id)
        if page is None or not page.isVisible():
            if page is not None:
                page.deleteLater()
            page = RunDialog(self.client, self.runner, self.open_client, run, self)
            page.rerun.connect(self._rerun)
            page.open_entity.connect(self.lineage_wanted)
            self.run_pages[run.id] = page
        page.show()
        page.raise_()
        return page

    def _rerun(self, run: Run) -> None:
        if run.spec.project == self.project:
            self._launched(run)
            self.open_run(run.id)

    def open_compare(self) -> None:
        runs = self.runs
        picked = [runs[k] for k in self.table.selected_keys() if k in runs]
        if len(picked) < 2:
            return
        if self.compare_view is not None:
            self.compare_view.deleteLater()
        self.compare_view = CompareDialog(self.client, self.runner, [r.id for r in picked], self)
        self.compare_view.show()

    def shutdown(self) -> None:
        """Stops the timer and closes the run pages (ending their log followers) as the window closes."""
        self.timer.stop()
        for page in self.run_pages.values():
            page.close()
        if self.compare_view is not None:
            self.compare_view.close()
