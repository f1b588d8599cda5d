"""The Models page's versions table against a real cluster: three versions of a model registered from runs
that logged metrics, a model flavor and a dataset show one column per metric (choosable), the flavor, the
size of the registered path, the source run and the dataset, the aliases as pills and the time in local
time; Compare versions opens the compare view on the picked versions' runs; and Approve and Reject ask
first, naming the version, the alias, what holds it now and what the review does."""

from __future__ import annotations

import sys

import pytest

from kiln.core.runs import RunSpec
from kiln.desktop import times
from kiln.desktop.pages.models.page import ModelsPage
from kiln.desktop.pages.models.pills import PillDelegate, pill_colours
from kiln.desktop.pages.models.rows import ALIAS_COLUMN, METRIC_COLUMNS
from kiln.desktop.pages.run.recordrows import number
from kiln.desktop.qt import QMessageBox, Qt
from kiln.desktop.widgets.confirm import action_button
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, session_for
from tests.desktop.test_models import models_page_of
from tests.desktop.test_runs import close_all

TRAIN = """
import kiln.track as kt, os
for key, value in {metrics!r}.items():
    kt.log_metric(key, 1.0)
    kt.log_metric(key, value)
os.makedirs("out/model", exist_ok=True)
open("out/model/weights.bin", "wb").write(b"w" * {size})
kt.log_model("out/model", name="churn", flavor="sklearn")
"""


def registered_run(cluster, metrics: dict[str, float], size: int = 2048) -> str:
    """A finished run that read dataset images v1 and logged `metrics` and a model, registered as churn."""
    snap = push_folder(cluster, {"train.py": TRAIN.format(metrics=metrics, size=size)})
    spec = RunSpec("p", (sys.executable, "train.py"), snap, runtime="process", datasets=("images:1",))
    run = cluster.admin.submit_run(spec)
    assert str(cluster.wait_run(run.id).state) == "succeeded", cluster.output(run.id)
    cluster.admin.register_model(run.id, "out/model", "churn")
    return run.id


@pytest.fixture
def three_versions(cluster) -> list[str]:
    """churn v1..v3 from three runs (v3 logged more metrics), staging on v2: the runs' ids."""
    cluster.agent("n1")
    cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "cat,1\n"}))
    runs = [
        registered_run(cluster, {"val_auc": 0.91, "loss": 0.4, "epochs": 9}),
        registered_run(cluster, {"val_auc": 0.95, "loss": 0.3, "epochs": 10}, size=1024),
        registered_run(cluster, {"val_auc": 0.97, "loss": 0.2, "epochs": 100, "a1": 1, "a2": 2, "a3": 3, "a4": 4}),
    ]
    cluster.admin.request_alias("p", "churn", 2, "staging")
    return runs


def version_cells(page: ModelsPage) -> dict[int, dict[str, str]]:
    headers = page.versions.rows_model.headers
    return {row.key: dict(zip(headers, row.cells, strict=True)) for row in page.versions.rows_model.rows}


def loaded(page: ModelsPage, versions: int) -> bool:
    """The versions and what their runs logged (flavor, size, dataset) are all shown."""
    shown = version_cells(page)
    return len(shown) == versions and all(v["Flavor"] and v["Size"] for v in shown.values())


def test_versions_show_a_column_per_metric_flavor_size_run_dataset_and_alias_pills(
    qtbot, cluster, cluster_session, three_versions, open_window
):
    window = open_window(cluster_session)
    page = models_page_of(qtbot, window)
    qtbot.waitUntil(lambda: loaded(page, 3), timeout=WAIT_MS)
    headers = page.versions.rows_model.headers
    metrics = ["a1", "a2", "a3", "a4", "epochs", "loss", "val_auc"]
    assert list(headers[7 : 7 + METRIC_COLUMNS]) == metrics[:METRIC_COLUMNS]  # the first six, by name
    assert headers[-2:] == ("Registered", "By")
    shown = version_cells(page)
    assert [shown[n]["Run"] for n in (1, 2, 3)] == three_versions
    assert shown[3]["loss"] == number(0.2) and shown[1]["loss"] == number(0.4) and shown[1]["a1"] == ""
    assert {n: (v["Flavor"], v["Size"], v["Dataset"]) for n, v in shown.items()} == {
        1: ("sklearn", "2.0 KiB", "images v1"),
        2: ("sklearn", "1.0 KiB", "images v1"),
        3: ("sklearn", "2.0 KiB", "images v1"),
    }
    version = cluster.admin.get_model("p", "churn").versions[0]
    registered = shown[version.version]["Registered"]  # by the fixture, moments ago: said relative to now
    assert registered == "just now" or registered.endswith(" min ago")
    model = page.versions.model()
    at = model.index(page.versions.row_of(version.version), headers.index("Registered"))
    assert model.data(at, Qt.ItemDataRole.ToolTipRole) == times.exact(version.created_at)
    assert shown[2]["Aliases"] == "staging" and shown[1]["Aliases"] == ""
    assert isinstance(page.versions.itemDelegateForColumn(ALIAS_COLUMN), PillDelegate)
    assert pill_colours("production") != pill_colours("staging")

    panel = page.version_panel  # the column chooser: every metric the runs logged, the shown ones ticked
    menu = {a.text(): a for a in panel.metrics_menu.actions()}
    assert sorted(menu) == metrics and [k for k, a in menu.items() if a.isChecked()] == metrics[:6]
    menu["val_auc"].trigger()
    menu["a1"].trigger()
    headers = page.versions.rows_model.headers
    assert "val_auc" in headers and "a1" not in headers
    assert version_cells(page)[1]["val_auc"] == number(0.91)

    headers = page.versions.rows_model.headers  # metric columns sort as numbers, empty cells last
    page.versions.sort_by(headers.index("epochs"), Qt.SortOrder.AscendingOrder)
    assert page.versions.row_keys() == [1, 2, 3]  # 9 < 10 < 100 (as text: "10" < "100" < "9")
    page.versions.sort_by(headers.index("val_auc"), Qt.SortOrder.DescendingOrder)
    assert page.versions.row_keys() == [3, 2, 1]
    page.versions.sort_by(headers.index("a2"), Qt.SortOrder.AscendingOrder)
    assert page.versions.row_keys()[0] == 3
    close_all(qtbot, window)


