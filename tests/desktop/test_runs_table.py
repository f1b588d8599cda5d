"""The Runs table as an analyst's home, against a real coordinator: params, metrics and tags as columns
(chosen from the keys the project's runs logged, remembered per project), numeric sorting from the
header, the search language's filter with inline errors, run names, coloured state chips, relative
times with the exact time on hover, and paging through hundreds of runs.

Most runs are written straight into the coordinator's store (tests/records/planted.py): a history of
hundreds of runs in a moment; one test runs a real job that logs through kiln.track."""

from __future__ import annotations

import sys
import time

from kiln.core.runs import RunSpec, RunState
from kiln.desktop import times
from kiln.desktop.pages.runs.chips import BLUE, GREEN, GREY, RED, StateChips, chip_colours
from kiln.desktop.pages.runs.columns import STATE
from kiln.desktop.pages.runs.filter import BAD_STYLE
from kiln.desktop.pages.runs.listing import PAGE_SIZE
from kiln.desktop.pages.runs.page import RunsPage
from kiln.desktop.qt import QApplication, QColor, QMessageBox, QPoint, Qt
from kiln.desktop.settings import Settings
from kiln.desktop.widgets.common import Table
from kiln.desktop.window import MainWindow
from tests.compute.conftest import push_folder
from tests.conftest import ADMIN_PASSWORD
from tests.desktop.conftest import WAIT_MS, click, click_row, session_for, wait_idle
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of
from tests.records.planted import Planted, plant


def column(page: RunsPage, header: str) -> list[str]:
    """What a column shows, top to bottom."""
    i = page.table.rows_model.headers.index(header)
    return [r.cells[i] for r in page.table.rows_model.rows]


def by_run(page: RunsPage, header: str) -> dict[str, str]:
    i = page.table.rows_model.headers.index(header)
    return {r.key: r.cells[i] for r in page.table.rows_model.rows}


def click_header(qtbot, table: Table, header: str) -> None:
    view = table.horizontalHeader()
    i = table.rows_model.headers.index(header)
    table.scrollTo(table.model().index(0, i))
    x = view.sectionViewportPosition(i) + view.sectionSize(i) // 2
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, view.height() // 2))


def filter_runs(qtbot, page: RunsPage, text: str) -> None:
    """Types `text` over the filter box's and presses Return."""
    edit = page.filter_box.edit
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def choose_columns(qtbot, page: RunsPage, wanted: list[str]) -> None:
    """Opens Columns…, ticks `wanted` (finding each by typing part of it), presses Show."""
    click(qtbot, page.columns_button)
    dialog = page.columns_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: "logged in this project" in dialog.summary.text(), timeout=WAIT_MS)
    for key in wanted:
        qtbot.keyClicks(dialog.search, key)
        shown = [dialog.keys.item(i) for i in range(dialog.keys.count()) if not dialog.keys.item(i).isHidden()]
        item = next(i for i in shown if i.text() == key)
        dialog.keys.setCurrentItem(item)
        qtbot.keyClick(dialog.keys, Qt.Key.Key_Space)  # ticks it, as a person does with the keyboard
        assert item.checkState() == Qt.CheckState.Checked
        dialog.search.clear()
    click(qtbot, dialog.show_button)


TRACKED = (
    "import kiln.track as kt\n"
    "kt.set_tag('name', 'tracked-baseline')\n"
    "kt.log_param('lr', 0.01)\n"
    "kt.log_metric('val_auc', 0.5, step=0)\n"
    "kt.log_metric('val_auc', 0.955, step=1)\n"
)


