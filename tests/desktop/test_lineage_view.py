"""The lineage drawing read by a person, against a real cluster: boxes titled by what people call things (a
snapshot by its message, a dataset as "customers v1", a model with its alias, a run by its name and state)
with the full id on hover; relation names that cover no box and no other name; zoom (buttons, Ctrl+wheel)
and Fit, and a graph fitted when first drawn."""

from __future__ import annotations

import sys

from kiln.core.runs import RunSpec
from kiln.desktop.pages.lineage.graph import LineageView
from kiln.desktop.qt import QApplication, QPoint, QPointF, Qt, QWheelEvent
from kiln.sync.push import push
from tests.desktop.conftest import WAIT_MS, click, go_to
from tests.desktop.test_runs import close_all
from tests.treeutil import write

TRAIN = (
    "import os, kiln.track as kt\n"
    "kt.set_tag('name', 'baseline')\n"
    "os.makedirs('model', exist_ok=True); open('model/w', 'w').write('1')\n"
    "kt.log_model('model', name='churn')\n"
)


def pushed(cluster, name: str, files: dict[str, str], message: str) -> str:
    folder = cluster.tmp / name
    for rel, text in files.items():
        write(folder, rel, text)
    return push(cluster.admin, folder, "p", message, cluster.tmp / "push-cache").snapshot.id


def whole_graph_shown(view: LineageView) -> bool:
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    return all(shown.contains(box.sceneBoundingRect()) for box in view.boxes.values())


def wheel(view: LineageView, notches: int, modifiers: Qt.KeyboardModifier) -> None:
    at = QPointF(view.viewport().rect().center())
    event = QWheelEvent(
        at,
        QPointF(view.viewport().mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        modifiers,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)


def test_lineage_boxes_are_named_for_people_and_the_view_zooms_and_fits(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    data = pushed(cluster, "data", {"customers.csv": "id,churned\n1,0\n"}, "customer table, March export")
    dataset = cluster.admin.add_dataset_version("p", "customers", data)
    code = pushed(cluster, "code", {"train.py": TRAIN}, "train churn model\n\nwith the March customers")
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "train.py"), code, runtime="process", datasets=("customers:1",))
    )
    assert str(cluster.wait_run(run.id).state) == "succeeded"
    model = cluster.admin.register_model(run.id, "model", "churn")
    cluster.admin.request_alias("p", "churn", model.version, "staging")
    me, data_id, model_id = f"run:{run.id}", f"dataset:p/customers@{dataset.version}", f"model:p/churn@{model.version}"

    window = open_window(cluster_session)
    page = go_to(qtbot, window, "Lineage")
    qtbot.keyClicks(page.entity, me)
    click(qtbot, page.show_button)
    qtbot.waitUntil(lambda: page.graph is not None and page.graph.root == me, timeout=WAIT_MS)
    view = page.view
    titles = {node: item.text() for node, item in view.titles.items()}
    assert titles[data_id] == "customers v1"
    assert titles[f"snapshot:{code}"] == "train churn model"  # the message's first line
    assert titles[f"snapshot:{data}"] == "customer table, March export"
    assert titles[model_id] == "churn v1 · staging"
    assert titles[me] == "baseline (succeeded)"
    assert all(len(t) < 60 for t in titles.values())  # no raw 64-digit hash as a title
    for node in (data_id, model_id, me, f"snapshot:{code}"):
        assert node in view.boxes[node].toolTip()  # the full id, on hover
    assert f"snapshot:{code}" in view.boxes[f"snapshot:{code}"].toolTip()
    assert "around run baseline (succeeded)" in page.summary.text()

    patches = [label.parentItem().sceneBoundingRect() for label in view.edge_labels.values()]
    boxes = [box.sceneBoundingRect() for box in view.boxes.values()]
    assert {label.text() for label in view.edge_labels.values()} >= {"input", "produced", "content"}
    assert not any(p.intersects(b) for p in patches for b in boxes)  # no relation name covers a box
    assert not any(a.intersects(b) for i, a in enumerate(patches) for b in patches[i + 1 :])

    assert whole_graph_shown(view)  # fitted when drawn
    fitted = view.scale_factor
    click(qtbot, page.zoom_in)
    assert view.scale_factor > fitted
    click(qtbot, page.zoom_out)
    click(qtbot, page.zoom_out)
    assert view.scale_factor < fitted
    before = view.scale_factor
    wheel(view, 2, Qt.KeyboardModifier.ControlModifier)
    assert view.scale_factor > before
    zoomed = view.scale_factor
    wheel(view, 1, Qt.KeyboardModifier.NoModifier)  # the wheel alone scrolls
    assert view.scale_factor == zoomed
    for _ in range(6):
        click(qtbot, page.zoom_in)
    assert not whole_graph_shown(view)
    click(qtbot, page.fit)
    assert whole_graph_shown(view) and view.scale_factor <= 1.0
    close_all(qtbot, window)
