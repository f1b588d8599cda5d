"""The Projects page as an overview, against a real cluster with real runs: each project's runs by state
and latest activity in the table; the selected project's runs as coloured chips, its last activity
(relative, exact on hover), its best run by a chosen metric and direction (Open run opens it), the storage
it holds and its members, with the member editor a button away."""

from __future__ import annotations

import sys

from kiln.core.overview import direction_of
from kiln.core.runs import RunSpec
from kiln.core.units import format_bytes
from kiln.desktop import times
from kiln.desktop.pages.runs.chips import chip_colours
from kiln.desktop.qt import Qt
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, wait_idle
from tests.desktop.test_runs import close_all

LOGS = "import kiln.track as kt, sys\nkt.set_tag('name', sys.argv[1])\nkt.log_metric('auc', float(sys.argv[2]))\n"


def run(cluster, snap: str, *args: str) -> str:
    submitted = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py", *args), snap, runtime="process"))
    done = cluster.wait_run(submitted.id)
    assert str(done.state) == "succeeded", cluster.output(done.id)
    return done.id


def test_the_overview_shows_runs_by_state_activity_best_run_storage_and_members(
    qtbot, cluster, cluster_session, open_window
):
    cluster.agent("n1")
    snap = push_folder(cluster, {"train.py": LOGS})
    low, high = run(cluster, snap, "small", "0.71"), run(cluster, snap, "big", "0.93")
    failed = cluster.admin.submit_run(RunSpec("p", (sys.executable, "-c", "raise SystemExit(2)"), snap))
    assert str(cluster.wait_run(failed.id).state) == "failed"
    summary = cluster.admin.project_summary("p")

    window = open_window(cluster_session)
    page = window.projects_page
    qtbot.waitUntil(lambda: cells(page.table) and cells(page.table)[0][3] != "", timeout=WAIT_MS)
    row = cells(page.table)[0]
    assert row[0] == "p" and row[3] == "3 runs: 2 succeeded, 1 failed"
    assert row[4].endswith("ago") or row[4] == "just now"
    last = page.table.model().index(0, 4).data(Qt.ItemDataRole.ToolTipRole)
    assert last == times.exact(summary.last_activity)

    click_row(qtbot, page.table, "p")
    overview = page.overview
    assert page.tabs.currentWidget() is overview
    qtbot.waitUntil(lambda: overview.summary is not None and overview.metric_box.count() > 1, timeout=WAIT_MS)
    wait_idle(qtbot, window.runner)
    chips = {state: label.text() for state, label in overview.chip_labels.items()}
    assert chips == {"succeeded": "2 succeeded", "failed": "1 failed"}
    assert chip_colours("failed")[0] in overview.chip_labels["failed"].styleSheet()
    assert chip_colours("succeeded")[0] in overview.chip_labels["succeeded"].styleSheet()
    assert overview.activity.text() in ("just now", "1 min ago", "2 min ago")
    assert overview.activity.toolTip() == times.exact(summary.last_activity)
    assert times.zone(summary.last_activity) in overview.activity.toolTip()
    assert direction_of("auc") == "max"  # chosen by the metric most runs logged, the way its name says
    assert overview.best.text() == f"big ({high}) — auc 0.93, higher is better"
    assert overview.storage.text().startswith(format_bytes(summary.storage_bytes) + " in ")
    assert "distinct file content" in overview.storage.text() and summary.storage_bytes > 0
    assert overview.members.text() == "1 member — owner admin"

    choose(qtbot, overview.metric_box, "auc")  # the best run by a chosen metric, either way round
    choose(qtbot, overview.direction_box, "lower is better")
    qtbot.waitUntil(lambda: f"small ({low})" in overview.best.text(), timeout=WAIT_MS)
    assert overview.best.text() == f"small ({low}) — auc 0.71, lower is better"
    choose(qtbot, overview.direction_box, "higher is better")
    qtbot.waitUntil(lambda: f"big ({high})" in overview.best.text(), timeout=WAIT_MS)
    assert overview.best.text() == f"big ({high}) — auc 0.93, higher is better"
    wait_idle(qtbot, window.runner)

    with qtbot.waitSignal(page.run_wanted, timeout=WAIT_MS) as opened:
        click(qtbot, overview.open_best)
    assert opened.args == [high]
    click(qtbot, overview.edit_members)
    assert page.tabs.currentWidget() is page.members and page.members.project.name == "p"
    close_all(qtbot, window)


def test_a_run_named_for_want_of_a_direction_is_said_to_be_the_latest_not_the_best():
    from kiln.core.overview import BestRun
    from kiln.desktop.pages.projects.overview import best_text

    assert best_text(BestRun("r-1a2b", "nightly")) == (
        "nightly (r-1a2b) — the latest succeeded run (no metric tells which run is best)"
    )
    assert best_text(None) == "no run has succeeded yet"
