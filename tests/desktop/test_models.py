"""The Models page against a real cluster: registering a version from a run's output, staging moving at
once, and the approval flow end to end across two people's windows — production requested by one user,
the requester's own rejection refused in the coordinator's words, a validator's approval in a second
session moving the alias, and the history answering "which version was production" before and after."""

from __future__ import annotations

import pytest

from kiln.core.runs import RunSpec
from kiln.desktop.pages.models.page import ModelsPage
from kiln.desktop.qt import Qt
from kiln.desktop.widgets.confirm import action_button
from kiln.desktop.window import MainWindow
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, cells, choose, click, click_row, click_tab, go_to, session_for
from tests.desktop.test_runs import close_all

MAKE_MODEL = "mkdir -p model && echo weights > model/w"


def finished_run(cluster, command: str = MAKE_MODEL) -> str:
    snap = push_folder(cluster, {"x": "x"})
    run = cluster.admin.submit_run(RunSpec("p", ("sh", "-c", command), snap, runtime="process"))
    assert str(cluster.wait_run(run.id).state) == "succeeded"
    return run.id


def models_page_of(qtbot, window: MainWindow) -> ModelsPage:
    page = go_to(qtbot, window, "Models")
    assert page is window.models_page
    qtbot.waitUntil(lambda: "loading" not in page.summary.text() and page.project == "p", timeout=WAIT_MS)
    return window.models_page


def aliases_of(page: ModelsPage, version: int) -> str:
    return next(c[1] for c in cells(page.versions) if c[0] == str(version))


@pytest.fixture
def people(cluster, tmp_path):
    """dev and val1: editors of p and both validators (so the requester's refusal is about requesting)."""
    for name in ("dev", "val1"):
        cluster.admin.create_user(name, f"{name}-password")
        cluster.admin.set_member("p", name, "editor")
        cluster.admin.set_validator("p", name)
    sessions = {
        n: session_for(cluster.coordinator, tmp_path / f"home-{n}", n, f"{n}-password") for n in ("dev", "val1")
    }
    yield sessions
    for s in sessions.values():
        s.close()