def test_chosen_param_and_metric_columns_show_last_values_and_return_with_the_project(
    qtbot, cluster, cluster_session, open_window, kiln_home
):
    now = time.time()
    cluster.agent("n1")
    code = push_folder(cluster, {"train.py": TRACKED})
    tracked = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code, runtime="process"))
    assert str(cluster.wait_run(tracked.id).state) == "succeeded", cluster.output(tracked.id)
    a, b, c = plant(
        cluster.coordinator.ctx.store,
        "p",
        [
            Planted(now - 300, params={"lr": "0.1", "opt": "adam"}, metrics={"val_auc": 0.97, "loss": 0.2}),
            Planted(now - 200, params={"lr": "0.2"}, metrics={"val_auc": 0.98}, tags={"name": "wider"}),
            Planted(now - 100, params={"lr": "0.05"}),
        ],
    )
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 4, timeout=WAIT_MS)
    assert "params.lr" not in page.table.rows_model.headers
    assert by_run(page, "Name")[b] == "wider" and by_run(page, "Name")[tracked.id] == "tracked-baseline"

    choose_columns(qtbot, page, ["params.lr", "metrics.val_auc"])
    qtbot.waitUntil(lambda: "metrics.val_auc" in page.table.rows_model.headers, timeout=WAIT_MS)
    headers = page.table.rows_model.headers
    assert headers.index("params.lr") < headers.index("metrics.val_auc") < headers.index("Command")
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 4, timeout=WAIT_MS)
    assert by_run(page, "params.lr") == {a: "0.1", b: "0.2", c: "0.05", tracked.id: "0.01"}
    assert by_run(page, "metrics.val_auc") == {a: "0.97", b: "0.98", c: "", tracked.id: "0.955"}  # the last
    assert Settings.load(kiln_home).columns_for(cluster_session.server, "p") == ["params.lr", "metrics.val_auc"]
    close_all(qtbot, window)

    session = session_for(cluster.coordinator, kiln_home, "admin", ADMIN_PASSWORD)  # the next day, signed in
    again = MainWindow(session, Settings.load(kiln_home))  # again: a new window, the settings read anew
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    wait_idle(qtbot, again.runner)
    page = runs_page_of(qtbot, again)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 4, timeout=WAIT_MS)
    assert by_run(page, "metrics.val_auc")[b] == "0.98" and by_run(page, "params.lr")[c] == "0.05"
    close_all(qtbot, again)
    session.close()


def test_columns_sort_as_numbers_times_and_durations_and_the_top_row_opens_its_run(
    qtbot, cluster, cluster_session, open_window, settings
):
    now = time.time()
    made = [
        Planted(now - 400, params={"n": "9"}, metrics={"score": 9.0}, started=now - 390, finished=now - 385),
        Planted(now - 300, params={"n": "100"}, metrics={"score": 100.0}, started=now - 290, finished=now - 225),
        Planted(now - 200, params={"n": "10"}, metrics={"score": 10.0}, started=now - 190, finished=now - 70),
        Planted(now - 100, RunState.QUEUED),  # no score, never started: last whichever way
    ]
    nine, hundred, ten, queued = plant(cluster.coordinator.ctx.store, "p", made)
    settings.set_columns(cluster_session.server, "p", ["metrics.score", "params.n"])
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 4, timeout=WAIT_MS)
    assert page.table.row_keys() == [queued, ten, hundred, nine]  # newest first until a header is clicked
    click_row(qtbot, page.table, ten)

    click_header(qtbot, page.table, "metrics.score")
    assert column(page, "metrics.score") == ["9", "10", "100", ""]
    assert page.table.selected_keys() == [ten] and page.table.row_keys()[1] == ten  # the selection moved along
    click_header(qtbot, page.table, "metrics.score")
    assert column(page, "metrics.score") == ["100", "10", "9", ""]  # empty stays last
    click_header(qtbot, page.table, "params.n")
    assert column(page, "params.n") == ["9", "10", "100", ""]  # params are text: read as numbers
    click_header(qtbot, page.table, "Duration")
    assert column(page, "Duration") == ["5.0s", "1m 05s", "2m 00s", ""]
    click_header(qtbot, page.table, "Created")
    assert page.table.row_keys() == [nine, hundred, ten, queued]  # times as times: oldest first

    click_header(qtbot, page.table, "metrics.score")
    click_header(qtbot, page.table, "metrics.score")
    for _ in range(3):  # refreshes meanwhile keep the order
        with qtbot.waitSignal(page.timer.timeout, timeout=WAIT_MS):
            pass
        wait_idle(qtbot, window.runner)
    assert page.table.row_keys()[0] == hundred and page.wanted.sort == "-metrics.score"
    dialog = open_run_page(qtbot, page, page.table.row_keys()[0])
    assert dialog.run.id == hundred
    dialog.close()
    close_all(qtbot, window)