def test_compare_versions_needs_two_runs_and_opens_the_compare_view_on_them(
    qtbot, cluster, cluster_session, three_versions, open_window
):
    window = open_window(cluster_session)
    page = models_page_of(qtbot, window)
    panel = page.version_panel
    qtbot.waitUntil(lambda: page.versions.selected_keys() == [3], timeout=WAIT_MS)
    assert not panel.compare.isEnabled()  # one version picked
    click_row(qtbot, page.versions, 1, add=True)
    assert page.versions.selected_keys() == [3, 1] and panel.compare.isEnabled()
    assert not page.open_run.isEnabled() and not page.alias.request.isEnabled()  # those act on one version
    assert panel.compare_run_ids() == [three_versions[2], three_versions[0]]
    click(qtbot, panel.compare)
    view = panel.compare_view
    assert view is not None and view.run_ids == [three_versions[2], three_versions[0]]
    qtbot.waitUntil(lambda: view.compared is not None, timeout=WAIT_MS)
    click_row(qtbot, page.versions, 2)
    assert not panel.compare.isEnabled() and page.open_run.isEnabled()
    close_all(qtbot, window)


@pytest.fixture
def reviewers(cluster, tmp_path, three_versions):
    """dev (the requester) and val1, val2 (the validators): editors of p. v2 is made production first
    (dev asks, val1 approves), then the project requires two approvals, and dev asks production for v3."""
    for name in ("dev", "val1", "val2"):
        cluster.admin.create_user(name, f"{name}-password")
        cluster.admin.set_member("p", name, "editor")
    for name in ("val1", "val2"):
        cluster.admin.set_validator("p", name)
    sessions = {
        n: session_for(cluster.coordinator, tmp_path / f"home-{n}", n, f"{n}-password") for n in ("dev", "val1")
    }
    sessions["dev"].client.request_alias("p", "churn", 2, "production", "first")
    sessions["val1"].client.review("p", "churn", 2, True, "fine")
    cluster.admin.set_policy("p", 2)
    yield sessions, sessions["dev"].client.request_alias("p", "churn", 3, "production", "beats v2")
    for s in sessions.values():
        s.close()


def test_approve_asks_first_and_no_leaves_the_request_open(qtbot, cluster, three_versions, reviewers, open_window):
    sessions, opened = reviewers
    assert cluster.admin.get_model("p", "churn").aliases["production"] == 2
    window = open_window(sessions["val1"])
    page = models_page_of(qtbot, window)
    requests = page.requests
    qtbot.waitUntil(lambda: requests.selected() is not None and requests.selected().id == opened.id, timeout=WAIT_MS)

    qtbot.keyClicks(requests.verdict, "drift report is clean")
    qtbot.keyClick(requests.verdict, Qt.Key.Key_Return)  # Return reviews nothing and asks nothing
    assert requests.confirmation is None
    assert not requests.approve.isDefault() and not requests.approve.autoDefault()

    click(qtbot, requests.approve)
    box = requests.confirmation
    assert box is not None and box.isVisible()
    assert box.text().startswith(
        "Approve churn v3 → production? It replaces v2 in production once 1 more approval arrives."
    )
    assert f"Request {opened.id} by dev (open, 0 of 2 approvals so far); v2 holds production now." in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))  # No
    [still] = [r for r in cluster.admin.alias_requests("p", "churn") if r.id == opened.id]
    assert still.state == "open" and not still.reviews

    click(qtbot, requests.approve)
    click(qtbot, action_button(requests.confirmation))  # Yes
    qtbot.waitUntil(lambda: "approval recorded: 1 more needed" in requests.message.text(), timeout=WAIT_MS)
    [after] = [r for r in cluster.admin.alias_requests("p", "churn") if r.id == opened.id]
    assert after.state == "open" and [(who, ok) for who, ok, _, _ in after.reviews] == [("val1", True)]
    qtbot.waitUntil(lambda: "1 of 2" in cells(requests.table)[0], timeout=WAIT_MS)

    click(qtbot, requests.reject)
    assert requests.confirmation is not None and requests.confirmation.text().startswith(
        "Reject churn v3 → production? The request closes and production stays at v2."
    )
    click(qtbot, requests.confirmation.button(QMessageBox.StandardButton.Cancel))
    assert cluster.admin.get_model("p", "churn").aliases["production"] == 2
    close_all(qtbot, window)