def test_a_version_registered_from_a_run_and_staging_moved_at_once(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    run_id = finished_run(cluster)
    window = open_window(cluster_session)
    page = models_page_of(qtbot, window)
    assert "no models in p yet" in page.summary.text() and not page.alias.request.isEnabled()
    form = page.register
    qtbot.keyClicks(form.run_id, run_id)
    qtbot.keyClicks(form.path, "missing")
    qtbot.keyClicks(form.name, "churn")
    click(qtbot, form.register)
    qtbot.waitUntil(lambda: "not registered" in form.message.text(), timeout=WAIT_MS)
    assert "has no 'missing'" in form.message.text()
    form.path.clear()
    qtbot.keyClicks(form.path, "model")
    click(qtbot, form.register)
    qtbot.waitUntil(lambda: page.versions.row_keys() == [1], timeout=WAIT_MS)
    assert "registered as churn v1" in form.message.text() and page.models.row_keys() == ["churn"]
    assert cells(page.versions)[0][2:4] == (run_id, "model")
    assert page.comments.entity == "model:p/churn@1"

    choose(qtbot, page.alias.alias, "staging")
    click(qtbot, page.alias.request)
    qtbot.waitUntil(lambda: aliases_of(page, 1) == "staging", timeout=WAIT_MS)
    assert "staging now points at version 1" in page.alias.message.text()
    assert cells(page.models)[0] == ("churn", "1", "staging → v1")
    click_tab(qtbot, page.tabs, "Alias history")
    assert [c[1:4] for c in cells(page.history.moves)] == [("staging", "1", "admin")]

    click_tab(qtbot, page.tabs, "Comments")
    qtbot.keyClicks(page.comments.text, "shadow-tested for a week")
    qtbot.keyClick(page.comments.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(page.comments.table.row_keys()) == 1, timeout=WAIT_MS)
    assert [c.text for c in cluster.admin.list_comments("model:p/churn@1")] == ["shadow-tested for a week"]

    click(qtbot, page.lineage)
    lineage = window.lineage_page
    qtbot.waitUntil(lambda: lineage.graph is not None and lineage.graph.root == "model:p/churn@1", timeout=WAIT_MS)
    assert f"run:{run_id}" in lineage.view.boxes
    close_all(qtbot, window)


def test_production_is_requested_refused_to_the_requester_and_approved_by_a_validator(
    qtbot, cluster, people, open_window
):
    cluster.agent("n1")
    cluster.admin.register_model(finished_run(cluster), "model", "churn")
    dev_window = open_window(people["dev"])
    dev = models_page_of(qtbot, dev_window)
    qtbot.waitUntil(lambda: dev.versions.row_keys() == [1], timeout=WAIT_MS)
    click_row(qtbot, dev.versions, 1)
    choose(qtbot, dev.alias.alias, "production")
    qtbot.keyClicks(dev.alias.why, "beats the baseline")
    click(qtbot, dev.alias.request)
    qtbot.waitUntil(lambda: "is open" in dev.alias.message.text(), timeout=WAIT_MS)
    assert "once 1 validator other than you approves" in dev.alias.message.text()
    requests = dev.requests
    qtbot.waitUntil(lambda: len(requests.table.row_keys()) == 1, timeout=WAIT_MS)
    assert cells(requests.table)[0][:6] == ("1", "production", "open", "dev", "0 of 1", "beats the baseline")
    assert aliases_of(dev, 1) == ""  # nothing moved yet

    click(qtbot, requests.reject)  # the requester may not judge their own request; the coordinator says so
    click(qtbot, action_button(requests.confirmation))
    qtbot.waitUntil(lambda: "could not reject" in requests.message.text(), timeout=WAIT_MS)
    assert "a requester cannot review their own request" in requests.message.text()
    assert cluster.admin.alias_requests("p", "churn")[0].state == "open"

    val_window = open_window(people["val1"])
    val = models_page_of(qtbot, val_window)
    qtbot.waitUntil(lambda: val.requests.selected() is not None, timeout=WAIT_MS)  # the open one, picked
    qtbot.keyClicks(val.requests.verdict, "checked the drift report")
    click(qtbot, val.requests.approve)
    click(qtbot, action_button(val.requests.confirmation))
    qtbot.waitUntil(lambda: aliases_of(val, 1) == "production", timeout=WAIT_MS)
    assert "approved: production now points at version 1" in val.requests.message.text()
    assert cells(val.requests.table)[0][2:5] == ("approved", "dev", "1 of 1")
    assert [c[:3] for c in cells(val.requests.reviews)] == [("val1", "approved", "checked the drift report")]
    assert cluster.admin.get_model("p", "churn").aliases == {"production": 1}

    click(qtbot, dev.refresh_button)  # the requester's window sees the move on Refresh
    qtbot.waitUntil(lambda: aliases_of(dev, 1) == "production", timeout=WAIT_MS)
    assert not dev.requests.approve.isEnabled()  # nothing is open any more

    history = val.history
    click_tab(qtbot, val.tabs, "Alias history")
    qtbot.waitUntil(lambda: [c[1:4] for c in cells(history.moves)] == [("production", "1", "val1")], timeout=WAIT_MS)
    qtbot.keyClick(history.at, Qt.Key.Key_Home)  # to the year
    qtbot.keyClick(history.at, Qt.Key.Key_Down)  # a year earlier: before the move
    click(qtbot, history.ask)
    qtbot.waitUntil(lambda: "no version was production" in history.answer.text(), timeout=WAIT_MS)
    assert history.then.row_keys() == []
    moved_at = cluster.admin.alias_history("p", "churn")[0].time
    while history.at_seconds() <= moved_at:  # a year on at a time, until after the move
        qtbot.keyClick(history.at, Qt.Key.Key_Up)
    click(qtbot, history.ask)
    qtbot.waitUntil(lambda: "production was version 1" in history.answer.text(), timeout=WAIT_MS)
    assert [c[:2] for c in cells(history.then)] == [("production", "1")]
    close_all(qtbot, dev_window)
    close_all(qtbot, val_window)


def test_the_approvals_policy_is_for_owners(qtbot, cluster, cluster_session, people, open_window):
    dev_window = open_window(people["dev"])
    dev = models_page_of(qtbot, dev_window)
    click_tab(qtbot, dev.tabs, "Policy")
    policy = dev.policy
    qtbot.waitUntil(lambda: policy.validators.row_keys() == ["dev", "val1"], timeout=WAIT_MS)
    qtbot.keyClick(policy.approvals, Qt.Key.Key_Up)
    click(qtbot, policy.set_approvals)
    qtbot.waitUntil(lambda: "refused" in policy.message.text(), timeout=WAIT_MS)
    admin_window = open_window(cluster_session)
    admin = models_page_of(qtbot, admin_window)
    click_tab(qtbot, admin.tabs, "Policy")
    qtbot.keyClick(admin.policy.approvals, Qt.Key.Key_Up)
    click(qtbot, admin.policy.set_approvals)
    qtbot.waitUntil(lambda: "now needs 2 approvals" in admin.policy.message.text(), timeout=WAIT_MS)
    click_row(qtbot, admin.policy.validators, "dev")
    assert admin.policy.user.text() == "dev"
    click(qtbot, admin.policy.remove)
    assert "Remove dev as a validator of p?" in admin.policy.confirmation.text()
    click(qtbot, action_button(admin.policy.confirmation))
    qtbot.waitUntil(lambda: admin.policy.validators.row_keys() == ["val1"], timeout=WAIT_MS)
    assert cluster.admin.get_project("p").validators == ("val1",)
    close_all(qtbot, dev_window)
    close_all(qtbot, admin_window)