def test_a_bad_filter_is_said_under_the_box_and_a_good_one_shows_only_the_matching_runs(
    qtbot, cluster, cluster_session, open_window, settings
):
    now = time.time()
    made = [
        Planted(now - 300, params={"lr": "0.1"}, metrics={"val_auc": 0.97}),
        Planted(now - 200, params={"lr": "0.1"}, metrics={"val_auc": 0.90}),
        Planted(now - 100, params={"lr": "0.2"}, metrics={"val_auc": 0.99}),
    ]
    good, low, other_lr = plant(cluster.coordinator.ctx.store, "p", made)
    settings.set_columns(cluster_session.server, "p", ["params.lr", "metrics.val_auc"])
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 3, timeout=WAIT_MS)
    every = page.table.row_keys()
    box = page.filter_box

    filter_runs(qtbot, page, "metrics.val_auc >")
    qtbot.waitUntil(lambda: box.message.isVisible(), timeout=WAIT_MS)
    assert "the filter ends too early" in box.message.text() and "still showing every run" in box.message.text()
    assert box.edit.styleSheet() == BAD_STYLE and page.table.row_keys() == every
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert "ends too early" not in window.statusBar().currentMessage()  # said once, under the box
    for _ in range(2):  # the ticks go on with the last good filter, and the error stays
        with qtbot.waitSignal(page.timer.timeout, timeout=WAIT_MS):
            pass
        wait_idle(qtbot, window.runner)
    assert page.table.row_keys() == every and box.message.isVisible()

    filter_runs(qtbot, page, "metrics.val_auc > 0.95 and params.lr = 0.1")
    qtbot.waitUntil(lambda: page.table.row_keys() == [good], timeout=WAIT_MS)
    assert not box.message.isVisible() and box.edit.styleSheet() == ""
    assert by_run(page, "metrics.val_auc") == {good: "0.97"}

    filter_runs(qtbot, page, "colour = red")
    qtbot.waitUntil(lambda: box.message.isVisible(), timeout=WAIT_MS)
    assert "unknown field" in box.message.text() and "params.lr = 0.1" in box.message.text()
    assert page.table.row_keys() == [good]

    filter_runs(qtbot, page, "params.lr = 0.3")
    qtbot.waitUntil(lambda: page.table.row_keys() == [], timeout=WAIT_MS)
    assert page.summary.text() == "no runs match params.lr = 0.3"

    box.edit.clear()  # the box's clear button does this: every run again
    qtbot.waitUntil(lambda: sorted(page.table.row_keys()) == sorted([good, low, other_lr]), timeout=WAIT_MS)
    assert not box.message.isVisible()
    close_all(qtbot, window)


def test_states_are_drawn_as_coloured_chips(qtbot, cluster, cluster_session, open_window):
    now = time.time()
    states = [RunState.QUEUED, RunState.RUNNING, RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED]
    states.append(RunState.LOST)
    made = [Planted(now - 60 * i, s, started=0 if s is RunState.QUEUED else now - 60 * i) for i, s in enumerate(states)]
    ids = dict(zip(plant(cluster.coordinator.ctx.store, "p", made), states, strict=True))
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == len(states), timeout=WAIT_MS)
    assert isinstance(page.table.itemDelegateForColumn(STATE), StateChips)
    expected = {
        RunState.QUEUED: BLUE,
        RunState.RUNNING: BLUE,
        RunState.SUCCEEDED: GREEN,
        RunState.FAILED: RED,
        RunState.LOST: RED,
        RunState.CANCELLED: GREY,
    }
    picture = page.table.viewport().grab().toImage()
    for run_id, state in ids.items():
        text = by_run(page, "State")[run_id]
        assert text == str(state) and chip_colours(text) == expected[state]
        rect = page.table.visualRect(page.table.model().index(page.table.row_of(run_id), STATE))
        pixel = picture.pixelColor(rect.left() + 6, rect.center().y())  # inside the pill, left of its text
        assert pixel.name() == QColor(expected[state][0]).name(), f"{state} drawn {pixel.name()}"
    assert chip_colours("failed (exit 3)") == RED
    close_all(qtbot, window)


