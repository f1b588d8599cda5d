"""The Deployments page against a real cluster serving models (a coordinator with its gateway, a process
agent, scikit-learn versions trained by real runs): the list shows endpoints made through the client and
follows them on its timer; the picked one shows its versions, replicas, history, card and predictions,
each prediction opening the lineage of the version that answered; Deploy… creates an endpoint with what
was entered; Change weights asks first, and No changes nothing; a refusal is said in the coordinator's
words and changes nothing; Promote… opens a production request that waits for approval; Scale and Stop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.core.deployments import PredictionRecord, Split
from kiln.desktop.pages.deployments import page as deployments_page
from kiln.desktop.pages.deployments.forms import DeployDialog, PromoteDialog, ScaleDialog, TrafficDialog
from kiln.desktop.pages.deployments.page import DeploymentsPage
from kiln.desktop.qt import QMessageBox
from kiln.desktop.widgets.confirm import action_button
from kiln.desktop.window import MainWindow
from tests.compute.conftest import Cluster, running_cluster
from tests.conftest import login
from tests.deployments.conftest import Served
from tests.desktop.conftest import WAIT_MS, cells, click, click_row, go_to, wait_idle
from tests.desktop.test_runs import close_all

SCREENSHOT = Path("/tmp/deployments-page.png")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """The desktop's cluster, with a gateway (endpoints have URLs) and an agent that can hold replicas."""
    with running_cluster(tmp_path, gateway_listen="127.0.0.1:0") as c:
        c.agent("n1", cpus=8)
        yield c


@pytest.fixture(autouse=True)
def quick_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """The page polls often here, so waits end soon after the cluster changes (each still allows WAIT_MS)."""
    monkeypatch.setattr(deployments_page, "REFRESH_MS", 250)


@pytest.fixture
def served(cluster: Cluster) -> Served:
    """Model clf v1 and v2 trained by real runs, and endpoint churn serving v1 (made through the client)."""
    s = Served(cluster)
    assert (s.train(1), s.train(2)) == (1, 2)
    s.deploy("churn", version=1)
    return s


def page_of(qtbot, window: MainWindow) -> DeploymentsPage:
    page = go_to(qtbot, window, "Deployments")
    assert page is window.deployments_page
    qtbot.waitUntil(lambda: page.project == "p" and "loading" not in page.summary.text(), timeout=WAIT_MS)
    return window.deployments_page


def listed(page: DeploymentsPage) -> dict[str, dict[str, str]]:
    headers = page.endpoints.rows_model.headers
    return {r.key: dict(zip(headers, r.cells, strict=True)) for r in page.endpoints.rows_model.rows}


def dialog_of(qtbot, page: DeploymentsPage, kind: type) -> object:
    qtbot.waitUntil(lambda: isinstance(page.dialog, kind) and page.dialog.isVisible(), timeout=WAIT_MS)
    return page.dialog


