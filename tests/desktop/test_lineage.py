"""The Lineage page against a real cluster: a run with a dataset input and an output snapshot, opened from
its run page, drawn left to right with its relations; clicking an entity re-roots the graph on it, Back
returns, and clicking a run opens its run page."""

from __future__ import annotations

import sys

from kiln.core.runs import RunSpec
from kiln.desktop.pages.lineage.graph import LineageView
from kiln.desktop.qt import Qt
from tests.compute.conftest import push_folder
from tests.desktop.conftest import WAIT_MS, click, go_to
from tests.desktop.test_runs import close_all, open_run_page, runs_page_of

WRITE = "open('result.txt', 'w').write('made')\n"  # a new file: the output differs from the input


def click_node(qtbot, view: LineageView, node_id: str) -> None:
    view.ensureVisible(view.boxes[node_id])
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.centre_of(node_id))


def drawn(view: LineageView) -> tuple[set[str], set[tuple[str, str, str]]]:
    """The entities boxed and the relations written on the arrows, as shown."""
    labels = {(e.src, text.text(), e.dst) for e, text in view.edge_labels.items()}
    return set(view.boxes), labels


def test_a_runs_lineage_is_drawn_and_a_click_re_roots_it(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "cat,1\n"}))
    code = push_folder(cluster, {"train.py": WRITE})
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "train.py"), code, runtime="process", datasets=("images:1",))
    )
    done = cluster.wait_run(run.id)
    assert str(done.state) == "succeeded" and done.output_snapshot != code
    me, dataset = f"run:{run.id}", "dataset:p/images@1"
    data_snap, code_snap, out_snap = (f"snapshot:{s}" for s in (data.snapshot, code, done.output_snapshot))
    window = open_window(cluster_session)
    run_page = open_run_page(qtbot, runs_page_of(qtbot, window), run.id)
    click(qtbot, run_page.lineage_button)
    page = window.lineage_page
    assert window.pages.currentWidget() is page
    qtbot.waitUntil(lambda: page.graph is not None and page.graph.root == me, timeout=WAIT_MS)
    view = page.view
    boxes, relations = drawn(view)
    env = next(b for b in boxes if b.startswith("environment:"))  # what the run ran in
    assert boxes == {me, dataset, data_snap, code_snap, out_snap, env}
    assert relations == {
        (data_snap, "content", dataset),
        (dataset, "input", me),
        (code_snap, "input", me),
        (me, "output", out_snap),
        (env, "environment", me),
    }
    x = {n: view.boxes[n].pos().x() for n in boxes}
    assert x[data_snap] < x[dataset] < x[me] < x[out_snap] and x[code_snap] < x[me]  # sources on the left
    assert x[env] < x[me]
    assert page.comments.entity == me and run.id in page.details.text()

    run_page.close()
    click_node(qtbot, view, dataset)
    qtbot.waitUntil(lambda: page.graph.root == dataset, timeout=WAIT_MS)
    assert page.entity.text() == dataset and page.comments.entity == dataset
    assert {data_snap, dataset, me, out_snap} <= set(view.boxes) and page.back.isEnabled()

    click(qtbot, page.back)
    qtbot.waitUntil(lambda: page.graph.root == me, timeout=WAIT_MS)
    click_node(qtbot, view, me)  # a run: its run page opens, the graph stays
    qtbot.waitUntil(lambda: run.id in window.runs_page.run_pages, timeout=WAIT_MS)
    reopened = window.runs_page.run_pages[run.id]
    qtbot.waitUntil(reopened.isVisible, timeout=WAIT_MS)
    assert reopened is not run_page and page.graph.root == me
    close_all(qtbot, window)


def test_an_id_typed_with_a_direction_and_depth(qtbot, cluster, cluster_session, open_window):
    cluster.agent("n1")
    data = cluster.admin.add_dataset_version("p", "images", push_folder(cluster, {"labels.csv": "x\n"}))
    code = push_folder(cluster, {"train.py": WRITE})
    run = cluster.admin.submit_run(
        RunSpec("p", (sys.executable, "train.py"), code, runtime="process", datasets=("images:1",))
    )
    cluster.wait_run(run.id)
    window = open_window(cluster_session)
    page = go_to(qtbot, window, "Lineage")
    assert page is window.lineage_page
    qtbot.keyClicks(page.entity, "dataset:p/images@1")
    qtbot.keyClick(page.direction, Qt.Key.Key_Down)  # both -> up
    assert page.direction.currentText() == "up"
    click(qtbot, page.show_button)
    qtbot.waitUntil(lambda: page.graph is not None, timeout=WAIT_MS)
    assert set(page.view.boxes) == {"dataset:p/images@1", f"snapshot:{data.snapshot}"}
    page.entity.clear()
    qtbot.keyClicks(page.entity, "dataset:p/nothing@1")
    qtbot.keyClick(page.entity, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "could not read the lineage" in page.summary.text(), timeout=WAIT_MS)
    assert "nothing" in page.summary.text()
    close_all(qtbot, window)


def test_a_later_run_is_never_drawn_as_the_producer_of_an_earlier_runs_code(
    qtbot, cluster, cluster_session, open_window
):
    """A later run that fails after deleting a file leaves exactly the first run's code behind: the
    coordinator records no output edge for it (that content existed before it), so the first run's
    lineage shows its code as pushed, with nothing upstream of it."""
    cluster.agent("n1")
    code = push_folder(cluster, {"train.py": "pass\n"})
    first = cluster.admin.submit_run(RunSpec("p", (sys.executable, "train.py"), code, runtime="process"))
    assert str(cluster.wait_run(first.id).state) == "succeeded"
    later_code = push_folder(cluster, {"train.py": "pass\n", "extra.txt": "x"})
    delete = "import os; os.remove('extra.txt'); raise SystemExit(1)"
    later = cluster.admin.submit_run(RunSpec("p", (sys.executable, "-c", delete), later_code, runtime="process"))
    assert str(cluster.wait_run(later.id).state) == "failed"
    me, code_snap = f"run:{first.id}", f"snapshot:{code}"
    window = open_window(cluster_session)
    page = go_to(qtbot, window, "Lineage")
    qtbot.keyClicks(page.entity, me)
    click(qtbot, page.show_button)  # both directions, the default
    qtbot.waitUntil(lambda: page.graph is not None and page.graph.root == me, timeout=WAIT_MS)
    boxes, relations = drawn(page.view)
    env = next(b for b in boxes if b.startswith("environment:"))
    assert boxes == {me, code_snap, env}
    assert relations == {(code_snap, "input", me), (env, "environment", me)}
    click_node(qtbot, page.view, code_snap)  # the code's own lineage: who used it, nobody made it
    qtbot.waitUntil(lambda: page.graph.root == code_snap, timeout=WAIT_MS)
    boxes, relations = drawn(page.view)
    assert f"run:{later.id}" not in boxes and relations == {(code_snap, "input", me)}
    close_all(qtbot, window)