def test_times_read_as_how_long_ago_with_the_exact_local_time_on_hover(
    qtbot, cluster, cluster_session, open_window, berlin
):
    now = time.time()
    created = now - 185
    [run_id] = plant(cluster.coordinator.ctx.store, "p", [Planted(created, started=created + 1, finished=created + 9)])
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: page.table.row_keys() == [run_id], timeout=WAIT_MS)
    assert by_run(page, "Created")[run_id] == "3 min ago" and by_run(page, "Started")[run_id] == "3 min ago"
    model = page.table.model()
    headers = page.table.rows_model.headers
    tip = model.data(model.index(0, headers.index("Created")), Qt.ItemDataRole.ToolTipRole)
    assert tip == times.exact(created) and ("CET" in tip or "CEST" in tip) and tip.endswith(" UTC")
    assert model.data(model.index(0, headers.index("Started")), Qt.ItemDataRole.ToolTipRole) == times.exact(created + 1)
    close_all(qtbot, window)


def test_hundreds_of_runs_come_a_page_at_a_time_without_duplicates(qtbot, cluster, cluster_session, open_window):
    now = time.time()
    made = [Planted(now - 10_000 + i, metrics={"score": float(i)}) for i in range(450)]
    ids = plant(cluster.coordinator.ctx.store, "p", made)
    newest_first = ids[::-1]
    asked: list[tuple[int, str]] = []
    window = open_window(cluster_session)
    real = window.runs_page.client.search_page

    def counted(*args, **kwargs):  # counted when answered: a call in flight when the counter is cleared counts
        found = real(*args, **kwargs)
        asked.append((args[4] if len(args) > 4 else kwargs.get("size", 0), args[5] if len(args) > 5 else ""))
        return found

    window.runs_page.client.search_page = counted
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == PAGE_SIZE, timeout=WAIT_MS)
    assert page.table.row_keys() == newest_first[:PAGE_SIZE]
    assert page.summary.text().startswith("Showing 200 of 450 runs") and page.more_button.isEnabled()

    click(qtbot, page.more_button)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 2 * PAGE_SIZE, timeout=WAIT_MS)
    assert page.summary.text().startswith("Showing 400 of 450 runs")
    bar = page.table.verticalScrollBar()
    bar.setValue(bar.maximum())  # scrolled to the end: the rest comes
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 450, timeout=WAIT_MS)
    assert page.table.row_keys() == newest_first and len(set(page.table.row_keys())) == 450
    assert page.summary.text().startswith("450 runs") and not page.more_button.isEnabled()

    deep = newest_first[300]
    page.table.select_keys([deep])
    page.table.scrollTo(page.table.model().index(300, 0))
    top = page.table.rowAt(0)
    asked.clear()  # before the new run exists: every call that can find it is answered after, and counted
    [new] = plant(cluster.coordinator.ctx.store, "p", [Planted(now, metrics={"score": -1.0})])
    qtbot.waitUntil(lambda: new in page.table.row_keys(), timeout=WAIT_MS)
    assert page.table.row_keys()[0] == new and len(page.table.row_keys()) == 451
    assert page.table.selected_keys() == [deep]  # the refresh kept the selection
    assert page.table.rows_model.rows[page.table.rowAt(0)].key == newest_first[top]  # and what is in view
    assert asked and all(size <= PAGE_SIZE and token == "" for size, token in asked)  # the first page again
    close_all(qtbot, window)


def test_sorting_a_long_listing_asks_the_coordinator_for_the_top_of_all_runs(
    qtbot, cluster, cluster_session, open_window, settings
):
    now = time.time()
    made = [Planted(now - 10_000 + i, metrics={"score": float((i * 7) % 450)}) for i in range(450)]
    plant(cluster.coordinator.ctx.store, "p", made)
    settings.set_columns(cluster_session.server, "p", ["metrics.score"])
    window = open_window(cluster_session)
    page = runs_page_of(qtbot, window)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == PAGE_SIZE, timeout=WAIT_MS)
    click_header(qtbot, page.table, "metrics.score")
    click_header(qtbot, page.table, "metrics.score")  # highest first, of all 450
    qtbot.waitUntil(lambda: column(page, "metrics.score")[:3] == ["449", "448", "447"], timeout=WAIT_MS)
    assert len(page.table.row_keys()) == PAGE_SIZE and page.wanted.sort == "-metrics.score"
    click(qtbot, page.more_button)
    qtbot.waitUntil(lambda: len(page.table.row_keys()) == 2 * PAGE_SIZE, timeout=WAIT_MS)
    scores = [float(s) for s in column(page, "metrics.score")]
    assert scores == sorted(scores, reverse=True) and scores[-1] == 50.0  # the next 200, still in order
    close_all(qtbot, window)