def test_the_list_follows_the_endpoints_and_the_picked_one_shows_versions_replicas_history_and_predictions(
    qtbot, cluster, served, cluster_session, open_window
):
    window = open_window(cluster_session)
    window.resize(1400, 900)
    page = page_of(qtbot, window)
    qtbot.waitUntil(lambda: "churn" in listed(page), timeout=WAIT_MS)
    row = listed(page)["churn"]
    assert (row["Model"], row["State"]) == ("clf", "active")
    assert row["URL"] == (cluster.admin.get_deployment("churn").url or "-")  # "-" while no gateway runs
    assert page.endpoints.selected_key() == "churn"  # the only one: picked

    served.deploy("fraud", version=2)  # made elsewhere: the page's timer finds it
    qtbot.waitUntil(lambda: "fraud" in listed(page), timeout=WAIT_MS)
    click_row(qtbot, page.endpoints, "churn")
    panel = page.panel
    qtbot.waitUntil(lambda: bool(panel.view and panel.view.deployment.events), timeout=WAIT_MS)
    assert "churn" in panel.details.text() and "pinned to its versions" in panel.details.text()
    assert cells(panel.versions)[0][0] == "v1" and cells(panel.versions)[0][2] == "100%"  # asked
    assert [c[1] for c in cells(panel.events)][-1] == "created"  # newest first: the first one last
    # the replica starts, loads the model and serves: the gateway then routes to it (the timer shows it)
    qtbot.waitUntil(lambda: listed(page)["churn"]["Ready"] == "1/1", timeout=60_000)
    qtbot.waitUntil(lambda: listed(page)["churn"]["Serving"] == "v1 100%", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: bool(cells(panel.replicas)) and cells(panel.replicas)[0][3] == "yes", timeout=WAIT_MS)
    replica = cells(panel.replicas)[0]
    assert replica[1:3] == ("v1", "running") and replica[4] == "n1" and replica[5].startswith("127.0.0.1:")

    now = time.time()  # what the gateway records of each request, fed to the ledger directly
    cluster.coordinator.ctx.store.add_predictions(
        [
            PredictionRecord("pred-a", "churn", 1, now - 5, 2.5, 200, caller="admin", response=b"[1]"),
            PredictionRecord("pred-b", "churn", 2, now - 2, 4.0, 500, caller="app", error="boom"),
        ]
    )
    qtbot.waitUntil(lambda: [c[0] for c in cells(panel.prediction_table)] == ["pred-b", "pred-a"], timeout=WAIT_MS)
    assert cells(panel.prediction_table)[0][2:4] == ("v2", "500")
    card = {c[0]: c for c in cells(panel.cards)}
    assert card["v1"][1:3] == ("1", "0") and card["v2"][1:3] == ("1", "1")
    assert not panel.lineage.isEnabled()  # no prediction picked yet
    panel.tabs.setCurrentIndex(2)
    click_row(qtbot, panel.prediction_table, "pred-a")
    page.grab().save(str(SCREENSHOT))

    with qtbot.waitSignal(page.lineage_wanted, timeout=WAIT_MS) as signal:
        click(qtbot, panel.lineage)
    assert signal.args == ["model:p/clf@1"]
    assert window.pages.currentWidget() is window.lineage_page  # the window opened it
    page = page_of(qtbot, window)
    click_row(qtbot, panel.prediction_table, "pred-b")
    with qtbot.waitSignal(page.lineage_wanted, timeout=WAIT_MS) as signal:
        click(qtbot, panel.lineage)
    assert signal.args == ["model:p/clf@2"]  # the version that answered it
    close_all(qtbot, window)


def test_deploy_creates_the_endpoint_entered(qtbot, cluster, served, cluster_session, open_window):
    window = open_window(cluster_session)
    page = page_of(qtbot, window)
    click(qtbot, page.deploy_button)
    dialog = dialog_of(qtbot, page, DeployDialog)
    assert isinstance(dialog, DeployDialog)
    assert dialog.model.currentText() == "clf" and [dialog.target.itemText(i) for i in range(2)] == ["2", "1"]
    qtbot.keyClicks(dialog.name, "scoring")
    dialog.target.setCurrentText("2")
    dialog.replicas.setValue(2)
    dialog.cpus.setValue(0.25)
    click(qtbot, dialog.action)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    d = cluster.admin.get_deployment("scoring")
    assert (d.project, d.model, d.alias, d.traffic, d.replicas, d.cpus) == ("p", "clf", "", (Split(2, 100),), 2, 0.25)
    assert "endpoint scoring created" in page.message.text()
    qtbot.waitUntil(lambda: page.endpoints.selected_key() == "scoring", timeout=WAIT_MS)

    click(qtbot, page.deploy_button)  # a taken name: the coordinator's words, in the form and the page
    dialog = dialog_of(qtbot, page, DeployDialog)
    assert isinstance(dialog, DeployDialog)
    qtbot.keyClicks(dialog.name, "churn")
    dialog.target.setCurrentText("1")
    click(qtbot, dialog.action)
    qtbot.waitUntil(lambda: "unique across projects" in page.message.text(), timeout=WAIT_MS)
    assert dialog.isVisible() and "not deployed" in dialog.message.text()
    assert cluster.admin.get_deployment("churn").traffic == (Split(1, 100),)
    dialog.close()
    close_all(qtbot, window)


def test_change_weights_asks_first_says_refusals_and_sets_the_traffic(
    qtbot, cluster, served, cluster_session, open_window
):
    window = open_window(cluster_session)
    page = page_of(qtbot, window)
    qtbot.waitUntil(lambda: page.endpoints.selected_key() == "churn", timeout=WAIT_MS)
    click(qtbot, page.traffic_button)
    dialog = dialog_of(qtbot, page, TrafficDialog)
    assert isinstance(dialog, TrafficDialog)
    assert {v: box.value() for v, box in dialog.weights.items()} == {2: 0, 1: 100}
    asked = lambda: [e for e in cluster.admin.get_deployment("churn").events if e.state == "traffic"]  # noqa: E731
    events = len(asked())  # what people asked (the controller adds its own events meanwhile)

    dialog.set_weights({1: 90, 2: 10})
    click(qtbot, dialog.action)
    box = dialog.confirmation
    assert box is not None and box.isVisible()
    assert "New: v1 90%, v2 10%" in box.text() and "Asked now: v1 100%" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))  # No: nothing is asked
    wait_idle(qtbot, window.runner)
    d = cluster.admin.get_deployment("churn")
    assert d.traffic == (Split(1, 100),) and len(asked()) == events

    dialog.set_weights({1: 60, 2: 30})  # 90 in all: refused by the coordinator, in its words
    click(qtbot, dialog.action)
    click(qtbot, action_button(dialog.confirmation))
    qtbot.waitUntil(lambda: "add up to 90" in page.message.text(), timeout=WAIT_MS)
    assert "weights not changed" in page.message.text() and "must add up to 100" in dialog.message.text()
    assert dialog.isVisible()  # to be corrected
    d = cluster.admin.get_deployment("churn")
    assert d.traffic == (Split(1, 100),) and len(asked()) == events

    dialog.set_weights({1: 90, 2: 10}, shadow=0)
    click(qtbot, dialog.action)
    click(qtbot, action_button(dialog.confirmation))
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert cluster.admin.get_deployment("churn").traffic == (Split(1, 90), Split(2, 10))
    assert "asked v1 90%, v2 10%" in page.message.text()
    qtbot.waitUntil(lambda: "v2" in [c[0] for c in cells(page.panel.versions)], timeout=WAIT_MS)
    close_all(qtbot, window)


def test_promote_waits_for_approval_and_scale_and_stop_change_the_endpoint(
    qtbot, cluster, served, cluster_session, open_window
):
    cluster.admin.create_user("val", "val-password")
    cluster.admin.set_member("p", "val", "editor")
    cluster.admin.set_validator("p", "val")
    cluster.admin.request_alias("p", "clf", 1, "production", "first")
    validator = login(cluster.coordinator, "val", "val-password")
    validator.review("p", "clf", 1, True, "fine")
    validator.close()
    served.deploy("prod", alias="production")
    window = open_window(cluster_session)
    page = page_of(qtbot, window)
    qtbot.waitUntil(lambda: {"churn", "prod"} <= set(listed(page)), timeout=WAIT_MS)
    assert page.endpoints.selected_key() == "churn" and not page.promote_button.isEnabled()  # pinned to v1
    click_row(qtbot, page.endpoints, "prod")
    assert listed(page)["prod"]["Model"] == "clf @production" and page.promote_button.isEnabled()

    click(qtbot, page.promote_button)
    dialog = dialog_of(qtbot, page, PromoteDialog)
    assert isinstance(dialog, PromoteDialog) and dialog.version.currentText() == "v2"
    qtbot.keyClicks(dialog.why, "beats v1")
    click(qtbot, dialog.action)
    qtbot.waitUntil(lambda: "waits for approval" in page.message.text(), timeout=WAIT_MS)
    [request] = [r for r in cluster.admin.alias_requests("p", "clf") if r.state == "open"]
    assert (request.version, request.alias, request.message) == (2, "production", "beats v1")
    assert cluster.admin.get_model("p", "clf").aliases["production"] == 1  # not moved yet

    click(qtbot, page.scale_button)
    scale = dialog_of(qtbot, page, ScaleDialog)
    assert isinstance(scale, ScaleDialog)
    scale.replicas.setValue(2)
    click(qtbot, scale.action)
    qtbot.waitUntil(lambda: not scale.isVisible(), timeout=WAIT_MS)
    assert cluster.admin.get_deployment("prod").replicas == 2

    box = page.ask_stop()
    assert box is not None and "Stop endpoint prod" in box.text()
    click(qtbot, box.button(QMessageBox.StandardButton.Cancel))
    wait_idle(qtbot, window.runner)
    assert cluster.admin.get_deployment("prod").state == "active"
    click(qtbot, page.stop_button)
    assert page.confirmation is not None
    click(qtbot, action_button(page.confirmation))
    qtbot.waitUntil(lambda: listed(page)["prod"]["State"] == "stopped", timeout=WAIT_MS)
    assert cluster.admin.get_deployment("prod").state == "stopped"
    assert not page.traffic_button.isEnabled() and not page.stop_button.isEnabled()
    close_all(qtbot, window)
